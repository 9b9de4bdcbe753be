"""Convert your own BVH motion capture (any rig) to a PoseSet .npz through a joint-name mapping file.

    python data_scripts/prepare_bvh.py --data-root ~/mocap --mapping ~/mocap/mapping.json \
        --units cm --up +y --azimuth 0 --azimuth 90 [--split train --split test]

The mapping JSON maps each of posecore's 17 joint names to a BVH joint ("Hips"), a midpoint
("midpoint of Spine and Spine1"), an end site ("end of Head") or {"joint": ..., "offset": [x, y, z]};
see posecore/data/bvh_reader.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.data.real import prepare_main  # noqa: E402


def options(ap):
    ap.add_argument("--mapping", type=Path, default=None, help="joint-name mapping JSON (default <data-root>/mapping.json)")
    ap.add_argument("--units", default="cm", help="length unit of the BVH files: mm, cm, m, in, ... (default cm)")
    ap.add_argument("--up", default="+y", help="up axis of the BVH files: +y (default), +z, ..., or auto")
    ap.add_argument("--stride", type=int, default=1, help="keep every n-th frame")
    ap.add_argument("--azimuth", type=float, action="append", default=None, help="virtual camera azimuth(s), degrees")
    ap.add_argument("--elevation", type=float, default=10.0)
    ap.add_argument("--distance", type=float, default=4500.0, help="camera distance to the pelvis, mm")
    return lambda a: dict(mapping=a.mapping, units=a.units, up=a.up, stride=a.stride,
                          azimuths=tuple(a.azimuth or (0.0,)), elevation=a.elevation, distance=a.distance)


if __name__ == "__main__":
    sys.exit(prepare_main("bvh", __doc__, options))
