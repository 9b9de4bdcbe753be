"""Benchmarks of the lifting chapters (plain script; prints figures).

* training throughput (samples/s) of the Martinez lifter (paper size: width 1024, batch 64) and of one
  Drover training step (discriminator + generator update) at batch 8,192, on the CPU;
* geometric search: closed form vs the paper's 1 mm scan (speed ratio, max root-depth difference mm);
* with CUDA: the Drover step at batch 32,768 (paper: 0.4 s on 8 Titan X; our goal <= 20 ms on one
  H100), optionally with bf16 autocast (--amp) and torch.compile (--compile).

    python benchmarks/bench_lifting.py [--threads N] [--steps K] [--amp] [--compile] [--quick]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from posecore import geometric_search as gs
from posecore.data.toy import toy_poseset
from posecore.models import drover
from posecore.models.martinez import MartinezConfig, MartinezNet, apply_max_norm


def _timed(fn, steps: int, sync=lambda: None) -> float:
    fn()                                                              # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return (time.perf_counter() - t0) / steps


def martinez_step(width: int, batch: int, device="cpu"):
    net = MartinezNet(MartinezConfig(width=width)).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.randn(batch, 34, device=device), torch.randn(batch, 48, device=device)

    def step():
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        apply_max_norm(net)
    return step


def drover_step(width: int, batch: int, device="cpu", amp=False, compile_=False):
    cfg = drover.DroverConfig(width=width, batch_size=batch)
    G, D = drover.Generator(cfg).to(device), drover.Discriminator(cfg).to(device)
    if compile_:
        G, D = torch.compile(G), torch.compile(D)
    oG, oD = torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4)
    x, r = 0.1 * torch.randn(batch, 14, 2, device=device), 0.1 * torch.randn(batch, 14, 2, device=device)
    ones = torch.ones(batch, dtype=torch.long, device=device)
    zeros = torch.zeros(batch, dtype=torch.long, device=device)
    ce = torch.nn.functional.cross_entropy
    ctx = (lambda: torch.autocast(device_type=str(device).split(":")[0], dtype=torch.bfloat16)) if amp \
        else (lambda: torch.autocast(device_type="cpu", enabled=False))

    def step():
        with ctx():
            with torch.no_grad():
                fake, _ = drover.random_projection(G(x), cfg.d)
            loss_d = ce(D(r), ones) + ce(D(fake), zeros)
        oD.zero_grad(set_to_none=True)
        loss_d.backward()
        oD.step()
        with ctx():
            fake, _ = drover.random_projection(G(x), cfg.d)
            loss_g = ce(D(fake), ones)
        oG.zero_grad(set_to_none=True)
        loss_g.backward()
        oG.step()
    return step


def bench_geometric_search(n: int):
    data = toy_poseset(n, seed=0)
    rel = data.root_relative_3d + np.random.default_rng(0).normal(0, 20, data.poses_3d.shape)
    rel[:, 0] = 0
    t0 = time.perf_counter(); Zs = gs.scan(rel, data.poses_2d, data.intrinsics); t_scan = time.perf_counter() - t0
    t0 = time.perf_counter(); Za = gs.closed_form(rel, data.poses_2d, data.intrinsics, polish_steps=0); t_alg = time.perf_counter() - t0
    t0 = time.perf_counter(); Zc = gs.closed_form(rel, data.poses_2d, data.intrinsics); t_cf = time.perf_counter() - t0
    err = lambda Z: gs.reprojection_error(rel, data.poses_2d, data.intrinsics, Z).mean()
    print(f"geometric search on {n} poses (20 mm pose noise; scan 500..20000 mm at 1 mm):")
    print(f"  scan                       {t_scan * 1e3:9.1f} ms  reprojection {err(Zs):.3f} px")
    print(f"  closed form (algebraic)    {t_alg * 1e3:9.3f} ms  reprojection {err(Za):.3f} px  "
          f"max |dZ| vs scan {np.abs(Za - Zs).max():7.2f} mm  speed ratio {t_scan / t_alg:,.0f}x")
    print(f"  closed form + 2 GN steps   {t_cf * 1e3:9.3f} ms  reprojection {err(Zc):.3f} px  "
          f"max |dZ| vs scan {np.abs(Zc - Zs).max():7.2f} mm  speed ratio {t_scan / t_cf:,.0f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--amp", action="store_true", help="bf16 autocast for the CUDA Drover step")
    ap.add_argument("--compile", action="store_true", help="torch.compile the CUDA Drover networks")
    ap.add_argument("--quick", action="store_true", help="fewer poses and steps (CI)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    steps = 2 if a.quick else a.steps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, CUDA {torch.cuda.is_available()}")
    s = _timed(martinez_step(1024, 64), steps * 4)
    print(f"Martinez lifter (width 1024, batch 64), CPU: {s * 1e3:.1f} ms/step = {64 / s:,.0f} samples/s")
    s = _timed(drover_step(1024, 8192), steps)
    print(f"Drover step (width 1024, batch 8192), CPU: {s:.2f} s/step = {8192 / s:,.0f} samples/s")
    bench_geometric_search(200 if a.quick else 1000)
    if torch.cuda.is_available():
        sync = torch.cuda.synchronize
        for amp, comp in {(False, False), (a.amp, a.compile)}:
            s = _timed(drover_step(1024, 32_768, "cuda", amp, comp), 20, sync)
            print(f"Drover step (width 1024, batch 32768), {torch.cuda.get_device_name()}, amp={amp}, "
                  f"compile={comp}: {s * 1e3:.1f} ms/step (paper: 400 ms on 8 Titan X; goal <= 20 ms)")
    else:
        print("CUDA not available: the GPU Drover step (batch 32768) was not measured")


if __name__ == "__main__":
    main()
