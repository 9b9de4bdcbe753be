"""``posecore lift`` on two large inputs: the peak resident memory (RSS) and wall time of the whole
command, a subprocess as a user runs it.

Inputs (made in a temporary folder from posecore-synth lab poses, tiled with a little jitter):

* ``coco``: a COCO keypoint results JSON (one person per image, 2 decimals) of about 200 MB;
* ``npy``: an ``.npy`` array of 10^6 poses (N, 17, 2) float32 in posecore's H36M order (136 MB).

Each runs ``python -m posecore.cli lift <file> --image-size W H --model martinez -o out.npz`` (the image
size makes the intrinsics known), lifted by the shipped Martinez lifter; the peak RSS is the child's
``ru_maxrss`` (one child per measurement, so the maximum is that child's own).

    .venv/bin/python benchmarks/bench_inputs.py [--coco-mb 200] [--npy-poses 1000000] [--only coco|npy]

Target: peak RSS <= 3 x the file size + 0.5 GB for each input, and no slower than before the
bounded-reading change (measured then: 200 MB COCO JSON 2.2 GB / 46 s, 136 MB .npy 2.75 GB / 64 s).
Run with ``PYTHONPATH=<another checkout>`` to measure another version of posecore.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def lab_poses(n: int, seed: int = 0):
    """(n, 17, 2) px poses and the image size (W, H): the synth lab camera's poses, tiled and jittered by
    up to 1 px so that no two are identical."""
    from posecore import data
    train = data.load("synth", "train")
    lab = train[train.camera == train.camera[0]]
    idx = np.arange(n) % len(lab)
    rng = np.random.default_rng(seed)
    p = np.asarray(lab.poses_2d, np.float64)[idx] + rng.uniform(-1, 1, (n, 1, 2))
    w, h = (int(v) for v in lab.image_size[0])
    return p, (w, h), lab, idx


def write_coco(path: Path, target_mb: float) -> None:
    """A COCO results JSON of about ``target_mb`` MB, written in chunks (the generator never holds it all)."""
    from posecore import keypoints as kp
    _, _, lab, _ = lab_poses(1)
    base = kp.coco17_from_h36m(lab.poses_3d, lab.intrinsics, lab.poses_2d)  # (L, 17, 3)
    per = len(",".join(["{:.2f}"] * 51).format(*base[0].ravel())) + 70  # bytes per result, roughly
    n = int(target_mb * 1e6 / per)
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        f.write("[")
        for start in range(0, n, 20_000):
            m = min(20_000, n - start)
            k = base[np.arange(start, start + m) % len(base)].copy()
            k[..., :2] += rng.uniform(-1, 1, (m, 1, 2))
            k = np.round(k, 2)
            parts = []
            for i in range(m):
                nums = ",".join(f"{v:.2f}" for v in k[i].ravel())
                parts.append(f'{{"image_id":{start + i},"category_id":1,"keypoints":[{nums}],"score":0.9}}')
            f.write(("," if start else "") + ",".join(parts))
        f.write("]")


def write_npy(path: Path, n: int) -> None:
    p, _, _, _ = lab_poses(n)
    np.save(path, p.astype(np.float32))


def run_lift(file: Path, size, tmp: Path):
    """(peak RSS GB, wall s) of ``posecore lift file`` in a fresh child; raises on failure."""
    out = tmp / "out.npz"
    if out.exists():
        out.unlink()
    argv = [sys.executable, "-m", "posecore.cli", "lift", str(file), "--image-size", str(size[0]), str(size[1]),
            "--model", "martinez", "-o", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    # a fresh grandchild measures one run: ru_maxrss of RUSAGE_CHILDREN is the largest child so far
    probe = ("import resource, subprocess, sys, time\n"
             "t0 = time.perf_counter()\n"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "dt = time.perf_counter() - t0\n"
             "sys.stderr.write(r.stderr[-2000:])\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt, r.returncode)\n")
    r = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env, cwd=tmp,
                       check=False)
    try:
        maxrss_kb, wall, rc = r.stdout.split()
    except ValueError:
        raise RuntimeError(f"the measurement failed: {r.stdout!r} {r.stderr[-2000:]}") from None
    if int(rc) != 0:
        raise RuntimeError(f"posecore lift failed ({rc}): {r.stderr.strip()[-2000:]}")
    return int(maxrss_kb) / 1024 ** 2, float(wall)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--coco-mb", type=float, default=200.0)
    ap.add_argument("--npy-poses", type=int, default=1_000_000)
    ap.add_argument("--only", choices=("coco", "npy"), default=None)
    args = ap.parse_args(argv)

    from posecore import api
    if not api.shipped("martinez").is_file():
        print(f"bench_inputs: {api.shipped('martinez')} is missing: run `make checkpoints`")
        return 1
    _, size, _, _ = lab_poses(1)
    failed = False
    with tempfile.TemporaryDirectory(prefix="posecore-bench-inputs-") as tmp:
        tmp = Path(tmp)
        inputs = []
        if args.only in (None, "coco"):
            inputs.append(("coco", tmp / "dets.json", lambda p: write_coco(p, args.coco_mb)))
        if args.only in (None, "npy"):
            inputs.append(("npy", tmp / "poses.npy", lambda p: write_npy(p, args.npy_poses)))
        for kind, path, make in inputs:
            make(path)
            mb = path.stat().st_size / 1e6
            target = 3 * mb / 1e3 + 0.5
            try:
                peak, wall = run_lift(path, size, tmp)
            except RuntimeError as e:
                print(f"large input: {kind} {mb:.0f} MB: FAILED: {e}")
                failed = True
                continue
            print(f"large input: {kind} {mb:.0f} MB: peak {peak:.2f} GB (target <= {target:.2f} GB), {wall:.1f} s"
                  + ("" if peak <= target else "  <- NOT met"), flush=True)
            path.unlink()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"({os.cpu_count()} cores, load average {load:.1f}; peak = ru_maxrss of the command)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
