"""Throughput of the torch body renderer (posecore.data.render) and of ImageDataset.get_batch.

    python benchmarks/bench_render.py [--threads 2] [--seconds 3] [--device cpu] [--grid /tmp/render_grid.png]

Prints images/s at 64 px and 256 px (target on CPU: >= 1,000 images/s at 64 px on 2 threads), as wall
clock and as process CPU time, with the facing cues of renderer VERSION 2 and without them (``cues=False``
draws the VERSION 1 bodies; target: the cues cost at most 20 %, ratio printed per resolution), (CPU time is the better guide on a shared, loaded machine). Poses are
varied demo poses; scenes cycle through lab / plain / studio / outdoor. OMP_WAIT_POLICY defaults to
PASSIVE here: on an oversubscribed machine, spinning OpenMP threads make the many small kernels of the
renderer up to 50x slower.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.camera import project  # noqa: E402
from posecore.data.dataset import PoseSet  # noqa: E402
from posecore.data.images import ImageDataset  # noqa: E402
from posecore.data.render import SCENES, demo_poses, render_samples  # noqa: E402


def make_poseset(n: int) -> PoseSet:
    P = demo_poses(n, seed=0)
    K = np.tile(np.array([1145.0, 1145.0, 500.0, 500.0], np.float32), (n, 1))
    scene = np.array(SCENES)[np.arange(n) % 4]
    return PoseSet.create(project(P.astype(np.float64), K), P, K, scene=scene, subject="S1")


def timeit(fn, seconds: float, device):
    fn()  # warm-up
    n, wall, cpu = 0, 0.0, 0.0
    while wall < seconds:
        if device.type == "cuda":
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        k = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        n += k
    return n / wall, n / max(cpu, 1e-9)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--grid", default="", help="also save a PNG grid of sample renders here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    ps = make_poseset(4096)
    print(f"device={dev} threads={torch.get_num_threads()} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.1f} torch={torch.__version__}")
    print(f"{'resolution':>10} {'batch':>6} {'what':<28} {'img/s wall':>11} {'img/s cpu':>10}")
    for R, batch in ((64, 256), (256, 32)):
        state = {"i": 0}

        def nxt():
            i = state["i"]
            state["i"] = (i + batch) % (len(ps) - batch)
            return np.arange(i, i + batch)

        def render():
            render_samples(ps, nxt(), R, seed=0, device=dev)
            return batch

        def render_v1():
            render_samples(ps, nxt(), R, seed=0, device=dev, cues=False)
            return batch
        ds = ImageDataset(ps, R, device=dev, augment=True)

        def dataset():
            ds.get_batch(nxt())
            return batch
        rates = {}
        for what, fn in (("render_samples", render), ("render_samples cues=False", render_v1),
                         ("ImageDataset.get_batch", dataset)):
            wall, cpu = timeit(fn, args.seconds, dev)
            rates[what] = cpu if dev.type == "cpu" else wall
            cpu_s = f"{cpu:10.0f}" if dev.type == "cpu" else f"{'-':>10}"
            print(f"{R:>10} {batch:>6} {what:<28} {wall:11.0f} {cpu_s}")
        ratio = rates["render_samples cues=False"] / rates["render_samples"]
        print(f"{R:>10} {'':>6} cues cost: time x{ratio:.2f} of VERSION 1 (target <= 1.20)")
    if args.grid:
        save_grid(args.grid)


def save_grid(path: str, n: int = 6):
    """Lab and each wild scene kind, at 64 px and 256 px, one row each."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    P = demo_poses(n * 4, seed=11)
    K = np.tile(np.array([1145.0, 1145.0, 500.0, 500.0], np.float32), (len(P), 1))
    scenes = np.repeat(np.array(SCENES), n)
    src = dict(poses_3d=P, intrinsics=K, scene=scenes)
    fig, axes = plt.subplots(8, n, figsize=(n * 2.0, 8 * 2.1))
    for k, R in enumerate((64, 256)):
        out = render_samples(src, None, R, seed=1, scale_jitter=0.1, shift_jitter=0.05)
        for i in range(len(P)):
            ax = axes[k * 4 + i // n, i % n]
            ax.imshow(out["images"][i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            ax.set_title(f"{scenes[i]} {R}px", fontsize=7)
            ax.axis("off")
    plt.tight_layout()
    fig.savefig(path, dpi=72)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
