"""Convert Human3.6M (VideoPose3D npz pair or the original CDF release) to PoseSet .npz files.

    python data_scripts/prepare_h36m.py --data-root ~/data/h36m [--cache-dir DIR] [--stride 5]

``--data-root`` holds ``data_3d_h36m.npz`` (+ ``data_2d_h36m_gt.npz``) or ``S*/MyPoseFeatures/...``;
nothing is written there. See book/datasets.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.data.real import prepare_main  # noqa: E402


def options(ap):
    ap.add_argument("--stride", type=int, default=None, help="keep every n-th frame (default: 5 train, 1 test)")
    ap.add_argument("--subjects", nargs="+", default=None, help="restrict to these subjects")
    ap.add_argument("--drop-corrupt", action="store_true", help="drop the view whose video is corrupt (S11 Directions)")
    return lambda a: {k: v for k, v in dict(stride=a.stride, subjects=a.subjects,
                                            drop_corrupt=a.drop_corrupt or None).items() if v is not None}


if __name__ == "__main__":
    sys.exit(prepare_main("h36m", __doc__, options))
