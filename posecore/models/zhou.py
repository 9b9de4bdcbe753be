"""Zhou, Huang, Sun, Xue and Wei, "Towards 3D Human Pose Estimation in the Wild: a Weakly-supervised
Approach", ICCV 2017.

A stacked hourglass (:mod:`posecore.models.hourglass`, 2 stacks x 2 modules in the paper) predicts 2D
heatmaps; a depth regression module (Fig. 2) reads the last stack's heatmaps and image features --
brought to a common width by 1x1 convolutions and summed (the hourglass's ``merged`` output) -- and
regresses one depth per joint through 4 x (residual modules + 2x2 max-pool), global average pooling
and a linear layer.

Depth units. The depth of a joint is root-relative and expressed in the units of the 2D joints so
that (x, y, depth) is a consistent 3D point up to one scale (as in the official code): per training
sample, ``s = sum of 2D bone lengths (crop px) / sum of 3D x-y bone lengths (mm)``; the target is
``depth_mm * s``, normalised by half the crop side (``/ (R / 2)``), the same normalisation as the 2D
joints' ``2 x / R - 1`` in the geometric loss. See :func:`depth_target`.

The 3D pose (Sec. 4.1.2): (2D joint pixels, depths in pixels), root-relative, scaled so that the sum
of its bone lengths equals the canonical (training-average) skeleton's: ``Y = Y_hat * sum(l_bar) /
sum(l_hat)``. Without calibration the root position is taken from the ground truth for evaluation,
as in the paper. See :func:`assemble_pose_3d`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..skeleton import BONES, NUM_JOINTS, ROOT
from .hourglass import HourglassConfig, StackedHourglass, residuals


@dataclass(frozen=True)
class ZhouConfig:
    """The network: a hourglass plus the depth regressor (``reg_modules`` residual modules before each
    of the 4 poolings; 2 in the paper's code, equal to the hourglass modules)."""
    hourglass: HourglassConfig = field(default_factory=HourglassConfig.zhou)
    reg_modules: int = 2
    reg_blocks: int = 4

    def __post_init__(self):
        if isinstance(self.hourglass, dict):  # from a checkpoint / JSON
            object.__setattr__(self, "hourglass", HourglassConfig(**self.hourglass))
        if self.reg_modules < 1 or self.reg_blocks < 1:
            raise ValueError(f"ZhouConfig: reg_modules and reg_blocks must be >= 1, got "
                             f"{self.reg_modules}, {self.reg_blocks}")

    @classmethod
    def paper(cls, resolution: int = 256) -> "ZhouConfig":
        return cls(hourglass=HourglassConfig.zhou(resolution), reg_modules=2)

    def to_dict(self) -> dict:
        return asdict(self)


class DepthRegressor(nn.Module):
    """Zhou et al. Fig. 2: ``reg_blocks`` x (``reg_modules`` residual modules, 2x2 max-pool),
    global average pooling, linear -> (B, J) normalised root-relative depths."""

    def __init__(self, features: int, num_joints: int, modules: int = 2, blocks: int = 4):
        super().__init__()
        self.blocks = nn.Sequential(*[
            nn.Sequential(residuals(modules, features, features), nn.MaxPool2d(2, 2, ceil_mode=True))
            for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(features, num_joints)

    def forward(self, merged: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pool(self.blocks(merged)).flatten(1))


class _ZeroGradRows(torch.autograd.Function):
    """Identity forward; backward zeroes the gradient of the rows where ``block`` is True."""

    @staticmethod
    def forward(ctx, x, block):
        ctx.save_for_backward(block)
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        (block,) = ctx.saved_tensors
        shape = (-1,) + (1,) * (g.ndim - 1)
        return g * (~block).to(g.dtype).view(shape), None


class ZhouNet(nn.Module):
    """Hourglass + depth regressor. ``forward(images, geo_rows=None)`` returns the hourglass dict
    (``heatmaps`` per stack, ``features``, ``merged``, ``stem``) plus ``depth`` (B, J) normalised.

    ``geo_rows`` (B,) bool, optional: samples whose depth gradient stops at the depth regressor's input,
    so that the geometric loss on them passes no gradient into the 2D module. The chapters do not use it:
    as in the paper (Sec. 4.3.2) and the official code, the geometric loss of the 2D-only images trains
    the whole network, the shared 2D module included. (Without ``geo_rows`` every sample's depth
    gradient reaches the 2D module.)"""

    def __init__(self, config: ZhouConfig | None = None):
        super().__init__()
        self.config = config or ZhouConfig()
        hg = self.config.hourglass
        self.hourglass = StackedHourglass(hg)
        self.depth = DepthRegressor(hg.features, hg.num_joints, self.config.reg_modules, self.config.reg_blocks)

    def forward(self, images: torch.Tensor, geo_rows: torch.Tensor | None = None) -> dict:
        out = self.hourglass(images)
        merged = out["merged"]
        if geo_rows is not None:
            geo_rows = torch.as_tensor(geo_rows, dtype=torch.bool, device=merged.device)
            if geo_rows.shape != (merged.shape[0],):
                raise ValueError(f"geo_rows must have shape ({merged.shape[0]},), got {tuple(geo_rows.shape)}")
            if geo_rows.any() and torch.is_grad_enabled():
                merged = _ZeroGradRows.apply(merged, geo_rows)
        out["depth"] = self.depth(merged)
        return out

    def parameters_2d(self):
        """Parameters of the 2D module (stage 1 trains only these)."""
        return self.hourglass.parameters()


# --- depth units and the 3D pose ------------------------------------------------------------------
def pixel_per_mm(joints_2d: torch.Tensor, poses_3d: torch.Tensor, bones=BONES) -> torch.Tensor:
    """Per-sample scale ``s`` (B,) = sum of 2D bone lengths / sum of 3D x-y bone lengths (official
    code's weak-perspective scale); ``joints_2d`` (B, J, 2) px, ``poses_3d`` (B, J, 3) mm."""
    p = [b[0] for b in bones]
    c = [b[1] for b in bones]
    l2 = (joints_2d[:, c] - joints_2d[:, p]).norm(dim=-1).sum(-1)
    l3 = (poses_3d[:, c, :2] - poses_3d[:, p, :2]).norm(dim=-1).sum(-1)
    return l2 / l3.clamp_min(1e-6)


def depth_target(joints_2d: torch.Tensor, poses_3d: torch.Tensor, resolution: int) -> torch.Tensor:
    """Normalised depth targets (B, J): root-relative z (mm) * pixel_per_mm / (resolution / 2)."""
    z = poses_3d[..., 2] - poses_3d[:, ROOT:ROOT + 1, 2]
    return z * pixel_per_mm(joints_2d, poses_3d)[:, None] / (resolution / 2)


def assemble_pose_3d(joints_2d: torch.Tensor, depth_px: torch.Tensor, canonical_bone_sum: float,
                     root=None, bones=BONES) -> torch.Tensor:
    """The paper's 3D pose (Sec. 4.1.2). ``joints_2d`` (B, J, 2) px, ``depth_px`` (B, J) root-relative
    depth in the same pixel units, ``canonical_bone_sum`` the sum of the canonical skeleton's bone
    lengths (mm). The root-relative pose ``(x - x_root, y - y_root, depth)`` is scaled by
    ``canonical_bone_sum / sum of its bone lengths``; ``root`` (B, 3) mm (e.g. the ground truth) is
    added when given. Returns (B, J, 3) mm."""
    xy = joints_2d - joints_2d[:, ROOT:ROOT + 1]
    z = depth_px - depth_px[:, ROOT:ROOT + 1]
    pose = torch.cat([xy, z[..., None]], -1)
    p = [b[0] for b in bones]
    c = [b[1] for b in bones]
    total = (pose[:, c] - pose[:, p]).norm(dim=-1).sum(-1)
    if isinstance(canonical_bone_sum, torch.Tensor):        # (B, 1, 1) per-sample sums
        pose = pose * canonical_bone_sum.to(pose) / total.clamp_min(1e-6)[:, None, None]
    else:
        pose = pose * (canonical_bone_sum / total.clamp_min(1e-6))[:, None, None]
    if root is not None:
        pose = pose + torch.as_tensor(root, dtype=pose.dtype, device=pose.device)[:, None, :]
    return pose


def canonical_bone_lengths(poses_3d, bones=BONES) -> torch.Tensor:
    """Training-average bone lengths (len(bones),) mm from (N, J, 3) 3D poses (NaN rows ignored)."""
    poses_3d = torch.as_tensor(poses_3d, dtype=torch.float32)
    poses_3d = poses_3d[torch.isfinite(poses_3d).all(-1).all(-1)]
    if len(poses_3d) == 0:
        raise ValueError("canonical_bone_lengths: no finite 3D poses given")
    p = [b[0] for b in bones]
    c = [b[1] for b in bones]
    return (poses_3d[:, c] - poses_3d[:, p]).norm(dim=-1).mean(0)


def pose_3d(joints_2d, depth_norm, resolution: int, canonical_bone_sum) -> np.ndarray:
    """The paper's 3D pose from crop-px 2D joints and normalised depths: root-relative mm (N, J, 3).
    ``canonical_bone_sum``: one bone-length sum (mm) for every sample, or (N,) sums (e.g. each
    subject's true one: the known global scale)."""
    j = torch.as_tensor(np.asarray(joints_2d), dtype=torch.float64)
    d = torch.as_tensor(np.asarray(depth_norm), dtype=torch.float64) * (resolution / 2)
    s = np.asarray(canonical_bone_sum, np.float64)
    if s.ndim:
        if s.shape != (len(j),):
            raise ValueError(f"pose_3d: bone sums must be one value or ({len(j)},), got {s.shape}")
        s = torch.as_tensor(s)[:, None, None]
    else:
        s = float(s)
    return assemble_pose_3d(j, d, s).numpy()


def canonical_bone_sum(canonical) -> float:
    """Sum of the canonical bone lengths (BONES order, mm)."""
    c = np.asarray(canonical, np.float64)
    if c.shape != (len(BONES),):
        raise ValueError(f"canonical bone lengths: expected {len(BONES)} values, got shape {c.shape}")
    return float(c.sum())


__all__ = ["ZhouConfig", "ZhouNet", "DepthRegressor", "depth_target", "pixel_per_mm", "assemble_pose_3d",
           "canonical_bone_lengths", "canonical_bone_sum", "pose_3d", "NUM_JOINTS"]
