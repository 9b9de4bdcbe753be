"""Drover et al., ECCV Workshops 2018, "Can 3D Pose be Learned from 2D Projections Alone?"

A generator lifts a 2D pose to 3D by predicting one depth per joint; a random projection layer views
the 3D pose from a random camera; a discriminator tells those fake 2D poses from real ones. No 3D
labels and no 2D-3D correspondences are used.

Joints: the paper's 14 (the LSP set): ankles, knees, hips, wrists, elbows, shoulders, neck, head top.
From posecore's 17 (see :data:`posecore.skeleton.LSP_FROM_H36M`) we drop pelvis (0), spine (7) and
neck/nose (9); the paper's neck is our thorax (8), its head our head top (10). The root is the
midpoint of the hips.

Camera: unit focal length at the origin. A 2D pose (u, v) px is normalised to (u - c_x) / f_x,
(v - c_y) / f_y, centred on the root and scaled by one dataset-wide factor so that the mean head-root
distance of the training data is 1/d. The generator gives offsets o_i; depths z_i = max(0, d + o_i) + 1
(d = 10); back projection X_i = (z_i x_i, z_i y_i, z_i). The random projection rotates X about
T = (0, 0, d) (azimuth about the vertical axis in [0, 360) deg, elevation about the horizontal axis),
forces depths >= 1 and divides by depth. We also re-centre the fake 2D pose on its root, as the real
poses are (a detail the paper leaves open).

This file holds the networks and the pure maths; training (and the per-profile sizes) is
:mod:`posecore.recipes.drover`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..skeleton import LSP_FROM_H36M, check_poses

JOINTS_14 = tuple(LSP_FROM_H36M)        # H36M index of each of the 14 joints (LSP order)
HIPS_14, HEAD_14 = (2, 3), 13           # right hip, left hip, head top in the 14-joint order


@dataclass
class DroverConfig:
    d: float = 10.0
    width: int = 1024
    gen_blocks: int = 4
    disc_blocks: int = 3
    lr: float = 2e-4                    # generator (and paper: discriminator) learning rate
    lr_d: float = 2e-4                  # discriminator lr (the paper: equal to the generator's)
    batch_size: int = 32_768
    num_steps: int = 20_000             # not in the paper (it gives 0.4 s per batch on 8 GPUs): our choice
    elevation: tuple = (0.0, 20.0)      # degrees, random projection and real-data augmentation
    extra_cameras: int = 8              # random virtual cameras per 3D skeleton added to the real 2D set
    noise_px: float = 0.0               # Gaussian noise on the generator's 2D inputs (a detector stand-in)
    precision: str = "fp32"             # 'fp32', 'bf16' (autocast) or 'auto' (bf16 where native): training only


class Block(nn.Module):
    """Residual pair of (Linear -> BatchNorm -> ReLU)."""

    def __init__(self, width: int):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
                               nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())

    def forward(self, x):
        return x + self.f(x)


def _mlp(n_in: int, n_out: int, width: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), *[Block(width) for _ in range(blocks)],
                         nn.Linear(width, n_out))


class Generator(nn.Module):
    """(B, 14, 2) normalised 2D -> (B, 14, 3) 3D pose in the unit-focal camera frame."""

    def __init__(self, cfg: DroverConfig):
        super().__init__()
        self.d = cfg.d
        self.net = _mlp(28, 14, cfg.width, cfg.gen_blocks)

    def depths(self, x):
        """z_i = max(0, d + o_i) + 1 for the offsets o = net(x): (B, 14)."""
        assert x.ndim == 3 and x.shape[1:] == (14, 2), f"Generator: expected (B, 14, 2), got {tuple(x.shape)}"
        o = self.net(x.reshape(len(x), 28))                         # (B, 14) depth offsets
        return torch.relu(self.d + o) + 1.0

    def forward(self, x):
        z = self.depths(x)[..., None]                                # (B, 14, 1)
        return torch.cat([x * z, z], -1)                             # back projection (B, 14, 3)


class Discriminator(nn.Module):
    """(B, 14, 2) 2D pose -> (B, 2) logits [fake, real] (softmax / cross-entropy: the standard GAN loss)."""

    def __init__(self, cfg: DroverConfig):
        super().__init__()
        self.net = _mlp(28, 2, cfg.width, cfg.disc_blocks)

    def forward(self, x):
        return self.net(x.reshape(len(x), 28))


def rotations(n: int, elevation=(0.0, 20.0), generator=None, device=None):
    """(n, 3, 3) rotations R = R_x(elevation) R_y(azimuth) in camera coordinates (y down): azimuth
    uniform in [0, 360) deg about the vertical axis, elevation uniform in ``elevation`` deg (camera
    moving up, looking down)."""
    u = torch.rand(n, 2, generator=generator, device=device)
    a = u[:, 0] * 2 * torch.pi
    e = torch.deg2rad(elevation[0] + u[:, 1] * (elevation[1] - elevation[0]))
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    Ry = torch.stack([a.cos(), zero, a.sin(), zero, one, zero, -a.sin(), zero, a.cos()], 1).view(n, 3, 3)
    Rx = torch.stack([one, zero, zero, zero, e.cos(), -e.sin(), zero, e.sin(), e.cos()], 1).view(n, 3, 3)
    return Rx @ Ry


def centre(x):
    """Subtract the root (hip midpoint) from (..., 14, C) poses."""
    root = 0.5 * (x[..., HIPS_14[0]:HIPS_14[0] + 1, :] + x[..., HIPS_14[1]:HIPS_14[1] + 1, :])
    return x - root


def random_projection(X, d: float, elevation=(0.0, 20.0), generator=None):
    """Rotate 3D poses (B, 14, 3) about T = (0, 0, d), force depths >= 1, project with unit focal
    length; returns (fake 2D (B, 14, 2) root-centred, rotated 3D (B, 14, 3))."""
    T = X.new_tensor([0.0, 0.0, d])
    R = rotations(len(X), elevation, generator, X.device).to(X.dtype)
    Y = (X - T) @ R.transpose(1, 2) + T                              # (B, 14, 3) rotated in place
    Y = torch.cat([Y[..., :2], Y[..., 2:].clamp_min(1.0)], -1)       # P_z >= 1
    return centre(Y[..., :2] / Y[..., 2:]), Y


def to_unit_camera(poses_2d, intrinsics) -> np.ndarray:
    """(N, 17, 2) px -> (N, 14, 2) unit-focal, root-centred (not yet scaled)."""
    p = np.asarray(check_poses(np.asarray(poses_2d, np.float32), 2, "poses_2d"))
    K = np.asarray(intrinsics, np.float32)[:, None]                  # (N, 1, 4)
    return centre((p[:, list(JOINTS_14)] - K[..., 2:]) / K[..., :2])


def head_root(x) -> np.ndarray:
    """Head-top to root distance of (N, 14, C) root-centred poses: (N,)."""
    return np.linalg.norm(np.asarray(x)[:, HEAD_14], axis=-1)


def scale_factor(x_unit, d: float) -> float:
    """The dataset-wide scale that makes the mean head-root distance 1/d."""
    return float(1.0 / (d * head_root(x_unit).mean()))


def virtual_views(poses_3d, n_views: int, elevation, rng) -> np.ndarray:
    """Real-data augmentation: each 3D pose (N, 17, 3) mm seen by ``n_views`` random cameras
    (rotation about its root, root kept at its depth) -> (N * n_views, 14, 2) unit-focal, root-centred."""
    p = np.repeat(np.asarray(poses_3d, np.float64)[:, list(JOINTS_14)], n_views, 0)  # (N*V, 14, 3)
    root = p[:, list(HIPS_14)].mean(1, keepdims=True)
    g = torch.Generator().manual_seed(int(rng.integers(2**31)))
    R = rotations(len(p), elevation, g).double().numpy()
    q = (p - root) @ R.transpose(0, 2, 1) + root
    return centre(q[..., :2] / q[..., 2:])


def lift_with(gen: Generator, poses_2d, intrinsics, scale: float, mm_per_unit: float) -> np.ndarray:
    """Generator on (N, 17, 2) px -> (N, 14, 3) mm, root-centred (scale fixed by ``mm_per_unit``)."""
    x = torch.as_tensor(to_unit_camera(poses_2d, intrinsics) * scale, dtype=torch.float32)
    gen.eval()
    with torch.no_grad():
        X = gen(x).double().numpy()
    return centre(X) * mm_per_unit


def to_h36m17(p14) -> np.ndarray:
    """(N, 14, 3) -> (N, 17, 3) for display and the 17-joint API: pelvis = hip midpoint, spine = mid
    pelvis-thorax, neck/nose = mid thorax-head (interpolated, not predicted)."""
    p14 = np.asarray(p14)
    out = np.zeros(p14.shape[:1] + (17, p14.shape[-1]))
    out[:, list(JOINTS_14)] = p14
    out[:, 0] = p14[:, list(HIPS_14)].mean(1)
    out[:, 7] = 0.5 * (out[:, 0] + out[:, 8])
    out[:, 9] = 0.5 * (out[:, 8] + out[:, 10])
    return out


def flat_baseline(poses_2d, intrinsics) -> np.ndarray:
    """The paper's flat baseline: every joint at the same depth -- the unit-camera 2D pose with z = 1,
    (N, 17, 2) px -> (N, 14, 3), root-centred in x, y (scale-free: evaluate with P-MPJPE)."""
    x = to_unit_camera(poses_2d, intrinsics)                          # (N, 14, 2)
    return np.concatenate([x, np.ones_like(x[..., :1])], -1)          # (N, 14, 3)
