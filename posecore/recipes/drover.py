"""Drover et al. 2018, how it trains: the per-profile configuration and the adversarial training of
the generator and discriminator from 2D poses alone. Networks and the random projection:
:mod:`posecore.models.drover`."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from .. import artefacts, profiles, train
from ..models import drover as D
from . import checkpoint_path
from .regression import batch_indices

# the behaviour version of Drover's training (posecore.artefacts: bump it when what it computes changes)
STAGE = artefacts.stage("drover", 1)


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = D.DroverConfig


def config(profile: str | None = None, **overrides) -> D.DroverConfig:
    """Paper sizes for ``full`` (fp32); on 2 CPU cores (``quick``) a 256-wide GAN with batch 4,096 for 400
    steps in bf16 autocast where the CPU has native bf16 (``precision='auto'``); ``smoke`` a toy GAN.
    Every profile uses the paper's equal learning rates (2e-4): with real and fake in one discriminator
    batch (see :func:`train_drover`) they train stably.

    Measured on the lab test (P-MPJPE, 14 joints, mean over actions, flat baseline 103.1 mm; 1 thread
    per run, 2 runs side by side; chapter 01's quick data):

    - batch 1,024, fp32 (the previous quick): 92.8 mm (86.2-99.9, seeds 0-2), ~100 s per generator;
    - batch 4,096, bf16: 82.3 / 84.7 / 90.0 (seeds 0-2; worst 0.87 x flat), ~190 s per generator;
      fp32 at the same size: 88.3 for seed 1 (bf16 84.7), ~370 s -- bf16 holds the metric within the
      seed spread at 0.46 x the step time (``benchmarks/bench_recipes.py``);
    - batch 8,192 for 200 steps (the same compute), bf16: 92.6 / 98.3 (seeds 0, 2): worse;
    - earlier, batch 1,024: 400 steps 93.3 mm, 1,000 steps 96.7 (longer is not better at this scale); a
      perspective-matched d = 6.28 (1 / mean head-root of the data) gave 91.1 and 87.7 (two seeds),
      within the seed spread, so the paper's d = 10 is kept."""
    cfg = profiles.pick(profile,
                        smoke=D.DroverConfig(width=32, batch_size=128, num_steps=10),
                        quick=D.DroverConfig(width=256, batch_size=4096, num_steps=400, precision="auto"),
                        full=D.DroverConfig())
    return profiles.override(cfg, **overrides)


def train_drover(train_set, cfg: D.DroverConfig, *, seed: int = 0, name: str = "drover", progress: bool = True):
    """Train Drover's generator and discriminator on a lab training PoseSet (its 2D poses feed the
    generator; real 2D = the same poses + ``cfg.extra_cameras`` virtual views of each 3D skeleton).
    The 3D labels are used only for those virtual views and for ``mm_per_unit`` (the one scalar that
    gives the scale-free output millimetres). Returns (generator, discriminator, history, info)."""
    s = train_set[train_set.has_3d]
    x_in = D.to_unit_camera(s.poses_2d, s.intrinsics)                # (N, 14, 2), unit focal
    scale = D.scale_factor(x_in, cfg.d)
    rng = np.random.default_rng(seed)
    real = x_in if not cfg.extra_cameras else np.concatenate(
        [x_in, D.virtual_views(s.poses_3d, cfg.extra_cameras, cfg.elevation, rng)])
    gen_in = torch.as_tensor(x_in * scale, dtype=torch.float32)
    real = torch.as_tensor(real * scale, dtype=torch.float32)
    noise = cfg.noise_px / float(np.mean(s.intrinsics[:, 0])) * scale  # px -> normalised units
    with torch.random.fork_rng(devices=[]):                           # initial weights: a function of seed only
        torch.manual_seed(seed)
        G, Dn = D.Generator(cfg), D.Discriminator(cfg)
    opt = {"G": torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999)),
           "D": torch.optim.Adam(Dn.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))}
    gi, ri = batch_indices(len(gen_in), cfg.batch_size, seed), batch_indices(len(real), cfg.batch_size, seed + 1)
    ce = nn.functional.cross_entropy
    precision = train.resolve_precision(cfg.precision)
    amp = lambda: train.autocast(precision)                            # the nets' forward passes only

    def batch_fn(step):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        x = gen_in[torch.as_tensor(gi(step))]
        if noise > 0:
            x = D.centre(x + noise * torch.randn(x.shape, generator=g))
        return x, real[torch.as_tensor(ri(step))], g

    def step_fn(batch, step):
        x, r, g = batch
        n = len(x)
        target = torch.cat([torch.ones(len(r), dtype=torch.long), torch.zeros(n, dtype=torch.long)])
        with torch.no_grad(), amp():
            z = G(x)
        fake, _ = D.random_projection(z.float(), cfg.d, cfg.elevation, g)   # the projection in fp32
        # real and fake pass through D in ONE batch: with separate batches, BatchNorm's batch statistics
        # alone tell them apart, D wins within a few hundred steps and the generator diverges
        with amp():
            logits_d = Dn(torch.cat([r, fake]))
        loss_d = ce(logits_d.float(), target)
        opt["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        opt["D"].step()
        with amp():
            z = G(x)
        fake, _ = D.random_projection(z.float(), cfg.d, cfg.elevation, g)
        with amp():
            logits = Dn(torch.cat([r, fake]))[len(r):].float()         # the same batch statistics for G's step
        loss_g = ce(logits, torch.ones(n, dtype=torch.long))         # non-saturating generator loss
        opt["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opt["G"].step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "acc_d": float((logits.argmax(1) == 0).float().mean())}

    config = dict(asdict(cfg), precision=precision, seed=seed, dataset=s.meta.get("dataset", ""),
                  data=artefacts.array_digest(gen_in, real, s.intrinsics))     # the data by its content
    ckpt = checkpoint_path(name, config, STAGE, precision)
    models = {"generator": G, "discriminator": Dn}

    def run():
        train.seed_everything(seed)
        return train.fit(step_fn, batch_fn, models=models, optimizers=opt, num_steps=cfg.num_steps,
                         checkpoint=ckpt, config=config, checkpoint_every=max(100, cfg.num_steps // 4),
                         desc=name, progress=progress)
    history = train.load_or_train(ckpt, models, run, config)
    G.eval(), Dn.eval()
    with torch.no_grad():                                             # the one scalar giving mm
        X = D.centre(G(gen_in[:20000]).double()).numpy()
    gt = s.poses_3d[:20000, list(D.JOINTS_14)]
    mm_per_unit = float(D.head_root(D.centre(gt)).mean() / D.head_root(X).mean())
    return G, Dn, history, {"scale": scale, "mm_per_unit": mm_per_unit}
