"""Convert the CMU mocap clips (BVH) beside the repo into the compact 17-joint motion file shipped with
posecore: ``posecore/data/assets/cmu_motion_h36m17.npz`` (20 fps, float32 mm, Z up).

Usage: python data_scripts/convert_cmu.py [--bvh-dir ../shared/data/cmu_mocap_bvh] [--out PATH] [--step 3]

Motion data from the CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), created with
funding from NSF EIA-0196217. Free for research; the data may not be resold, even converted.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from posecore.data.bvh import convert_cmu_clip  # noqa: E402

DEFAULT_BVH = ROOT.parent / "shared" / "data" / "cmu_mocap_bvh"
DEFAULT_OUT = ROOT / "posecore" / "data" / "assets" / "cmu_motion_h36m17.npz"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bvh-dir", type=Path, default=DEFAULT_BVH)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--step", type=int, default=3, help="keep every step-th frame of the 60 fps clips")
    args = ap.parse_args(argv)
    if not args.bvh_dir.is_dir():
        sys.exit(f"error: BVH folder not found: {args.bvh_dir}")
    if args.out.resolve().is_relative_to(args.bvh_dir.resolve()):
        sys.exit("error: refusing to write inside the input folder")
    desc = {}
    csv_path = args.bvh_dir / "CMU_data.csv"
    if csv_path.exists():
        with open(csv_path) as f:
            for row in csv.DictReader(f):
                desc[f"{int(row['Subject']):03d}_{int(row['Trial #']):02d}"] = row["Motion Description"]
    files = sorted(args.bvh_dir.glob("*.bvh"))
    if not files:
        sys.exit(f"error: no .bvh files in {args.bvh_dir}")
    poses, clip_ids, starts, fps = [], [], [0], None
    for path in tqdm(files, desc="convert BVH"):
        p, fps = convert_cmu_clip(path, step=args.step)
        poses.append(p)
        clip_ids.append(path.stem)
        starts.append(starts[-1] + len(p))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, poses=np.concatenate(poses).astype(np.float32), clip_ids=np.array(clip_ids),
                        clip_starts=np.array(starts, np.int64), fps=np.float32(fps),
                        descriptions=np.array(json.dumps(desc)),
                        attribution=np.array("CMU Graphics Lab Motion Capture Database, mocap.cs.cmu.edu; "
                                             "created with funding from NSF EIA-0196217"))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(files)} clips, "
          f"{starts[-1]} frames at {fps:.0f} fps")


if __name__ == "__main__":
    main()
