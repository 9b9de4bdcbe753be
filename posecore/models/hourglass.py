"""Stacked hourglass network (Newell, Yang and Deng, ECCV 2016) as the 2D module of the image chapters.

Read top to bottom:

1. :class:`HourglassConfig` -- stacks, residual modules per resolution, feature width, depth of the
   hourglass recursion, input resolution. Presets: :meth:`HourglassConfig.zhou` (2 stacks x 2 modules,
   Zhou et al. ICCV'17), :meth:`HourglassConfig.yang_ablation` (2 x 1) and
   :meth:`HourglassConfig.yang_final` (4 x 1, Yang et al. CVPR'18).
2. :class:`Residual` -- the pre-activation bottleneck residual module of the paper.
3. :class:`Hourglass` -- one recursive hourglass: a skip branch at every resolution, max-pool down,
   recurse ``depth`` times, nearest-neighbour upsample and add.
4. :class:`StackedHourglass` -- stem (7x7 stride-2 conv, residual, max-pool: 1/4 of the input
   resolution), then ``stacks`` hourglasses, each followed by a heatmap head (intermediate
   supervision on every stack) and a re-injection of features + heatmaps into the next stack.
   ``forward`` returns a dict with every stack's heatmaps and the intermediate features, so later
   chapters (Zhou's depth regressor, Yang's discriminator, ...) can build on the backbone.
5. Targets: :func:`heatmaps_from_joints` (Gaussian targets, sigma 1 at heatmap resolution). The one
   decoder of the book is :func:`posecore.data.images.decode_joints` (arg-max with sub-pixel
   refinement: a parabola through the log-peak, or the hourglass code's quarter-pixel shift).

Pixel convention (as :mod:`posecore.data.render`): integer coordinates are pixel centres, in the
crop and in the heatmap alike; pixel ``(i, j)`` of an ``h x w`` heatmap is at ``(x=j, y=i)``. A heatmap
of an ``R x R`` crop has ``h = R / 4`` and covers the same area, so crop ``u = (x + 0.5) R / h - 0.5``
(see :func:`heatmap_to_image`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..skeleton import NUM_JOINTS


# --- 1. configuration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class HourglassConfig:
    """Size of a stacked hourglass. ``resolution`` is the input image side (px); heatmaps are
    ``resolution // 4``; the hourglass recursion halves the heatmap ``depth`` times, so
    ``resolution`` must be divisible by ``4 * 2**depth``."""
    stacks: int = 2
    modules: int = 2            # residual modules per resolution (and after each hourglass)
    features: int = 256         # channels inside the hourglasses
    depth: int = 4              # recursion depth (4 at 256 px: 64 -> 32 -> 16 -> 8 -> 4)
    resolution: int = 256       # input image side in px
    num_joints: int = NUM_JOINTS
    stem_features: int = 0      # channels of the stem's first conv (0: features // 4, 64 at 256)
    heatmap_stride: int = 4     # 4: heatmaps at R / 4 (the paper); 2: at R / 2 through a fine head (below)

    def __post_init__(self):
        for k in ("stacks", "modules", "features", "depth", "resolution", "num_joints"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"HourglassConfig.{k} must be a positive int, got {v!r}")
        if self.features % 2:
            raise ValueError(f"HourglassConfig.features must be even (bottleneck halves it), got {self.features}")
        if self.heatmap_stride not in (2, 4):
            raise ValueError(f"HourglassConfig.heatmap_stride must be 2 or 4, got {self.heatmap_stride!r}")
        step = 4 * 2 ** self.depth
        if self.resolution % step:
            raise ValueError(f"HourglassConfig.resolution={self.resolution} must be divisible by "
                             f"4 * 2**depth = {step} (depth={self.depth})")

    @property
    def heatmap_resolution(self) -> int:
        return self.resolution // self.heatmap_stride

    @property
    def stem_width(self) -> int:
        return self.stem_features or max(self.features // 4, 8)

    @classmethod
    def zhou(cls, resolution: int = 256, **kw) -> "HourglassConfig":
        """Zhou et al. ICCV'17: 2 stacks x 2 residual modules, 256 features."""
        return cls(**{**dict(stacks=2, modules=2, features=256, depth=4, resolution=resolution), **kw})

    @classmethod
    def yang_ablation(cls, resolution: int = 256, **kw) -> "HourglassConfig":
        """Yang et al. CVPR'18 ablations: 2 stacks x 1 module."""
        return cls(**{**dict(stacks=2, modules=1, features=256, depth=4, resolution=resolution), **kw})

    @classmethod
    def yang_final(cls, resolution: int = 256, **kw) -> "HourglassConfig":
        """Yang et al. CVPR'18 final model: 4 stacks x 1 module."""
        return cls(**{**dict(stacks=4, modules=1, features=256, depth=4, resolution=resolution), **kw})

    def to_dict(self) -> dict:
        return asdict(self)


# --- 2. residual module ---------------------------------------------------------------------------
class Residual(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1(C/2)-BN-ReLU-3x3(C/2)-BN-ReLU-1x1(C), plus a 1x1
    projection of the input when the widths differ."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.body(x) + self.skip(x)


def residuals(n: int, cin: int, cout: int) -> nn.Sequential:
    """``n`` residual modules, the first mapping ``cin`` -> ``cout``."""
    return nn.Sequential(*[Residual(cin if i == 0 else cout, cout) for i in range(n)])


# --- 3. one hourglass -----------------------------------------------------------------------------
class Hourglass(nn.Module):
    """Recursive hourglass of ``depth`` levels: ``up`` keeps the resolution, ``low`` max-pools, goes
    through modules, recurses (or, at the bottom, more modules), then is upsampled and added."""

    def __init__(self, depth: int, modules: int, features: int):
        super().__init__()
        self.up = residuals(modules, features, features)
        self.pool = nn.MaxPool2d(2, 2)
        self.low1 = residuals(modules, features, features)
        self.low2 = Hourglass(depth - 1, modules, features) if depth > 1 else residuals(modules, features, features)
        self.low3 = residuals(modules, features, features)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.up(x) + self.upsample(self.low3(self.low2(self.low1(self.pool(x)))))


# --- 4. the stacked network -----------------------------------------------------------------------
class StackedHourglass(nn.Module):
    """Stacked hourglass. ``forward(images)`` with images ``(B, 3, R, R)`` float in [0, 1] (or
    normalised) returns a dict:

    - ``heatmaps``: list of ``stacks`` tensors ``(B, J, R/4, R/4)``, one per stack (intermediate
      supervision: the loss is applied to every one); the last is the prediction;
    - ``features``: list of the per-stack features ``(B, F, R/4, R/4)`` from which each stack's
      heatmaps are read;
    - ``merged``: ``(B, F, R/4, R/4)`` the last stack's input plus its features and heatmaps brought
      to width F by 1x1 convs and summed (what Zhou et al. feed the depth regressor and what a next
      stack would receive);
    - ``stem``: ``(B, F, R/4, R/4)`` the stem features (input of the first stack).

    With ``heatmap_stride=2`` (our departure for small inputs: at 64 px the R/4 = 16-px heatmaps put
    the two joints of a left/right pair 1-3 px apart, where their Gaussians merge) each stack's head
    reads its features upsampled 2x (nearest) plus a 1x1 projection of the stem's first, stride-2
    layer (R/2, the finest features of the network), through one residual module, and predicts
    ``(B, J, R/2, R/2)`` heatmaps; the re-injection into the next stack average-pools them back to
    R/4. The hourglasses themselves, ``features`` and ``merged`` stay at R/4.
    """

    def __init__(self, config: HourglassConfig | None = None):
        super().__init__()
        c = self.config = config or HourglassConfig()
        F, S = c.features, c.stem_width
        self.stem_fine = nn.Sequential(                          # R/2: the first, stride-2 layer
            nn.Conv2d(3, S, 7, stride=2, padding=3), nn.BatchNorm2d(S), nn.ReLU(inplace=True))
        self.stem = nn.Sequential(
            Residual(S, 2 * S), nn.MaxPool2d(2, 2), Residual(2 * S, 2 * S), Residual(2 * S, F),
        )
        self.fine = c.heatmap_stride == 2
        if self.fine:
            self.fine_skip = nn.ModuleList([nn.Conv2d(S, F, 1) for _ in range(c.stacks)])
            self.fine_res = nn.ModuleList([Residual(F, F) for _ in range(c.stacks)])
        self.hourglasses = nn.ModuleList([Hourglass(c.depth, c.modules, F) for _ in range(c.stacks)])
        self.post = nn.ModuleList([
            nn.Sequential(residuals(c.modules, F, F), nn.Conv2d(F, F, 1), nn.BatchNorm2d(F), nn.ReLU(inplace=True))
            for _ in range(c.stacks)])
        self.heads = nn.ModuleList([nn.Conv2d(F, c.num_joints, 1) for _ in range(c.stacks)])
        self.feature_back = nn.ModuleList([nn.Conv2d(F, F, 1) for _ in range(c.stacks)])
        self.heatmap_back = nn.ModuleList([nn.Conv2d(c.num_joints, F, 1) for _ in range(c.stacks)])

    def check_images(self, images: torch.Tensor) -> None:
        """Raise ValueError naming the problem unless ``images`` is a finite float (B, 3, R, R)."""
        R = self.config.resolution
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}")
        if not images.is_floating_point():
            raise ValueError(f"images must be a floating-point tensor (e.g. float32 in [0, 1]), got dtype "
                             f"{images.dtype}; convert uint8 images with images.float() / 255")
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != (R, R):
            raise ValueError(f"images must have shape (B, 3, {R}, {R}) for this hourglass "
                             f"(resolution={R}), got {tuple(images.shape)}")

    def forward(self, images: torch.Tensor) -> dict:
        self.check_images(images)
        s = self.stem_fine(images)                               # (B, S, R/2, R/2)
        x = self.stem(s)                                         # (B, F, R/4, R/4)
        out = {"stem": x, "heatmaps": [], "features": []}
        for i in range(self.config.stacks):
            f = self.post[i](self.hourglasses[i](x))
            if self.fine:
                up = nn.functional.interpolate(f, scale_factor=2.0, mode="nearest")   # (B, F, R/2, R/2)
                h = self.heads[i](self.fine_res[i](up + self.fine_skip[i](s)))      # (B, J, R/2, R/2)
                h_coarse = nn.functional.avg_pool2d(h, 2)                           # (B, J, R/4, R/4)
            else:
                h = h_coarse = self.heads[i](f)                                     # (B, J, R/4, R/4)
            out["heatmaps"].append(h)
            out["features"].append(f)
            x = x + self.feature_back[i](f) + self.heatmap_back[i](h_coarse)
        out["merged"] = x
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- 5. Gaussian targets and sub-pixel decoding ---------------------------------------------------
def heatmaps_from_joints(joints: torch.Tensor, size: int, sigma: float = 1.0, visible=None) -> torch.Tensor:
    """Gaussian target heatmaps. ``joints`` (B, J, 2) in heatmap coordinates (x, y), ``size`` the
    heatmap side, ``sigma`` in heatmap pixels (1 in the papers). Invisible joints (``visible``
    (B, J) False) and joints off the map get an all-zero heatmap. Returns (B, J, size, size) with peak 1."""
    joints = torch.as_tensor(joints, dtype=torch.float32)
    if joints.ndim != 3 or joints.shape[-1] != 2:
        raise ValueError(f"joints must have shape (B, J, 2), got {tuple(joints.shape)}")
    grid = torch.arange(size, dtype=joints.dtype, device=joints.device)
    gx = torch.exp(-(grid[None, None, :] - joints[..., 0:1]) ** 2 / (2 * sigma ** 2))  # (B, J, W)
    gy = torch.exp(-(grid[None, None, :] - joints[..., 1:2]) ** 2 / (2 * sigma ** 2))  # (B, J, H)
    hm = gy[..., :, None] * gx[..., None, :]
    keep = ((joints >= -0.5) & (joints <= size - 0.5)).all(-1) & torch.isfinite(joints).all(-1)
    if visible is not None:
        keep = keep & torch.as_tensor(visible, dtype=torch.bool, device=joints.device)
    return torch.nan_to_num(hm) * keep[..., None, None].to(hm.dtype)


def heatmap_to_image(coords, image_resolution: int, heatmap_resolution: int):
    """Heatmap (x, y) -> crop pixel coordinates, with integer coordinates at pixel centres in both
    (the renderer's convention: the heatmap's pixel edges coincide with the crop's):
    ``u = (x + 0.5) * R / h - 0.5``."""
    k = image_resolution / heatmap_resolution
    return (coords + 0.5) * k - 0.5


def image_to_heatmap(coords, image_resolution: int, heatmap_resolution: int):
    """Crop pixel coordinates -> heatmap (x, y): ``x = (u + 0.5) * h / R - 0.5``."""
    k = heatmap_resolution / image_resolution
    return (coords + 0.5) * k - 0.5


# --- 6. an auxiliary facing head (the backbone's training only) -------------------------------------
def facing_target(joints_2d: torch.Tensor, visible: torch.Tensor, resolution: int):
    """Whether each body faces the camera, read from its 2D labels: (B, 17, 2) crop px and (B, 17)
    visibility -> (target (B,) float 1/0, weight (B,) in [0, 1]). Facing the camera puts the subject's
    left shoulder and hip right of the right ones in the image: ``d = (x_lsho - x_rsho) + (x_lhip -
    x_rhip)``, target ``d > 0``. The weight is ``|d| / (0.1 R)`` capped at 1 (a body seen from the side
    is ambiguous) and 0 unless the four joints are visible. Mirroring an image (x -> R - 1 - x, left and
    right swapped) keeps ``d``."""
    j = joints_2d.float()
    d = (j[:, 11, 0] - j[:, 14, 0]) + (j[:, 4, 0] - j[:, 1, 0])  # (B,) left minus right, shoulders + hips
    ok = visible[:, [1, 4, 11, 14]].all(1)
    weight = (d.abs() / (0.1 * resolution)).clamp(max=1.0) * ok.to(j.dtype)
    return (d > 0).to(j.dtype), weight


class FacingHead(nn.Module):
    """An auxiliary classifier on a stacked hourglass's per-stack ``features`` (B, F, h, w): global
    average pool, then one linear layer per stack -> a logit (B,) per stack, "the body faces the
    camera". Not part of the backbone's weights: it only shapes them during training."""

    def __init__(self, features: int, stacks: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(features, 1) for _ in range(stacks))

    def forward(self, features: list) -> list:
        return [head(f.float().mean((2, 3)))[:, 0] for head, f in zip(self.heads, features)]  # (B,) each
