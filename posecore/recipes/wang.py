"""Wang et al. 2019, how the lifting half trains: the per-profile configuration, the training of the
two subnetworks (view synthesis, then reconstruction on the frozen synthesis), and the label
generator run on a 2D-only split. Networks and geometric search: :mod:`posecore.models.wang`,
:mod:`posecore.geometric_search`."""
from __future__ import annotations

import numpy as np
import torch

from .. import geometric_search as gs
from .. import artefacts, profiles
from ..models.lifter import lifter_input, predict, to_target
from ..models.wang import J2, WangConfig, WangLifter, right_view, sized
from . import martinez
from .regression import REGRESSION, train_regressor

# the behaviour versions of Wang's two subnetworks (posecore.artefacts); the reconstruction starts
# from the synthesis network's outputs
SYNTH = artefacts.stage("wang-synth", 1, (REGRESSION,))
RECON = artefacts.stage("wang-recon", 1, (SYNTH,))


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = WangConfig


def config(profile: str | None = None, **overrides) -> WangConfig:
    """Both subnetworks at the Martinez recipe's size for the profile (:func:`martinez.config`), the
    paper's dx = 500 mm and the closed-form geometric search. ``overrides``: WangConfig fields.

    Choices where the paper differs or is vague: the paper trains with SGD-style momentum (0.9 / 0.99)
    and weight decay 1e-4 and normalises coordinates to [-1, 1]; we train both subnetworks with the
    Martinez recipe (Adam, exponential decay, max-norm) on per-coordinate standardised inputs, so that
    Martinez and the stereo pipeline differ only in the stereo idea."""
    return profiles.override(WangConfig(dx=500.0, net=martinez.config(profile)), **overrides)


def train_wang(train_set, cfg: WangConfig, *, seed: int = 0, name: str = "wang", oracle: bool = False,
               progress: bool = True):
    """Train both subnetworks on the 3D-labelled samples of ``train_set``: the synthesis net on the true
    right views, then the reconstruction net on its frozen outputs (the paper) -- or, with ``oracle``,
    on the true right views (a diagnostic upper bound: evaluate it with ``reconstruct(left, right_2d=true
    right view)``). Returns (WangLifter, histories)."""
    s = train_set[train_set.has_3d]
    left = lifter_input(s.poses_2d, s.intrinsics, cfg.norm)                          # (N, 34)
    right = lifter_input(right_view(s.poses_3d, s.intrinsics, cfg.dx), s.intrinsics, cfg.norm)  # (N, 34)
    with torch.random.fork_rng(devices=[]):                           # initial weights: a function of seed only
        torch.manual_seed(seed)
        lifter = WangLifter(cfg)
    meta = {"dataset": s.meta.get("dataset", ""), "dx": cfg.dx, "norm": cfg.norm, "stereo": cfg.stereo}
    target = lifter.second_input(left, right)                                          # right view or disparity
    h_syn = train_regressor(lifter.synth, left, target, sized(cfg.net, J2, J2), seed=seed, name=f"{name}-synth",
                            config=meta, progress=progress, stage=SYNTH)
    second = target if oracle else predict(lifter.synth, left)                         # frozen synthesis
    x = np.concatenate([left, second], 1)                                              # (N, 68)
    y = to_target(s.poses_3d)
    h_rec = train_regressor(lifter.recon, x, y, sized(cfg.net, 2 * J2, y.shape[1]), seed=seed + 1,
                            name=f"{name}-recon", config=dict(meta, oracle=oracle), progress=progress,
                            stage=RECON)
    return lifter, {"synth": h_syn, "recon": h_rec}


def generate_labels(lifter: WangLifter, poses_2d, intrinsics):
    """The label generator on 2D-only samples: reconstruction + closed-form geometric search. Returns
    (labels (M, 17, 3) absolute camera-space mm of the valid samples, valid (N,) bool, Z (N,) root depths
    with NaN where no valid depth exists, rel (N, 17, 3) the root-relative reconstructions)."""
    rel = lifter.reconstruct(poses_2d, intrinsics=intrinsics)
    poses, Z = gs.refine_where_valid(rel, poses_2d, intrinsics)
    valid = np.isfinite(Z)
    return poses[valid].astype(np.float32), valid, Z, rel


__all__ = ["config", "train_wang", "generate_labels", "WangConfig"]
