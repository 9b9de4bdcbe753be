"""FBI (ECCV'18 3D pose challenge): multimodal depth supervision with forward/backward bone information.

The paper's generator has two independent convNets on the person crop: an *explicit* depth branch
(one depth per 2D joint, a coarse 3D pose -- in posecore chapter 05/07's hourglass + depth regressor)
and an *implicit* one predicting the **FBI** of 14 bones: for each bone, is it *definitely forward*
(its child joint nearer the camera), *definitely backward*, or *possibly parallel* to the image
plane (a one-hot 3-vector per bone). A refinement regressor (two cascaded Martinez blocks) maps
[2D, coarse 3D, FBI] to the final 3D pose, trained with the paper's weighted loss (Eqs. 1-2).

This module holds the pure maths and the networks only:

- :data:`FBI_BONES` / :func:`fbi_labels` / :func:`one_hot` -- the encoding (our bone list and
  "parallel" rule; the paper defers both to its ref. [4]).
- :class:`FBINet` -- the implicit branch: a stacked hourglass + Zhou's regressor head with 14 x 3
  logits.
- :func:`weighted_regression_loss` -- paper Eqs. 1-2.
- :func:`refiner_input` -- the refinement regressor's input vector from its parts.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton import NUM_JOINTS
from .hourglass import HourglassConfig, StackedHourglass
from .zhou import DepthRegressor

# --- the encoding ----------------------------------------------------------------------------------
# 14 bones (parent, child) of the H36M-17 skeleton: posecore's 16 bones with pelvis-spine-thorax merged
# into one torso bone and thorax-neck-head into one head bone (the paper's 14; its list is in ref. [4]).
FBI_BONES = (
    (0, 8),     # torso: pelvis -> thorax
    (8, 10),    # head: thorax -> head top
    (8, 11),    # left shoulder
    (11, 12),   # left upper arm
    (12, 13),   # left lower arm
    (8, 14),    # right shoulder
    (14, 15),   # right upper arm
    (15, 16),   # right lower arm
    (0, 4),     # left hip
    (4, 5),     # left upper leg
    (5, 6),     # left lower leg
    (0, 1),     # right hip
    (1, 2),     # right upper leg
    (2, 3),     # right lower leg
)
FBI_BONE_NAMES = ("torso", "head", "l_shoulder", "l_upper_arm", "l_lower_arm", "r_shoulder", "r_upper_arm",
                  "r_lower_arm", "l_hip", "l_upper_leg", "l_lower_leg", "r_hip", "r_upper_leg", "r_lower_leg")
NUM_BONES = len(FBI_BONES)                   # 14
STATES = ("forward", "backward", "parallel")  # the j = 0, 1, 2 of the paper's one-hot f_i
FORWARD, BACKWARD, PARALLEL = 0, 1, 2
DEFAULT_TAU_DEG = 10.0


def bone_sines(poses_3d) -> np.ndarray:
    """(N, 17, 3) camera-frame 3D poses (mm, z away from the camera; any root) -> (N, 14) sine of each
    FBI bone's angle to the image plane, ``(z_child - z_parent) / |child - parent|`` (negative: the
    child is nearer the camera). A zero-length bone gives 0 ("parallel")."""
    p = np.asarray(poses_3d, np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"FBI labels need (N, {NUM_JOINTS}, 3) 3D poses, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("FBI labels: the 3D poses contain NaN or inf (a sample without 3D label?)")
    par, chi = [b[0] for b in FBI_BONES], [b[1] for b in FBI_BONES]
    v = p[:, chi] - p[:, par]                                              # (N, 14, 3) bone vectors
    n = np.linalg.norm(v, axis=-1)
    return np.divide(v[..., 2], n, out=np.zeros_like(n), where=n > 0)


def fbi_labels(poses_3d, tau_deg: float = DEFAULT_TAU_DEG) -> np.ndarray:
    """(N, 17, 3) camera-frame 3D poses -> (N, 14) int64 FBI states: FORWARD (0) if the bone's child
    is nearer the camera by more than ``tau_deg`` degrees out of the image plane (sine < -sin tau),
    BACKWARD (1) if farther (sine > sin tau), PARALLEL (2) otherwise. Only depth differences matter,
    so root-relative poses give the same labels."""
    if not 0.0 <= tau_deg < 90.0:
        raise ValueError(f"fbi_labels: tau_deg must be in [0, 90), got {tau_deg}")
    s = bone_sines(poses_3d)
    t = math.sin(math.radians(tau_deg))
    out = np.full(s.shape, PARALLEL, np.int64)
    out[s < -t] = FORWARD
    out[s > t] = BACKWARD
    return out


def one_hot(labels) -> np.ndarray:
    """(N, 14) states -> (N, 14, 3) float32 one-hot (the paper's F = {f_1 .. f_14})."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.shape[1] != NUM_BONES or lab.min(initial=0) < 0 or lab.max(initial=0) > 2:
        raise ValueError(f"one_hot: expected (N, {NUM_BONES}) states in {{0, 1, 2}}, got shape {lab.shape}")
    return np.eye(3, dtype=np.float32)[lab]


def accuracy(pred_labels, true_labels) -> dict:
    """FBI classification accuracy (%): ``overall``, ``per_bone`` {name: %} and ``per_state`` {state: %
    of the samples whose true state it is} ((N, 14) int arrays)."""
    p, t = np.asarray(pred_labels), np.asarray(true_labels)
    if p.shape != t.shape or p.ndim != 2 or p.shape[1] != NUM_BONES:
        raise ValueError(f"FBI accuracy: predictions {p.shape} and labels {t.shape} must both be (N, {NUM_BONES})")
    ok = p == t
    return dict(overall=100.0 * float(ok.mean()),
                per_bone={n: 100.0 * float(ok[:, i].mean()) for i, n in enumerate(FBI_BONE_NAMES)},
                per_state={s: 100.0 * float(ok[t == k].mean()) if (t == k).any() else float("nan")
                           for k, s in enumerate(STATES)},
                frequency={s: 100.0 * float((t == k).mean()) for k, s in enumerate(STATES)})


# --- the implicit (FBI) branch ----------------------------------------------------------------------
@dataclass(frozen=True)
class FBINetConfig:
    """The FBI branch: a stacked hourglass (independent of the explicit branch's) and Zhou's
    regressor head (``reg_blocks`` x (``reg_modules`` residual modules, max-pool), global average
    pooling, linear) with 14 x 3 outputs. (The paper: "the same convNets as in [4]", not given.)"""
    hourglass: HourglassConfig = field(default_factory=HourglassConfig)
    reg_modules: int = 1
    reg_blocks: int = 3

    def __post_init__(self):
        if isinstance(self.hourglass, dict):
            object.__setattr__(self, "hourglass", HourglassConfig(**self.hourglass))

    def to_dict(self) -> dict:
        return asdict(self)


class FBINet(nn.Module):
    """``forward(images (B, 3, R, R))`` -> the hourglass dict + ``fbi_logits`` (B, 14, 3)."""

    def __init__(self, config: FBINetConfig | None = None):
        super().__init__()
        self.config = config or FBINetConfig()
        hg = self.config.hourglass
        self.hourglass = StackedHourglass(hg)
        self.head = DepthRegressor(hg.features, NUM_BONES * 3, self.config.reg_modules, self.config.reg_blocks)

    def forward(self, images: torch.Tensor) -> dict:
        out = self.hourglass(images)
        out["fbi_logits"] = self.head(out["merged"]).view(-1, NUM_BONES, 3)   # (B, 42) -> (B, 14, 3)
        return out


def fbi_loss(logits: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy over the 14 bones of the samples ``rows`` (bool (B,), default all):
    ``logits`` (B, 14, 3), ``labels`` (B, 14) int64. Zero (with a gradient path) when no row is
    labelled."""
    assert logits.ndim == 3 and logits.shape[1:] == (NUM_BONES, 3), f"fbi_loss: logits {tuple(logits.shape)}"
    assert labels.shape == logits.shape[:2], f"fbi_loss: labels {tuple(labels.shape)} vs logits {tuple(logits.shape)}"
    if rows is not None:
        logits, labels = logits[rows], labels[rows]
    if len(logits) == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits.reshape(-1, 3), labels.reshape(-1))            # (B*14, 3) vs (B*14,)


# --- the weighted regression loss (paper Eqs. 1-2) --------------------------------------------------
def weighted_regression_loss(l0: torch.Tensor, alpha: float, eps: float = 1e-3,
                             max_exponent: float | None = None) -> torch.Tensor:
    """Paper Eqs. 1-2, per sample, averaged over the batch: ``L = L0 + eps * L1`` with
    ``L1 = (L0 + alpha)^2 * L0 * exp(L0 / (1 - alpha))``; ``l0`` (B,) the per-sample basic L2 loss,
    ``1 - alpha`` the mean of L0 on the training set (so ``alpha < 1``), ``eps`` = 1e-3 in the paper.
    Our reading of the flattened text "(L0 + α)2L0eL 0/(1−α)": the 2 is the exponent of (L0 + alpha)
    and L0 / (1 - alpha) the exponent of e. L1 grows faster than L0, so hard samples (large L0) get
    more weight; with ``eps`` = 0 the loss is the mean L0 (the plain L2 loss). ``max_exponent``
    (not in the paper; None = as written): cap ``L0 / (1 - alpha)`` -- a sample 20x the mean L0
    otherwise weighs e^20 ~ 5e8 times more and one outlier overflows the loss."""
    if not alpha < 1.0:
        raise ValueError(f"weighted_regression_loss: alpha must be < 1 (1 - alpha is the mean training L0 > 0), "
                         f"got {alpha}")
    assert l0.ndim == 1, f"weighted_regression_loss: l0 must be per sample (B,), got {tuple(l0.shape)}"
    expo = l0 / (1.0 - alpha)
    if max_exponent is not None:
        expo = expo.clamp(max=max_exponent)
    l1 = (l0 + alpha) ** 2 * l0 * torch.exp(expo)
    return (l0 + eps * l1).mean()


# --- the refinement regressor's input --------------------------------------------------------------
PARTS = ("2d", "depth", "fbi")


def refiner_input(parts, joints_2d=None, depth=None, fbi=None) -> np.ndarray:
    """Concatenate the chosen ``parts`` (subset of :data:`PARTS`, in that order) into (N, D) float32:
    ``2d`` (N, 17, 2) camera-normalised 2D joints, ``depth`` (N, 17) Zhou's normalised root-relative
    depths (with ``2d``: the coarse 3D pose), ``fbi`` (N, 14, 3) FBI probabilities or one-hot.
    All three: 34 + 17 + 42 = 93 numbers."""
    parts = tuple(parts)
    if not parts or set(parts) - set(PARTS):
        raise ValueError(f"refiner_input: parts must be a non-empty subset of {PARTS}, got {parts}")
    given = {"2d": joints_2d, "depth": depth, "fbi": fbi}
    shapes = {"2d": (NUM_JOINTS, 2), "depth": (NUM_JOINTS,), "fbi": (NUM_BONES, 3)}
    cols, n = [], None
    for p in PARTS:
        if p not in parts:
            continue
        a = given[p]
        if a is None:
            raise ValueError(f"refiner_input: part {p!r} requested but not given")
        a = np.asarray(a, np.float32)
        if a.shape[1:] != shapes[p] or (n is not None and len(a) != n):
            raise ValueError(f"refiner_input: {p!r} must be (N, {', '.join(map(str, shapes[p]))}), got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"refiner_input: {p!r} contains NaN or inf")
        n = len(a)
        cols.append(a.reshape(n, -1))                                          # (N, ...) -> (N, k)
    return np.concatenate(cols, 1)


__all__ = ["FBI_BONES", "FBI_BONE_NAMES", "NUM_BONES", "STATES", "FORWARD", "BACKWARD", "PARALLEL", "DEFAULT_TAU_DEG",
           "bone_sines", "fbi_labels", "one_hot", "accuracy", "FBINetConfig", "FBINet", "fbi_loss",
           "weighted_regression_loss", "refiner_input", "PARTS"]
