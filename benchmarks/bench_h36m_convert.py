"""Benchmark: convert a full-size synthetic Human3.6M (VideoPose3D format) npz pair.

Generates, in a temporary folder, ``data_3d_h36m.npz`` + ``data_2d_h36m_gt.npz`` of the real size
(7 labelled subjects x 30 sequences, ~900k mocap frames of 32 joints, 4 camera views of 2D =
~3.6M 2D poses; synthetic motion, no real data), then converts both protocol splits (train: every
5th frame, test: every frame) through :func:`posecore.data.real.load_dataset` with a cache folder,
in a child process so that its wall time and peak memory (ru_maxrss) are the conversion's alone.

    python benchmarks/bench_h36m_convert.py [--frames 900000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def generate(folder: Path, total_frames: int, seed: int = 0) -> dict:
    from posecore.data.fixtures import H36M_SEQUENCES, write_h36m_npz
    subjects = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
    mean = total_frames / (len(subjects) * len(H36M_SEQUENCES))
    rng = np.random.default_rng(seed)
    lengths = {(s, a): int(rng.uniform(0.7, 1.3) * mean) for s in subjects for a in H36M_SEQUENCES}
    t0 = time.perf_counter()
    p3, p2, _ = write_h36m_npz(folder, subjects, H36M_SEQUENCES, n_frames=lambda s, a: lengths[(s, a)], seed=seed)
    return dict(generate_s=round(time.perf_counter() - t0, 1), frames_3d=sum(lengths.values()),
                poses_2d=4 * sum(lengths.values()), size_3d_mb=round(p3.stat().st_size / 2**20, 1),
                size_2d_mb=round(p2.stat().st_size / 2**20, 1))


def convert(folder: Path, cache: Path) -> dict:
    from posecore.data.real import load_dataset
    out = {}
    t_all = time.perf_counter()
    for split in ("train", "test"):
        t0 = time.perf_counter()
        ps = load_dataset("h36m", split, folder, cache_dir=cache)
        out[split] = dict(samples=len(ps), seconds=round(time.perf_counter() - t0, 1))
        del ps
    out["total_s"] = round(time.perf_counter() - t_all, 1)
    t0 = time.perf_counter()
    ps = load_dataset("h36m", "test", folder, cache_dir=cache)  # second call: served from the cache
    out["cached_test_load_s"] = round(time.perf_counter() - t0, 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["cache_mb"] = round(sum(p.stat().st_size for p in cache.glob("*.npz")) / 2**20, 1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=900_000, help="total 3D mocap frames (default 900k)")
    ap.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    ap.add_argument("--convert-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.convert_only is not None:
        with tempfile.TemporaryDirectory() as cache:
            print(json.dumps(convert(args.convert_only, Path(cache))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "h36m"
        gen = generate(folder, args.frames)
        print("generated:", json.dumps(gen), flush=True)
        r = subprocess.run([sys.executable, __file__, "--convert-only", str(folder)], capture_output=True, text=True)
        if r.returncode:
            print(r.stdout, r.stderr, file=sys.stderr)
            raise SystemExit(r.returncode)
        print("converted:", r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
