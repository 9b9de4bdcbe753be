"""Throughput of the photo pipeline (posecore.data.photos): JPEG decode (reduced-scale draft decoding) +
crop (one bilinear affine warp, uint8) + augmentation (scale / shift jitter, rotation up to 30 degrees,
flip with left/right swapped) + Gaussian heatmap targets, at 256 px crops (64 px heatmaps) from
1000 x 1000 JPEG frames, through a torch DataLoader with ONE worker process (one core), batches of 32.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_photos.py [--images 1000] [--gpu-images-per-s X]

The frames are 16 rendered 1000 x 1000 JPEGs (quality 95; lab and in-the-wild scenes) referenced
``--images`` times in turn (so they are in the page cache: the figure is decode + crop, not disk).
Per core = images per CPU-second of the worker process (start-up included), so a shared machine does not
understate it; the wall-clock rate of the same run is printed beside it. Prints ``photo pipeline: N
images/s per core at 256 px`` and whether the target is met.

Target: >= 150 images/s per core. How many cores one GPU needs: the images per second the full
profile's training step consumes (Zhou's network at 256 px, batch 24, bf16 + channels_last, measured here
with CUDA via ``benchmarks/bench_hourglass.py``'s ``train_throughput``, or given as
``--gpu-images-per-s``) divided by the per-core figure.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.camera import project
from posecore.data import photo_fixtures as pf
from posecore.data.dataset import PoseSet
from posecore.data.photos import PhotoDataset
from posecore.data.render import demo_poses

TARGET = 150.0
RES = 256


def make_frames(folder: Path, n: int = 16):
    """``n`` rendered 1000 x 1000 JPEG frames and their PoseSet."""
    P = demo_poses(n, seed=3, distance=3500.0)
    K = np.tile(np.array([1145.0, 1145.0, 500.0, 500.0], np.float32), (n, 1))
    scenes = np.array([("lab", "plain", "studio", "outdoor")[i % 4] for i in range(n)])
    ps = PoseSet.create(project(P.astype(np.float64), K), P, K, image_size=[1000, 1000], scene=scenes)
    paths = []
    for i in range(n):
        img = pf.render_frames(P[i:i + 1], K[i:i + 1], [(1000, 1000)], scene=str(scenes[i]), seed=i)[0]
        paths.append(pf.save_jpeg(img, folder / f"frame_{i:06d}.jpg", quality=95))
    return ps, paths


def _worker_init(_):
    torch.set_num_threads(1)


def measure(ps, paths, n_images: int, workers: int = 1, batch: int = 32) -> dict:
    """Run ``n_images`` through a DataLoader with ``workers`` worker processes; returns the wall-clock
    rate after the first batch and the rate per CPU-second the workers used (their whole life, start-up
    included: ``getrusage(RUSAGE_CHILDREN)`` once they have exited) -- what one dedicated core delivers
    even when the machine is shared."""
    import resource
    idx = np.arange(n_images) % len(ps)
    ds = PhotoDataset(ps[idx], [str(paths[i]) for i in idx], resolution=RES, heatmap_resolution=RES // 4, augment=True,
                      flip=True, rotation=30.0, seed=0)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=ds.collate,
                                     worker_init_fn=_worker_init, prefetch_factor=4, persistent_workers=False)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    it = iter(dl)
    next(it)                                      # worker start-up and warm-up
    t, n = time.perf_counter(), 0
    for b in it:
        n += len(b["image"])
    wall = time.perf_counter() - t
    del it
    import gc
    gc.collect()
    time.sleep(0.5)                               # let the worker exit and be reaped
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return dict(wall=n / wall, cpu=n_images / cpu if cpu > 0 else float("nan"), cpu_s=cpu, load=os.getloadavg()[0])


def gpu_consumption() -> tuple[float | None, str]:
    if not torch.cuda.is_available():
        return None, "no CUDA device"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_hourglass import train_throughput

    from posecore.models.zhou import ZhouConfig, ZhouNet
    its = train_throughput(ZhouNet(ZhouConfig.paper(256)), 24, 10, torch.device("cuda"), autocast=True,
                           channels_last=True)
    return 24 * its, torch.cuda.get_device_name(0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--gpu-images-per-s", type=float, default=None,
                    help="images/s one GPU's full-profile training step consumes (default: measured with CUDA)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        ps, paths = make_frames(Path(d))
        m = measure(ps, paths, args.images, workers=1)
    per_core = m["cpu"]
    print(f"photo pipeline: {per_core:.0f} images/s per core at {RES} px")
    print(f"(1 DataLoader worker: {args.images} images in {m['cpu_s']:.2f} CPU-s of the worker; wall clock "
          f"{m['wall']:.0f} images/s with load average {m['load']:.1f} on {os.cpu_count()} cores)")
    print(f"target: >= {TARGET:.0f} images/s per core: {'met' if per_core >= TARGET else 'NOT met'}")
    res = dict(per_core=per_core, cpus=os.cpu_count())
    gpu, name = (args.gpu_images_per_s, "given") if args.gpu_images_per_s else gpu_consumption()
    if gpu:
        res.update(gpu_images_per_s=gpu, cores_per_gpu=math.ceil(gpu / per_core))
        print(f"full-profile training step ({name}): {gpu:.0f} images/s at 256 px (Zhou, batch 24, bf16): "
              f"{math.ceil(gpu / per_core)} cores per GPU to keep up")
    else:
        print(f"GPU consumption: not measured ({name}); pass --gpu-images-per-s to estimate the cores per GPU")
    return res


if __name__ == "__main__":
    main()
