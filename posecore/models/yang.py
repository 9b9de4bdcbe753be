"""Yang, Ouyang, Wang, Ren, Li and Wang, "3D Human Pose Estimation in the Wild by Adversarial
Learning", CVPR 2018: the networks and their pure maths (training lives in a recipe).

Read top to bottom:

1. :func:`generator_config` -- the generator G is Zhou et al.'s network (``ZhouNet``) with the paper's
   depth regressor of **three** residual + downsampling modules, global average pooling and a linear
   layer, on the 2 x 1 (ablations) or 4 x 1 (final) hourglass.
2. :func:`soft_argmax` -- differentiable 2D joints from heatmaps (our choice: the paper does not say
   how G's pose reaches D; a soft-argmax lets the adversarial gradient reach the 2D module).
3. :func:`geometric_descriptor` -- paper Eq. 1: for every ordered joint pair (i, j) the six values
   ``[dx, dy, dz, dx^2, dy^2, dz^2]`` with ``d = p_i - p_j``, stacked as a ``(B, 6, P, P)`` tensor.
4. :func:`depth_maps` -- one map per joint "denoting the depth of a body joint at the corresponding
   location": ``D_j = z_j * S_j`` (the joint's depth spread by its heatmap; our reading).
5. :class:`MultiSourceDiscriminator` -- each source (``'image'``, ``'geo'``, ``'maps'``) embedded by
   its own sub-network (unspecified in the paper: small strided conv encoders for the image and the
   heatmaps + depth maps, a two-layer MLP for the flattened descriptor), embeddings concatenated,
   then three fully connected layers to one logit.

Units: x, y of a pose are crop-normalised ``2 u / R - 1``; z is the normalised depth of
:func:`posecore.models.zhou.depth_target` (pixels / (R / 2)), so the three axes share one unit.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .hourglass import HourglassConfig
from .zhou import ZhouConfig

SOURCES = ("image", "geo", "maps")


# --- 1. the generator -----------------------------------------------------------------------------
def generator_config(hourglass: HourglassConfig | None = None) -> ZhouConfig:
    """Yang et al.'s G: ``ZhouNet`` with a depth regressor of 3 (residual, 2x2 max-pool) blocks of one
    residual module each, global average pooling and a linear layer (paper Sec. 5). Default hourglass:
    2 stacks x 1 module (the paper's ablations)."""
    return ZhouConfig(hourglass=hourglass or HourglassConfig.yang_ablation(), reg_modules=1, reg_blocks=3)


# --- 2. soft-argmax --------------------------------------------------------------------------------
def soft_argmax(heatmaps: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Expected (x, y) heatmap-pixel position under ``softmax(beta * heatmap)`` over each map.
    ``heatmaps`` (B, J, h, w) -> (B, J, 2) heatmap px (integer coordinates at pixel centres)."""
    if heatmaps.ndim != 4:
        raise ValueError(f"soft_argmax: heatmaps must be (B, J, h, w), got {tuple(heatmaps.shape)}")
    B, J, h, w = heatmaps.shape
    p = torch.softmax(beta * heatmaps.reshape(B, J, h * w), -1).reshape(B, J, h, w)
    xs = torch.arange(w, dtype=p.dtype, device=p.device)
    ys = torch.arange(h, dtype=p.dtype, device=p.device)
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], -1)


# --- 3. the geometric descriptor ---------------------------------------------------------------------
def geometric_descriptor(pose: torch.Tensor) -> torch.Tensor:
    """Paper Eq. 1. ``pose`` (B, P, 3) -> (B, 6, P, P): channel c < 3 holds ``pose[:, i, c] -
    pose[:, j, c]`` at (i, j), channel c + 3 its square (the diagonal is zero; the first three
    channels are antisymmetric in (i, j), the last three symmetric)."""
    if pose.ndim != 3 or pose.shape[-1] != 3:
        raise ValueError(f"geometric_descriptor: pose must be (B, P, 3), got {tuple(pose.shape)}")
    if not torch.isfinite(pose).all():
        raise ValueError("geometric_descriptor: pose contains NaN/inf")
    d = pose[:, :, None, :] - pose[:, None, :, :]            # (B, P, P, 3): d[b, i, j] = p_i - p_j
    d = d.permute(0, 3, 1, 2)                                # (B, 3, P, P)
    return torch.cat([d, d * d], 1)                          # (B, 6, P, P)


# --- 4. depth maps ---------------------------------------------------------------------------------
def depth_maps(heatmaps: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """``D_j = z_j * S_j``: ``heatmaps`` (B, J, h, w), ``depth`` (B, J) -> (B, J, h, w)."""
    if heatmaps.ndim != 4 or depth.shape != heatmaps.shape[:2]:
        raise ValueError(f"depth_maps: heatmaps (B, J, h, w) and depth (B, J) expected, got "
                         f"{tuple(heatmaps.shape)} and {tuple(depth.shape)}")
    return heatmaps * depth[:, :, None, None]


# --- 5. the multi-source discriminator ---------------------------------------------------------------
@dataclass(frozen=True)
class DiscriminatorConfig:
    """``sources``: a non-empty subset of ('image', 'geo', 'maps'); ``width``: each embedding's size
    (64 at the quick profile, 256 at full); ``num_joints`` P; ``resolution`` of the image crop and
    ``heatmap_resolution`` of the maps; ``convs``: stride-2 convolutions of each conv encoder."""
    sources: tuple = SOURCES
    width: int = 256
    num_joints: int = 17
    resolution: int = 256
    heatmap_resolution: int = 64
    convs: int = 4

    def __post_init__(self):
        object.__setattr__(self, "sources", tuple(self.sources))
        bad = [s for s in self.sources if s not in SOURCES]
        if not self.sources or bad or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"DiscriminatorConfig.sources must be a non-empty subset of {SOURCES} without "
                             f"repeats, got {self.sources}")
        if self.width < 2 or self.convs < 1:
            raise ValueError(f"DiscriminatorConfig: width >= 2 and convs >= 1 required, got {self.width}, {self.convs}")


def _conv_encoder(cin: int, width: int, convs: int) -> nn.Sequential:
    """``convs`` x [3x3 conv stride 2, BatchNorm, LeakyReLU 0.2] to ``width`` channels, global average
    pooling: (B, cin, H, W) -> (B, width)."""
    layers, c = [], cin
    for _ in range(convs):
        layers += [nn.Conv2d(c, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
        c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


class MultiSourceDiscriminator(nn.Module):
    """``forward(image=None, pose=None, heatmaps=None, depth=None)`` -> (B,) logits (real = lab ground
    truth). Needs ``image`` (B, 3, R, R) for 'image', ``pose`` (B, P, 3) for 'geo', ``heatmaps`` (B,
    P, h, h) and ``depth`` (B, P) for 'maps' (their depth maps are built here)."""

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        c = self.config = config or DiscriminatorConfig()
        w, P = c.width, c.num_joints
        self.embed = nn.ModuleDict()
        if "image" in c.sources:
            self.embed["image"] = _conv_encoder(3, w, c.convs)
        if "geo" in c.sources:
            self.embed["geo"] = nn.Sequential(nn.Flatten(), nn.Linear(6 * P * P, 2 * w), nn.LeakyReLU(0.2),
                                              nn.Linear(2 * w, w))
        if "maps" in c.sources:
            self.embed["maps"] = _conv_encoder(2 * P, w, max(1, c.convs - 2))
        n = w * len(c.sources)
        self.head = nn.Sequential(nn.Linear(n, w), nn.LeakyReLU(0.2), nn.Linear(w, w // 2), nn.LeakyReLU(0.2),
                                  nn.Linear(w // 2, 1))

    def forward(self, image=None, pose=None, heatmaps=None, depth=None) -> torch.Tensor:
        c = self.config
        parts = []
        for s in c.sources:                                   # fixed order: the config's
            if s == "image":
                if image is None or image.ndim != 4 or image.shape[1:] != (3, c.resolution, c.resolution):
                    raise ValueError(f"MultiSourceDiscriminator: source 'image' needs image (B, 3, {c.resolution}, "
                                     f"{c.resolution}), got {None if image is None else tuple(image.shape)}")
                parts.append(self.embed["image"](image))
            elif s == "geo":
                if pose is None or pose.ndim != 3 or pose.shape[1:] != (c.num_joints, 3):
                    raise ValueError(f"MultiSourceDiscriminator: source 'geo' needs pose (B, {c.num_joints}, 3), "
                                     f"got {None if pose is None else tuple(pose.shape)}")
                parts.append(self.embed["geo"](geometric_descriptor(pose)))
            else:
                h = c.heatmap_resolution
                if heatmaps is None or depth is None or heatmaps.shape[1:] != (c.num_joints, h, h):
                    raise ValueError(f"MultiSourceDiscriminator: source 'maps' needs heatmaps (B, {c.num_joints}, "
                                     f"{h}, {h}) and depth (B, {c.num_joints}), got "
                                     f"{None if heatmaps is None else tuple(heatmaps.shape)}")
                parts.append(self.embed["maps"](torch.cat([heatmaps, depth_maps(heatmaps, depth)], 1)))
        if len({p.shape[0] for p in parts}) != 1:
            raise ValueError(f"MultiSourceDiscriminator: the sources have different batch sizes "
                             f"{[p.shape[0] for p in parts]}")
        return self.head(torch.cat(parts, 1)).squeeze(1)


__all__ = ["SOURCES", "generator_config", "soft_argmax", "geometric_descriptor", "depth_maps",
           "DiscriminatorConfig", "MultiSourceDiscriminator"]
