"""Martinez et al., ICCV 2017, "A simple yet effective baseline for 3d human pose estimation".

A residual MLP maps a 2D pose (17 joints x 2 px, flattened) to the root-relative 3D pose (16 joints x 3
mm: the root is the origin and is not predicted):

    x (B, in) -> Linear(in, 1024) -> BN -> ReLU -> Dropout
              -> 2 x [Linear 1024 -> BN -> ReLU -> Dropout -> Linear 1024 -> BN -> ReLU -> Dropout] + skip
              -> Linear(1024, out)

The network and the max-norm constraint only: the per-profile sizes and the training loop are in
:mod:`posecore.recipes.martinez`. Inputs and outputs are standardised per coordinate with training statistics (done by the
:class:`posecore.models.lifter.Standardised` wrapper around this network); weights use Kaiming init and a
max-norm constraint (every unit's incoming weight vector has norm <= 1, re-imposed after each optimizer
step); Adam, lr 1e-3 with exponential decay (x0.96 every 100k steps in the paper), batch 64, 200 epochs.

The same network is reused by Wang et al. 2019 for the stereo view synthesis (2D left -> 2D right) and
the reconstruction (2D left + right -> 3D) subnetworks: only ``in_features`` / ``out_features`` change.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..skeleton import NUM_JOINTS


@dataclass
class MartinezConfig:
    in_features: int = NUM_JOINTS * 2          # 17 joints x (u, v) px
    out_features: int = (NUM_JOINTS - 1) * 3   # 16 root-relative joints x (x, y, z) mm
    width: int = 1024
    num_blocks: int = 2
    dropout: float = 0.5
    max_norm: float = 1.0
    lr: float = 1e-3
    lr_decay: float = 0.96                     # multiply the lr by this every `decay_steps` steps
    decay_steps: int = 100_000
    batch_size: int = 64
    num_steps: int = 200 * 1_560_000 // 64     # paper: 200 epochs of Human3.6M's ~1.56M training poses (a
                                               # fixed count from H36M's size: on other data set it explicitly)


class ResidualBlock(nn.Module):
    """Two (Linear -> BatchNorm -> ReLU -> Dropout) layers with an identity skip connection."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x):
        return x + self.layers(x)


class MartinezNet(nn.Module):
    """The residual MLP on standardised inputs: (B, in_features) -> (B, out_features)."""

    def __init__(self, cfg: MartinezConfig = MartinezConfig()):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(nn.Linear(cfg.in_features, cfg.width), nn.BatchNorm1d(cfg.width), nn.ReLU(),
                                  nn.Dropout(cfg.dropout))
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.width, cfg.dropout) for _ in range(cfg.num_blocks)])
        self.head = nn.Linear(cfg.width, cfg.out_features)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        apply_max_norm(self, cfg.max_norm)

    def forward(self, x):
        assert x.ndim == 2 and x.shape[1] == self.cfg.in_features, \
            f"MartinezNet: expected (B, {self.cfg.in_features}) inputs, got {tuple(x.shape)}"
        return self.head(self.blocks(self.stem(x)))


@torch.no_grad()
def apply_max_norm(module: nn.Module, max_norm: float = 1.0) -> None:
    """Max-norm constraint: rescale every row of every Linear weight (one unit's incoming weights) to
    norm <= ``max_norm``, after each optimizer step (Keras' ``max_norm`` kernel constraint). A choice:
    the paper says "max-norm constraint" without the form; the original TensorFlow code clips each
    *whole* weight matrix to norm 1 in the forward pass (``tf.clip_by_norm``), a much stronger
    constraint for a 1024-wide layer."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.weight.copy_(torch.renorm(m.weight, p=2, dim=0, maxnorm=max_norm))


def max_weight_norm(module: nn.Module) -> float:
    """The largest row norm over all Linear weights (<= max_norm when the constraint holds)."""
    return max(float(m.weight.detach().norm(dim=1).max()) for m in module.modules() if isinstance(m, nn.Linear))
