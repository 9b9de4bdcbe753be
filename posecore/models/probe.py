"""The action-classification probe of Wang et al. 2019 (Fig. 6): a small fully connected network that
names the action from 25 consecutive frames of 3D joints. Judges how much action information a pose
estimator's 3D output carries (the paper: 93 % with its 3D vs 80 % with Zhou et al.'s on Penn Action).

The paper's probe is "a simple network of multiple fully connected layers" (details in a supplement we
do not have). Ours: every pose is first put into its own body frame (:func:`body_frame`), so a window
of camera-frame poses seen from a new camera every frame (posecore-synth's wild splits) still
describes the motion, not the cameras; then 25-frame windows (:func:`windows`), flattened, into an MLP
``25 x 17 x 3 -> 256 -> 256 -> n_classes`` (:class:`ProbeMLP`). Clips that share their motion (the
same motion capture performed by several bodies or seen by several cameras) are split in time
(:func:`split_in_time`): early windows train, late windows test, and no mocap frame is in both.

Pure maths and the network; training and data: :mod:`posecore.recipes.wang_image`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..skeleton import JOINT_INDEX, NUM_JOINTS, ROOT

L_HIP, R_HIP, THORAX = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"], JOINT_INDEX["thorax"]


def body_frame(poses, on_degenerate: str = "raise") -> np.ndarray:
    """(N, 17, 3) camera-frame poses (mm) -> (N, 17, 3) the same poses in each one's body frame: origin
    at the pelvis, x from the left hip to the right hip, y from the pelvis towards the thorax made
    orthogonal to x, z = x cross y. Invariant to any rigid motion of the camera (rotation +
    translation). A degenerate pose (coincident hips, or thorax on the hip line) raises ValueError,
    or with ``on_degenerate='camera'`` keeps the camera's axes (pelvis-centred only): a network's
    prediction may collapse the two hips onto one point."""
    if on_degenerate not in ("raise", "camera"):
        raise ValueError(f"body_frame: on_degenerate must be 'raise' or 'camera', got {on_degenerate!r}")
    p = np.asarray(poses, np.float64)
    assert p.ndim == 3 and p.shape[1:] == (NUM_JOINTS, 3), f"body_frame: poses must be (N, 17, 3), got {p.shape}"
    rel = p - p[:, ROOT:ROOT + 1]                                       # (N, 17, 3) pelvis at 0
    x = rel[:, R_HIP] - rel[:, L_HIP]                                   # (N, 3)
    up = rel[:, THORAX]                                                 # (N, 3)
    nx = np.linalg.norm(x, axis=-1)
    x = x / np.maximum(nx, 1e-12)[:, None]
    y = up - (up * x).sum(-1, keepdims=True) * x                        # Gram-Schmidt
    ny = np.linalg.norm(y, axis=-1)
    y = y / np.maximum(ny, 1e-12)[:, None]
    bad = (nx < 1e-6) | (ny < 1e-6)
    if bad.any() and on_degenerate == "raise":
        raise ValueError(f"body_frame: {int(bad.sum())} poses are degenerate (coincident hips or the thorax on "
                         f"the hip line)")
    z = np.cross(x, y)
    R = np.stack([x, y, z], 1)                                          # (N, 3, 3) rows = body axes
    R[bad] = np.eye(3)
    return np.einsum("nab,njb->nja", R, rel).astype(np.float32)         # (N, 17, 3) body coordinates


def windows(groups, frames, length: int = 25, stride: int = 1) -> np.ndarray:
    """Indices (W, length) of every run of ``length`` consecutive samples of one group (a clip: the
    same subject, action, sequence and camera), ordered by ``frames``, started every ``stride``
    samples. ``groups`` (N,) hashable labels, ``frames`` (N,) ints. A clip shorter than ``length``
    gives no window. Consecutive = adjacent in the clip's frame order (posecore-synth subsamples the
    motion capture at a fixed rate, so adjacent samples are equally spaced in time)."""
    groups, frames = np.asarray(groups), np.asarray(frames)
    if groups.shape != frames.shape or groups.ndim != 1:
        raise ValueError(f"windows: groups and frames must be matching (N,) arrays, got {groups.shape}, {frames.shape}")
    if length < 1 or stride < 1:
        raise ValueError(f"windows: length and stride must be >= 1, got {length}, {stride}")
    out = []
    for g in dict.fromkeys(groups.tolist()):                            # clips in order of appearance
        idx = np.flatnonzero(groups == g)
        idx = idx[np.argsort(frames[idx], kind="stable")]
        for s in range(0, len(idx) - length + 1, stride):
            out.append(idx[s:s + length])
    return np.stack(out) if out else np.zeros((0, length), np.int64)


def split_in_time(groups, motion, frames, length: int = 25, stride: int = 1, gap: int = 0,
                  train_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Training and test windows (each (W, length) indices, :func:`windows` of the clips ``groups``)
    split by motion-capture time, so that no mocap frame is in both. ``motion`` (N,): the motion-capture
    clip each sample shows (shared by every body and camera that performs it), ``frames`` (N,): its
    mocap frame number. Per motion clip with frames f0..f1 (over every sample of that motion), the cut
    is ``c = f0 + floor(train_fraction * (f1 - f0 + 1 - gap))``: the samples before ``c`` give the
    training windows, those at or after ``c + gap`` the test windows (windows started every ``stride``
    samples from each part's first frame). So the last training window ends before ``c``, the first
    test window starts at ``c + gap`` or later -- at least ``length + gap`` frames after the last
    training window's start -- for every body and camera performing the motion alike."""
    groups, motion, frames = np.asarray(groups), np.asarray(motion), np.asarray(frames)
    if not (groups.shape == motion.shape == frames.shape) or groups.ndim != 1:
        raise ValueError(f"split_in_time: groups, motion and frames must be matching (N,) arrays, got {groups.shape}, "
                         f"{motion.shape}, {frames.shape}")
    if gap < 0 or not 0.0 < train_fraction < 1.0:
        raise ValueError(f"split_in_time: gap >= 0 and 0 < train_fraction < 1 required, got {gap}, {train_fraction}")
    pairs = set(zip(groups.tolist(), motion.tolist()))
    if len(pairs) != len(set(groups.tolist())):
        raise ValueError("split_in_time: a clip (group) shows two motion clips")
    c = np.zeros(len(frames), np.int64)
    for m in dict.fromkeys(motion.tolist()):
        at = motion == m
        f0, f1 = int(frames[at].min()), int(frames[at].max())
        c[at] = f0 + int(np.floor(train_fraction * (f1 - f0 + 1 - gap)))
    out = []
    for part in (np.flatnonzero(frames < c), np.flatnonzero(frames >= c + gap)):
        out.append(part[windows(groups[part], frames[part], length, stride)] if len(part) else
                   np.zeros((0, length), np.int64))
    return out[0], out[1]


def mocap_frames(win, motion, frames) -> set:
    """The set of (motion clip, mocap frame) pairs that the windows ``win`` (W, T) show."""
    win = np.asarray(win)
    m, f = np.asarray(motion)[win].ravel(), np.asarray(frames)[win].ravel()
    return set(zip(m.tolist(), f.tolist()))


@dataclass(frozen=True)
class ProbeConfig:
    """The probe MLP: ``n_in`` inputs (window length x joints x coordinates), two hidden layers."""
    n_in: int = 25 * NUM_JOINTS * 3
    n_classes: int = 8
    width: int = 256
    dropout: float = 0.5


class ProbeMLP(nn.Module):
    """(B, n_in) standardised window -> (B, n_classes) logits: Linear-ReLU-Dropout twice, then Linear."""

    def __init__(self, cfg: ProbeConfig):
        super().__init__()
        self.cfg = cfg
        self.net = nn.Sequential(nn.Linear(cfg.n_in, cfg.width), nn.ReLU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.width, cfg.width), nn.ReLU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.width, cfg.n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 2 and x.shape[1] == self.cfg.n_in, f"ProbeMLP: expected (B, {self.cfg.n_in}), got {tuple(x.shape)}"
        return self.net(x)


__all__ = ["body_frame", "windows", "split_in_time", "mocap_frames", "ProbeConfig", "ProbeMLP"]
