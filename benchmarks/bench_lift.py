"""``posecore lift`` on 10,000 poses: the wall time of the whole command, start-up included (a
subprocess, as a user runs it), best of 3.

Input: a COCO keypoint results file (one person per image) made from posecore-synth lab training
poses: the twelve limb joints and the nose (H36M joint 9) from the 2D poses, eyes and ears placed on
the head in 3D and projected. The command lifts them with each shipped lifter (``--model martinez``,
``--model wang``; the default is ``posecore.api.DEFAULT_MODEL``) and writes the posecore-lift-1 JSON,
once with the novelty score (the default) and once with ``--no-novelty``.

    .venv/bin/python benchmarks/bench_lift.py [--poses 10000] [--repeats 3]

Targets: the default model <= 5 s on 2 cores; the novelty score adds <= 20 % to the command's time.
Most of it is Python start-up and ``import torch`` (run ``python -X importtime -m posecore.cli lift
...`` to see it); the command imports plotly only for ``--html``.
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
TARGET_NOVELTY = 1.20      # with / without the novelty score


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
    missing = [str(api.shipped(k)) for k in api.SHIPPED if not api.shipped(k).is_file()]
    if missing:
        print(f"bench_lift: {', '.join(missing)} missing: run `make checkpoints`")
        return 1
    train = data.load("synth", "train")
    lab = train[train.camera == train.camera[0]]
    ps = lab[np.linspace(0, len(lab) - 1, args.poses).round().astype(int)] if len(lab) < args.poses else lab[:args.poses]
    exe = Path(sys.executable).with_name("posecore")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "posecore.cli"]
    w, h = (int(v) for v in ps.image_size[0])
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    with tempfile.TemporaryDirectory(prefix="posecore-bench-lift-") as tmp:
        dets, out = Path(tmp) / "dets.json", Path(tmp) / "lifted.json"
        dets.write_text(json.dumps(coco_results(ps)))
        size_mb = dets.stat().st_size / 1e6

        def timed(*extra):
            argv = cmd + ["lift", str(dets), "--image-size", str(w), str(h), "-o", str(out), "--force", *extra]
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp)
                times.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    raise SystemExit(f"bench_lift: the command failed ({r.returncode}): {r.stderr.strip()}")
            return min(times), times, json.loads(out.read_text())

        best = {}
        for model in api.SHIPPED:                 # interleaved: with and without the score, per model
            for novelty in (True, False):
                best[model, novelty], times, doc = timed("--model", model, *(() if novelty else ("--no-novelty",)))
                n = len(doc["poses_3d"])
                assert (doc["novelty"] is not None) == novelty
                print(f"posecore lift --model {model}{'' if novelty else ' --no-novelty'}: {n} poses "
                      f"({size_mb:.1f} MB COCO JSON) in {best[model, novelty]:.2f} s wall, start-up included "
                      f"(best of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)} s)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"({os.cpu_count()} cores, load average {load:.1f})")
    d = api.DEFAULT_MODEL
    print(f"target: default model ({d}) <= {TARGET_S:.0f} s: {best[d, True]:.2f} s -> "
          f"{'met' if best[d, True] <= TARGET_S else 'NOT met'}")
    for model in api.SHIPPED:
        ratio = best[model, True] / best[model, False]
        print(f"novelty score: {model} {ratio:.2f}x the time without it (target <= {TARGET_NOVELTY:.2f}x) -> "
              f"{'met' if ratio <= TARGET_NOVELTY else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
