"""Supervised training of a Martinez-style regressor (shared by Martinez, Wang's two subnetworks, the
FBI paper's refiner and any later MLP on 2D poses): deterministic epoch-wise batches, L2 on
standardised targets (or the caller's loss), Adam with exponential learning-rate decay, max-norm after
each step, through :func:`posecore.train.fit`."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from .. import artefacts, train
from ..models.lifter import Standardised
from ..models.martinez import apply_max_norm
from . import checkpoint_path

# the behaviour version of the regression trainer (posecore.artefacts: bump it when what it computes changes)
REGRESSION = artefacts.stage("regression", 1)


def batch_indices(n: int, batch_size: int, seed: int):
    """``f(step) -> indices``: epoch-wise permutations of range(n), deterministic in (seed, step)."""
    per_epoch = max(1, n // batch_size)

    def indices(step: int) -> np.ndarray:
        epoch, k = divmod(step - 1, per_epoch)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        idx = perm[k * batch_size:(k + 1) * batch_size]
        return idx if len(idx) == batch_size else np.resize(perm, batch_size)
    return indices


def train_regressor(model: Standardised, x: np.ndarray, y: np.ndarray, cfg, *, seed: int = 0, name: str = "lifter",
                    config: dict | None = None, after_step=None, progress: bool = True,
                    stage: artefacts.Stage = REGRESSION, loss_fn=None, key_config: dict | None = None) -> list[dict]:
    """Train ``model`` on (N, D_in) -> (N, D_out) pairs; loads the finished checkpoint when present.
    ``cfg`` has lr, lr_decay, decay_steps, batch_size, num_steps, max_norm; ``stage``: the caller's
    :class:`~posecore.artefacts.Stage` (with :data:`REGRESSION` upstream), which keys the checkpoint
    together with ``config`` and the content of ``x`` and ``y`` (or with ``key_config`` alone, which
    must then hold all of them). ``loss_fn(step, xb, yb) -> (loss, logs)`` replaces the default
    loss, the mean squared error over the standardised targets (logged as ``loss``). Returns the
    history."""
    assert x.ndim == 2 and y.ndim == 2 and len(x) == len(y), f"train_regressor: x {x.shape}, y {y.shape}"
    config = key_config if key_config is not None else \
        dict(config or {}, **asdict(cfg), seed=seed, data=artefacts.array_digest(x, y))
    ckpt = checkpoint_path(name, config, stage)
    model.set_stats(x, y)
    X, Y = torch.as_tensor(x), torch.as_tensor(y)
    idx_fn = batch_indices(len(x), cfg.batch_size, seed)
    # fused Adam: ~10% faster per step on this CPU at equal metrics (benchmarks/bench_recipes.py)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay ** (1.0 / cfg.decay_steps))

    def step_fn(batch, step):
        xb, yb = batch
        if loss_fn is None:
            loss = ((model(xb, normalised_output=True) - model.normalise_y(yb)) ** 2).mean()
            logs = {"loss": loss.detach()}
        else:
            loss, logs = loss_fn(step, xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        apply_max_norm(model.net, cfg.max_norm)
        if after_step is not None:
            after_step(model)
        return {k: float(v) for k, v in logs.items()}

    def batch_fn(step):
        i = torch.as_tensor(idx_fn(step))
        return X[i], Y[i]

    def run():
        train.seed_everything(seed)
        return train.fit(step_fn, batch_fn, models={"model": model}, optimizers={"opt": opt},
                         schedulers={"lr": sched}, num_steps=cfg.num_steps, checkpoint=ckpt, config=config,
                         checkpoint_every=max(100, cfg.num_steps // 4), desc=name, progress=progress)
    history = train.load_or_train(ckpt, {"model": model}, run, config)
    model.eval()
    return history
