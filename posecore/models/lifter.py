"""What every 2D -> 3D MLP lifter of the book shares (Martinez, both of Wang's subnetworks, the FBI
refinement): input checks, the root-relative target layout, per-coordinate standardisation and batched
inference. Pure tensor/array maths: no training, no files.

Conventions: 2D poses (N, 17, 2) px; 3D poses (N, 17, 3) mm in camera coordinates; a lifter's target is
the root-relative pose without the root, flattened to (N, 48).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..skeleton import NUM_JOINTS, ROOT, check_poses


def check_2d(poses_2d, name: str = "poses_2d") -> np.ndarray:
    """(N, 17, 2) finite float32 numpy, or ValueError naming the problem (wrong joints, NaN, inf)."""
    a = np.asarray(poses_2d.detach().cpu() if hasattr(poses_2d, "detach") else poses_2d, np.float32)
    if a.ndim != 3:
        raise ValueError(f"{name}: expected (N, {NUM_JOINTS}, 2) poses, got shape {a.shape}")
    return check_poses(a, 2, name)


def check_intrinsics(intrinsics, n: int) -> np.ndarray:
    """(N, 4) fx, fy, cx, cy (a single (4,) row is broadcast); ValueError if not finite or f <= 0."""
    K = np.asarray(intrinsics, np.float32)
    K = np.broadcast_to(K, (n, 4)).copy() if K.shape == (4,) else K
    if K.shape != (n, 4):
        raise ValueError(f"intrinsics: expected shape (4,) or ({n}, 4), got {K.shape}")
    if not np.isfinite(K).all() or not (K[:, :2] > 0).all():
        raise ValueError("intrinsics: must be finite with positive focal lengths")
    return K


def camera_normalise(poses_2d, intrinsics) -> np.ndarray:
    """(N, 17, 2) px -> (N, 17, 2) normalised image coordinates ((u - cx) / fx, (v - cy) / fy): the
    same body seen by another camera (focal length, principal point, resolution) gives the same input."""
    p = check_2d(poses_2d)
    K = check_intrinsics(intrinsics, len(p))[:, None]                # (N, 1, 4)
    return ((p - K[..., 2:]) / K[..., :2]).astype(np.float32)


def lifter_input(poses_2d, intrinsics=None, norm: str = "pixel") -> np.ndarray:
    """A lifter's flattened input (N, 34): the pixels themselves (``norm='pixel'``, the papers' input)
    or camera-normalised coordinates (``norm='camera'``, needs ``intrinsics``)."""
    if norm == "pixel":
        p = check_2d(poses_2d)
    elif norm == "camera":
        if intrinsics is None:
            raise ValueError("a camera-normalised lifter needs the intrinsics (fx, fy, cx, cy)")
        p = camera_normalise(poses_2d, intrinsics)
    else:
        raise ValueError(f"unknown input normalisation {norm!r}; choose 'pixel' or 'camera'")
    return p.reshape(len(p), -1)                                      # (N, 17, 2) -> (N, 34)


def to_target(poses_3d) -> np.ndarray:
    """(N, 17, 3) mm -> (N, 48): root-relative, root dropped, flattened."""
    rel = poses_3d - poses_3d[:, ROOT:ROOT + 1]                      # (N, 17, 3)
    return np.delete(rel, ROOT, axis=1).reshape(len(rel), -1).astype(np.float32)  # (N, 16*3)


def from_output(y) -> np.ndarray:
    """(N, 48) -> (N, 17, 3) root-relative mm with the root (0, 0, 0) put back."""
    y = np.asarray(y, np.float32).reshape(len(y), NUM_JOINTS - 1, 3)  # (N, 16, 3)
    return np.insert(y, ROOT, 0.0, axis=1)                            # (N, 17, 3)


class Standardised(nn.Module):
    """``net`` on standardised coordinates: raw x -> (x - mean_x) / std_x -> net -> * std_y + mean_y.
    The statistics are buffers, so they travel with the checkpoint."""

    def __init__(self, net: nn.Module, in_features: int, out_features: int):
        super().__init__()
        self.net = net
        for k, d in (("x", in_features), ("y", out_features)):
            self.register_buffer(f"{k}_mean", torch.zeros(d))
            self.register_buffer(f"{k}_std", torch.ones(d))

    def set_stats(self, x: np.ndarray, y: np.ndarray) -> None:
        for k, a in (("x", x), ("y", y)):
            getattr(self, f"{k}_mean").copy_(torch.as_tensor(a.mean(0)))
            getattr(self, f"{k}_std").copy_(torch.as_tensor(np.maximum(a.std(0), 1e-6)))

    def normalise_y(self, y):
        return (y - self.y_mean) / self.y_std

    def forward(self, x, normalised_output: bool = False):
        out = self.net((x - self.x_mean) / self.x_std)
        return out if normalised_output else out * self.y_std + self.y_mean


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Run ``model`` in eval mode on (N, D) numpy inputs in batches; returns numpy float32."""
    model.eval()
    dev = next(model.parameters()).device
    outs = [model(torch.as_tensor(x[i:i + batch_size], device=dev)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy() if outs else np.zeros((0,), np.float32)


def lift_with(model: nn.Module, poses_2d, intrinsics=None, norm: str = "pixel") -> np.ndarray:
    """A trained (standardised) Martinez-style lifter applied to (N, 17, 2) px -> (N, 17, 3)
    root-relative mm."""
    return from_output(predict(model, lifter_input(poses_2d, intrinsics, norm)))
