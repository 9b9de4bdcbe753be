"""Drover et al. 2018, how it trains: the per-profile configuration and the adversarial training of
the generator and discriminator from 2D poses alone. Networks and the random projection:
:mod:`posecore.models.drover`."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from .. import profiles, train
from ..models import drover as D
from . import checkpoint_path
from .regression import batch_indices


def config(profile: str | None = None, **overrides) -> D.DroverConfig:
    """Paper sizes for ``full``; on 2 CPU cores (``quick``) a 256-wide GAN with batch 1,024 for 400
    steps and a 10x smaller discriminator learning rate (with the paper's equal rates the
    discriminator wins within a few hundred steps at this scale); ``smoke`` a toy GAN."""
    cfg = profiles.pick(profile,
                        smoke=D.DroverConfig(width=32, batch_size=128, num_steps=10),
                        quick=D.DroverConfig(width=256, batch_size=1024, num_steps=400, lr_d=2e-5),
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
    G, Dn = D.Generator(cfg), D.Discriminator(cfg)
    opt = {"G": torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999)),
           "D": torch.optim.Adam(Dn.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))}
    gi, ri = batch_indices(len(gen_in), cfg.batch_size, seed), batch_indices(len(real), cfg.batch_size, seed + 1)
    ce = nn.functional.cross_entropy

    def batch_fn(step):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        x = gen_in[torch.as_tensor(gi(step))]
        if noise > 0:
            x = D.centre(x + noise * torch.randn(x.shape, generator=g))
        return x, real[torch.as_tensor(ri(step))], g

    def step_fn(batch, step):
        x, r, g = batch
        ones, zeros = torch.ones(len(x), dtype=torch.long), torch.zeros(len(x), dtype=torch.long)
        with torch.no_grad():
            fake, _ = D.random_projection(G(x), cfg.d, cfg.elevation, g)
        loss_d = ce(Dn(r), ones) + ce(Dn(fake), zeros)
        opt["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        opt["D"].step()
        fake, _ = D.random_projection(G(x), cfg.d, cfg.elevation, g)
        loss_g = ce(Dn(fake), ones)                                  # non-saturating generator loss
        opt["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opt["G"].step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

    config = dict(asdict(cfg), seed=seed, n=len(s), dataset=s.meta.get("dataset", ""), x_sum=float(x_in.sum()))
    ckpt = checkpoint_path(name, config)
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
