"""Benchmark: small networks trained one after the other (with 1 torch thread, as the lifting chapters
did, and with one thread per core) vs side by side in single-thread workers
(:func:`posecore.parallel.prefetch`), at the quick profile's sizes (plain script; prints figures; run
by `make bench`).

For Martinez (width 512, batch 256) and Drover (width 256, batch 1,024) it trains ``--nets`` networks
of ``--steps`` steps each way, in fresh checkpoint folders, and prints the wall time of each way and
the ratios (> 1: the workers are faster; worker start-up included).

    python benchmarks/bench_parallel.py [--nets 2] [--steps 200] [--gan-steps 40]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from posecore import data  # noqa: E402
from posecore.parallel import Call, prefetch  # noqa: E402
from posecore.recipes import drover as drover_recipe  # noqa: E402
from posecore.recipes import martinez as martinez_recipe  # noqa: E402


def _timed(calls, parallel: bool, threads: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        os.environ["POSECORE_CHECKPOINTS"] = d
        t = time.perf_counter()
        if parallel:
            prefetch(calls, workers=len(calls), threads=1, progress=False)
        else:
            torch.set_num_threads(threads)
            for c in calls:
                c.fn(*c.args, **c.kwargs)
        return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nets", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200, help="Martinez steps per network")
    ap.add_argument("--gan-steps", type=int, default=40, help="Drover steps per network")
    a = ap.parse_args()
    train_set = data.load("synth", "train")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} cores; {a.nets} networks each way")
    rows = []
    for name, fn, cfg, steps in (
            ("Martinez", martinez_recipe.train_lifter, martinez_recipe.config("quick", num_steps=a.steps), a.steps),
            ("Drover", drover_recipe.train_drover, drover_recipe.config("quick", num_steps=a.gan_steps), a.gan_steps)):
        extra = {"norm": "camera"} if name == "Martinez" else {}
        calls = [Call(fn, (train_set, cfg), dict(seed=s, name=f"bench-{name}", progress=False, **extra), f"{name} {s}")
                 for s in range(a.nets)]
        one = _timed(calls, False, 1)
        seq = _timed(calls, False, min(a.nets, cores))
        par = _timed(calls, True, 1)
        rows.append((name, steps, one, seq, par))
        print(f"{name:9s} {steps:4d} steps x {a.nets}: one after another {one:6.1f} s (1 thread), {seq:6.1f} s "
              f"({min(a.nets, cores)} threads); workers {par:6.1f} s; ratios {one / par:.2f} / {seq / par:.2f}",
              flush=True)
    return rows


if __name__ == "__main__":
    main()
