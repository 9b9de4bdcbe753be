"""The facing probe (chapter 00): how well a small classifier, trained for a fixed short budget on
lab-training crops, tells whether the torso faces the camera -- on held-out lab-test and wild-test
crops, for the renders with the facing cues of renderer VERSION 2 and without them (``cues=False``,
the VERSION 1 bodies). It measures the data: the label is read from the 3D pose
(:func:`posecore.data.render.facing`, the cosine between the torso's forward direction and the
direction to the camera), which no image network of the book is given.

- :class:`ProbeConfig` / :func:`config` -- crop size, steps, batch, evaluation size per profile.
- :func:`run` -- train one probe per renderer setting and score it (:func:`score`): accuracy (%) on crops whose
  facing is clear (``|cos| >= min_cos``: a body seen from the side faces neither way) and on all.

Crops are rendered afresh for every batch (new jitter and styles each step, seeded by the step), the
same person-centred crops as the backbone's (:func:`posecore.data.render.render_samples`), mirrored
with probability 1/2 (a mirrored body faces the same way), recoloured (:func:`recolour`: the lab
has five training outfits, so without it the probe learns those outfits' colours, not the facing --
measured: 99 % on held-out frames of the training subjects, chance on a test subject in a shirt colour
no training subject wears) and, with ``augment``, given the photometric changes and occluding patches
of the wild (:func:`photometric`, :func:`erase`). Development runs (quick, seed 0, VERSION 2 renders,
lab test / wild test): 90.1 / 62.5 % without them, 95.8 / 66.4 % with them, 98.5 / 69.4 % with them and
two convolutions per stage (the recipe; VERSION 1 renders 85.9 / 58.3 %).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .. import profiles, train
from ..data.render import facing, render_samples
from ..models.facing import FacingNet
from .images import eval_indices


@dataclass(frozen=True)
class ProbeConfig:
    """``resolution``: the crops' side (px, the backbone's); ``steps`` x ``batch_size`` training crops
    from the lab training split (Adam, ``lr``); ``n_eval`` lab-test and wild-test crops scored;
    ``min_cos``: the clear-facing threshold of the headline accuracy; ``depth``: convolutions per stage
    of :class:`~posecore.models.facing.FacingNet`; ``augment``: photometric changes and occluding
    patches on the training crops (besides the mirroring and recolouring, always on)."""
    resolution: int = 64
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    n_eval: int = 2000
    min_cos: float = 0.3
    seed: int = 0
    depth: int = 2
    augment: bool = True

    @classmethod
    def for_profile(cls, profile: str) -> "ProbeConfig":
        # quick: about 2.5 minutes per renderer setting on one CPU core (the issue allows 5)
        return profiles.pick(profile, smoke=cls(resolution=32, steps=4, batch_size=8, n_eval=32),
                             quick=cls(steps=1200, n_eval=1200), full=cls())


Config = ProbeConfig


def config(profile: str | None = None, **overrides) -> ProbeConfig:
    return profiles.override(ProbeConfig.for_profile(profiles.resolve(profile)), **overrides)


_PERMUTATIONS = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


def recolour(images: torch.Tensor, seed: int) -> torch.Tensor:
    """(B, 3, R, R) images in [0, 1] -> the same with their colour channels permuted, each channel's
    gain drawn from [0.6, 1.4] and, for 30 % of them, the values inverted (1 - x); deterministic in
    ``seed``. What changes the colours of clothes and backgrounds and keeps every shape and edge."""
    g = torch.Generator().manual_seed(int(seed))
    b = len(images)
    perm = _PERMUTATIONS[torch.randint(0, 6, (b,), generator=g)]                       # (B, 3)
    out = images.gather(1, perm[:, :, None, None].expand_as(images))
    out = (out * (0.6 + 0.8 * torch.rand(b, 3, 1, 1, generator=g))).clamp_(0, 1)
    inv = torch.rand(b, generator=g) < 0.3
    return torch.where(inv[:, None, None, None], 1 - out, out)


def photometric(images: torch.Tensor, seed: int) -> torch.Tensor:
    """(B, 3, R, R) images in [0, 1] -> the same under a contrast in [0.6, 1.3] about each image's mean,
    a brightness gain in [0.6, 1.4] and, for 30 % of them, grey (the channels' mean); deterministic in
    ``seed``. The wild's light and camera changes, which the lab's fixed light does not show."""
    g = torch.Generator().manual_seed(int(seed))
    b = len(images)
    gain = 0.6 + 0.8 * torch.rand(b, 1, 1, 1, generator=g)
    contrast = 0.6 + 0.7 * torch.rand(b, 1, 1, 1, generator=g)
    mean = images.mean((1, 2, 3), keepdim=True)
    out = ((images - mean) * contrast + mean) * gain
    grey = torch.rand(b, generator=g) < 0.3
    out = torch.where(grey[:, None, None, None], out.mean(1, keepdim=True).expand_as(out), out)
    return out.clamp_(0, 1)


def erase(images: torch.Tensor, seed: int, p: float = 0.35) -> torch.Tensor:
    """(B, 3, R, R) images -> the same with, in a fraction ``p`` of them, one rectangle (sides R/6 to R/2,
    anywhere in the crop) painted a random flat colour; deterministic in ``seed``. The wild's occluders
    (35 % of its renders), which the lab never shows: the probe must not need the whole body."""
    g = torch.Generator().manual_seed(int(seed))
    b, _, R, _ = images.shape
    hit = torch.rand(b, generator=g) < p
    wh = torch.randint(R // 6, R // 2, (b, 2), generator=g)                          # (B, 2) w, h px
    x0 = (torch.rand(b, generator=g) * (R - wh[:, 0] + 1)).long()
    y0 = (torch.rand(b, generator=g) * (R - wh[:, 1] + 1)).long()
    colour = torch.rand(b, 3, 1, 1, generator=g)
    ar = torch.arange(R)
    inx = (ar[None] >= x0[:, None]) & (ar[None] < (x0 + wh[:, 0])[:, None])          # (B, R) columns
    iny = (ar[None] >= y0[:, None]) & (ar[None] < (y0 + wh[:, 1])[:, None])          # (B, R) rows
    mask = (iny[:, :, None] & inx[:, None, :] & hit[:, None, None])[:, None]         # (B, 1, R, R)
    return torch.where(mask, colour.expand_as(images), images)


def _crops(ps, idx, cfg: ProbeConfig, seed: int, cues: bool, augment: bool):
    out = render_samples(ps, idx, cfg.resolution, seed, cues=cues,
                         scale_jitter=0.25 if augment else 0.0, shift_jitter=0.1 if augment else 0.0)
    return out["images"], torch.as_tensor(facing(out["poses_3d"].numpy()))


@torch.no_grad()
def score(net, images, cos, min_cos: float) -> dict:
    """Accuracy of probe ``net`` on (N, 3, R, R) ``images`` whose facing cosines are ``cos`` (N,):
    ``accuracy`` (%, crops with |cos| >= ``min_cos``), ``accuracy_all`` (%), ``n_clear``, ``n``."""
    net.eval()
    logits = torch.cat([net(images[s:s + 256]) for s in range(0, len(images), 256)])
    right = (logits > 0) == (cos > 0)
    clear = cos.abs() >= min_cos
    return {"accuracy": float(100 * right[clear].float().mean()), "accuracy_all": float(100 * right.float().mean()),
            "n_clear": int(clear.sum()), "n": len(cos)}


def run(cfg: ProbeConfig, splits: dict, cues=(False, True), progress: bool = True) -> dict:
    """Train and score one probe per ``cues`` setting. ``splits``: PoseSets ``train`` (lab training),
    ``test`` and ``wild_test`` (with 3D: the renderer draws them). Returns ``{cues: {'lab_test':
    {...}, 'wild_test': {...}, 'seconds': training time, 'net': the trained probe (eval mode)}}`` with
    ``accuracy`` (%, clear-facing crops),
    ``accuracy_all`` (%, every crop), ``n_clear`` and ``n`` per split."""
    from tqdm.auto import tqdm
    lab = splits["train"]
    evals = {name: eval_indices(len(splits[s]), cfg.n_eval, cfg.seed) for name, s in
             (("lab_test", "test"), ("wild_test", "wild_test"))}
    out = {}
    for c in cues:
        train.seed_everything(cfg.seed)
        net = FacingNet(depth=cfg.depth)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps, eta_min=0.05 * cfg.lr)
        t0 = time.perf_counter()
        for step in tqdm(range(cfg.steps), desc=f"facing probe (cues={c})", disable=not progress, mininterval=5):
            rng = np.random.default_rng([cfg.seed, 7707, step])
            images, cos = _crops(lab, rng.integers(0, len(lab), cfg.batch_size), cfg, 1000 + step, c, True)
            flip = torch.as_tensor(rng.random(len(images)) < 0.5)
            images = recolour(torch.where(flip[:, None, None, None], images.flip(-1), images), 10_000 + step)
            if cfg.augment:
                images = erase(photometric(images, 20_000 + step), 30_000 + step)
            keep = cos.abs() >= 0.05                   # a body seen exactly from the side has no answer
            net.train()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(images)[keep], (cos[keep] > 0).float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        res = {"seconds": time.perf_counter() - t0, "net": net.eval()}
        for name, s in (("lab_test", "test"), ("wild_test", "wild_test")):
            images, cos = _crops(splits[s], evals[name], cfg, cfg.seed, c, False)
            res[name] = score(net, images, cos, cfg.min_cos)
        out[c] = res
    return out
