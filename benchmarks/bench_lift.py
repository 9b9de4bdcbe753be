"""``posecore lift`` on 10,000 poses: the wall time of the whole command, start-up included (a
subprocess, as a user runs it), best of 3.

Input: a COCO keypoint results file (one person per image) made from posecore-synth lab training
poses: the twelve limb joints and the nose (H36M joint 9) from the 2D poses, eyes and ears placed on
the head in 3D and projected. The command lifts them with the shipped Martinez lifter
(``posecore/weights/martinez.pt``) and writes the posecore-lift-1 JSON.

    .venv/bin/python benchmarks/bench_lift.py [--poses 10000] [--repeats 3]

Target: <= 5 s on 2 cores. Most of it is Python start-up and ``import torch`` (run ``python -X
importtime -m posecore.cli lift ...`` to see it); the command imports plotly only for ``--html``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S = 5.0


def coco_results(ps) -> list:
    """COCO results from a PoseSet (keypoints.coco17_from_h36m: limbs from the 2D poses, a synthetic face)."""
    from posecore import keypoints as kp
    return kp.coco_results(kp.coco17_from_h36m(ps.poses_3d, ps.intrinsics, ps.poses_2d))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--poses", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from posecore import api, data
    if not api.shipped("martinez").is_file():
        print(f"bench_lift: {api.shipped('martinez')} is missing: run `make checkpoints`")
        return 1
    train = data.load("synth", "train")
    lab = train[train.camera == train.camera[0]]
    ps = lab[np.linspace(0, len(lab) - 1, args.poses).round().astype(int)] if len(lab) < args.poses else lab[:args.poses]
    exe = Path(sys.executable).with_name("posecore")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "posecore.cli"]
    w, h = (int(v) for v in ps.image_size[0])
    with tempfile.TemporaryDirectory(prefix="posecore-bench-lift-") as tmp:
        dets, out = Path(tmp) / "dets.json", Path(tmp) / "lifted.json"
        dets.write_text(json.dumps(coco_results(ps)))
        argv = cmd + ["lift", str(dets), "--image-size", str(w), str(h), "-o", str(out), "--force"]
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp)
            times.append(time.perf_counter() - t0)
            if r.returncode != 0:
                print(f"bench_lift: the command failed ({r.returncode}): {r.stderr.strip()}")
                return 1
        doc = json.loads(out.read_text())
        n = len(doc["poses_3d"])
        size_mb = dets.stat().st_size / 1e6
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    best = min(times)
    print(f"posecore lift: {n} poses ({size_mb:.1f} MB COCO JSON) in {best:.2f} s wall, start-up included "
          f"(best of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)} s; {os.cpu_count()} cores, "
          f"load average {load:.1f})")
    print(f"target: <= {TARGET_S:.0f} s -> {'met' if best <= TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
