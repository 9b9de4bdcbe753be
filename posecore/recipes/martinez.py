"""Martinez et al. 2017, how it trains: the per-profile configuration and the supervised training of
a lifter on the 3D-labelled samples of a :class:`~posecore.data.PoseSet`. The network is
:mod:`posecore.models.martinez`; the loop is :func:`posecore.recipes.regression.train_regressor`."""
from __future__ import annotations

import torch

from .. import artefacts, profiles
from ..models.lifter import Standardised, lifter_input, to_target
from ..models.martinez import MartinezConfig, MartinezNet
from .regression import REGRESSION, train_regressor

# the behaviour version of how a Martinez lifter is built and fed (posecore.artefacts)
STAGE = artefacts.stage("martinez", 1, (REGRESSION,))


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = MartinezConfig


def config(profile: str | None = None, **overrides) -> MartinezConfig:
    """The lifter for a run profile: the paper's sizes for ``full``; on CPU (``quick``) a 512-wide net
    with batch 256 and 1,500 steps (a 1024-wide net costs ~4x more per step and did not fit a
    chapter's few-minute budget on 2 cores); ``smoke`` a toy net. ``overrides``: explicit field values
    (None keeps the profile's)."""
    cfg = profiles.pick(profile,
                        smoke=MartinezConfig(width=32, batch_size=64, num_steps=20, decay_steps=1000),
                        quick=MartinezConfig(width=512, batch_size=256, num_steps=1500, decay_steps=2000),
                        full=MartinezConfig())
    return profiles.override(cfg, **overrides)


def train_lifter(train_set, cfg: MartinezConfig, *, seed: int = 0, name: str = "martinez", norm: str = "pixel",
                 progress: bool = True):
    """A Martinez lifter (2D -> root-relative 3D mm) trained on the 3D-labelled samples of a PoseSet.
    ``norm``: the 2D input, 'pixel' (the paper) or 'camera' (normalised by each sample's intrinsics).
    Returns (model, history)."""
    s = train_set[train_set.has_3d]
    x = lifter_input(s.poses_2d, s.intrinsics, norm)                  # (N, 34)
    y = to_target(s.poses_3d)                                         # (N, 48)
    with torch.random.fork_rng(devices=[]):                           # initial weights: a function of seed only
        torch.manual_seed(seed)
        model = Standardised(MartinezNet(cfg), x.shape[1], y.shape[1])
    meta = {"dataset": s.meta.get("dataset", "")} | ({"norm": norm} if norm != "pixel" else {})
    hist = train_regressor(model, x, y, cfg, seed=seed, name=name, progress=progress, config=meta, stage=STAGE)
    return model, hist
