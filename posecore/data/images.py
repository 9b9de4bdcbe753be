"""Images and heatmap targets on a :class:`~posecore.data.dataset.PoseSet`: a torch ``Dataset`` that
renders person-centred crops with :mod:`posecore.data.render`, plus Gaussian heatmap targets and
their decoding.

Coordinates: integer coordinates are pixel centres at every resolution. A crop of ``R`` px and its
heatmaps of ``h`` px cover the same square, so ``hm = (crop + 0.5) * h / R - 0.5`` (see
:func:`crop_to_heatmap` / :func:`heatmap_to_crop`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..skeleton import NUM_JOINTS
from .dataset import PoseSet
from .render import VERSION as render_version
from .render import render_samples

BATCH_KEYS = ("image", "heatmaps", "joints_2d", "joints_heatmap", "joints_visible", "joints_occluded",
              "poses_3d", "has_3d", "depth", "intrinsics_crop", "head_size", "index", "scene")


# --- coordinates and heatmaps -------------------------------------------------------------------
def crop_to_heatmap(joints, resolution: int, heatmap_resolution: int):
    """Crop px -> heatmap px (same square, pixel centres aligned)."""
    return (joints + 0.5) * (heatmap_resolution / resolution) - 0.5


def heatmap_to_crop(joints, resolution: int, heatmap_resolution: int):
    """Heatmap px -> crop px (inverse of :func:`crop_to_heatmap`)."""
    return (joints + 0.5) * (resolution / heatmap_resolution) - 0.5


def heatmaps_from_joints(joints: torch.Tensor, visible: torch.Tensor | None, size: int,
                         sigma: float = 1.0) -> torch.Tensor:
    """Gaussian heatmap targets: ``joints`` (B, J, 2) heatmap px (x, y), ``visible`` (B, J) bool or
    None -> (B, J, size, size) float32 ``exp(-d^2 / (2 sigma^2))`` with peak 1 at the (sub-pixel) joint.
    The map is all zeros for joints that are not visible or whose centre lies outside the map."""
    joints = torch.as_tensor(joints)
    if joints.ndim != 3 or joints.shape[-1] != 2:
        raise ValueError(f"heatmaps_from_joints: joints must be (B, J, 2), got {tuple(joints.shape)}")
    if not torch.isfinite(joints).all():
        raise ValueError("heatmaps_from_joints: joints contain NaN/inf")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"heatmaps_from_joints: size must be a positive int, got {size!r}")
    if not sigma > 0:
        raise ValueError(f"heatmaps_from_joints: sigma must be > 0, got {sigma!r}")
    joints = joints.float()
    b, j = joints.shape[:2]
    vis = torch.ones(b, j, dtype=torch.bool, device=joints.device) if visible is None else \
        torch.as_tensor(visible, device=joints.device).bool()
    if tuple(vis.shape) != (b, j):
        raise ValueError(f"heatmaps_from_joints: visible must be ({b}, {j}), got {tuple(vis.shape)}")
    return gaussian_maps(joints, vis, size, sigma)


def gaussian_maps(joints: torch.Tensor, visible: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """:func:`heatmaps_from_joints` without its input checks, for labels finite by construction (the
    photo datasets: there the checks cost as much as the maps). (B, J, 2) float32, (B, J) bool -> (B, J,
    size, size)."""
    inside = ((joints >= -0.5) & (joints < size - 0.5)).all(-1) & visible
    ar = torch.arange(size, dtype=torch.float32, device=joints.device)
    k = -0.5 / (sigma * sigma)
    gx = torch.exp(k * (ar - joints[..., 0:1]) ** 2) * inside[..., None]  # (B, J, size)
    gy = torch.exp(k * (ar - joints[..., 1:2]) ** 2)
    return gy[..., :, None] * gx[..., None, :]                            # (B, J, size, size)


def decode_heatmaps(heatmaps: torch.Tensor, method: str = "parabola"):
    """Heatmaps (B, J, h, w) -> (coords (B, J, 2) heatmap px (x, y), maxvals (B, J)).

    The arg-max is refined to sub-pixel precision: ``'quarter'`` shifts it a quarter pixel towards the
    higher neighbour on each axis (Newell et al., 2016); ``'parabola'`` (default) fits a parabola to the
    log of the arg-max and its two neighbours per axis, which is exact for Gaussian peaks (as in
    DARK, Zhang et al., 2020); ``'argmax'`` does no refinement."""
    if not isinstance(heatmaps, torch.Tensor):
        raise ValueError(f"decode_heatmaps: expected a torch.Tensor, got {type(heatmaps).__name__}")
    if heatmaps.ndim != 4 or heatmaps.shape[-1] < 1 or heatmaps.shape[-2] < 1:
        raise ValueError(f"decode_heatmaps: heatmaps must be (B, J, h, w), got {tuple(heatmaps.shape)}")
    if not heatmaps.is_floating_point():
        raise ValueError(f"decode_heatmaps: heatmaps must be floating point, got {heatmaps.dtype}")
    if not torch.isfinite(heatmaps).all():
        raise ValueError("decode_heatmaps: heatmaps contain NaN/inf")
    if method not in ("parabola", "quarter", "argmax"):
        raise ValueError(f"decode_heatmaps: unknown method {method!r}; choose 'parabola', 'quarter', 'argmax'")
    hm = heatmaps.detach().float()
    b, j, h, w = hm.shape
    flat = hm.reshape(b, j, h * w)
    maxvals, am = flat.max(-1)
    x, y = am % w, torch.div(am, w, rounding_mode="floor")
    coords = torch.stack([x, y], -1).float()
    if method == "argmax":
        return coords, maxvals

    def at(dx, dy):
        xx, yy = (x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1)
        return flat.gather(-1, (yy * w + xx)[..., None])[..., 0]
    c = maxvals
    for axis, (lo, hi), n in ((0, (at(-1, 0), at(1, 0)), w), (1, (at(0, -1), at(0, 1)), h)):
        pos = coords[..., axis]
        interior = (pos > 0) & (pos < n - 1)
        if method == "quarter":
            delta = 0.25 * torch.sign(hi - lo)
        else:
            eps = 1e-10
            lc, ll, lh = (torch.log(v.clamp_min(eps)) for v in (c, lo, hi))
            den = ll - 2 * lc + lh
            delta = torch.where(den < -1e-12, 0.5 * (ll - lh) / den.clamp(max=-1e-12), torch.zeros_like(den))
            delta = delta.clamp(-0.5, 0.5)
        coords[..., axis] = pos + torch.where(interior & (c > 0), delta, torch.zeros_like(delta))
    return coords, maxvals


def decode_joints(heatmaps: torch.Tensor, image_resolution: int, method: str = "parabola"):
    """The one way the book reads joints off heatmaps: :func:`decode_heatmaps` (B, J, h, w) ->
    (crop px (B, J, 2) of an ``image_resolution`` crop, maxvals (B, J)). Heatmap and crop pixel edges
    coincide, integer coordinates are pixel centres: ``u = (x + 0.5) * R / h - 0.5``."""
    coords, maxvals = decode_heatmaps(heatmaps.float(), method)
    k = image_resolution / heatmaps.shape[-1]
    return (coords + 0.5) * k - 0.5, maxvals


def check_images(images: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
    """Raise ValueError unless ``images`` is a finite float (B, 3, R, R) (or (3, R, R)) tensor with
    values in [0, 1] (and R == ``resolution`` when given)."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim not in (3, 4) or images.shape[-3] != 3 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images: expected (B, 3, R, R) or (3, R, R), got {tuple(images.shape)}")
    if resolution is not None and images.shape[-1] != resolution:
        raise ValueError(f"images: expected resolution {resolution}, got {images.shape[-1]}")
    if not images.is_floating_point():
        raise ValueError(f"images: expected a float tensor in [0, 1], got {images.dtype}")
    if not torch.isfinite(images).all():
        raise ValueError("images: contain NaN/inf")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"images: values outside [0, 1] ({float(images.min()):.3f}..{float(images.max()):.3f})")
    return images


def collate(items: list[dict]) -> dict:
    """Stack a list of :meth:`ImageDataset.__getitem__` dicts into a batch (``scene`` stays a list)."""
    if not items:
        raise ValueError("collate: empty batch")
    out = {}
    for k in items[0]:
        v = [it[k] for it in items]
        if k == "scene":
            out[k] = list(v)
        elif isinstance(v[0], torch.Tensor):
            out[k] = torch.stack(v)
        else:
            out[k] = torch.as_tensor(v)
    return out


# --- dataset ------------------------------------------------------------------------------------
class BatchDataset(Dataset):
    """A dataset whose items are one-sample slices of its ``get_batch`` (ImageDataset, PhotoDataset):
    ``ds[i]`` is ``get_batch([i])`` without the batch axis; ``collate`` puts items back together."""

    def __getitem__(self, i) -> dict:
        b = self.get_batch([int(i)])
        return {k: (v[0].cpu() if isinstance(v, torch.Tensor) else v[0]) for k, v in b.items()} | \
            {"index": int(b["index"][0]), "has_3d": bool(b["has_3d"][0])}

    @staticmethod
    def collate(items: list[dict]) -> dict:
        return collate(items)


class ImageDataset(BatchDataset):
    """Rendered person-centred crops, heatmaps and labels for a :class:`PoseSet`.

    ``render_poses_3d`` (N, 17, 3): the 3D poses to draw when the PoseSet's 3D labels are hidden
    (2D-only splits: the labels still come from the PoseSet, ``has_3d`` False); by default the
    PoseSet's own ``poses_3d`` (then every sample must have 3D). ``augment``: crop scale / shift
    jitter (``scale_jitter``, ``shift_jitter``), different in every epoch (:meth:`set_epoch`); the
    scene styles (wild clothing, light, occluders, truncation) are always drawn, from ``(seed, index)``.
    ``cache``: False, True (in memory) or a directory (on-disk ``.npy`` memmaps, shared between runs
    with the same settings); images are stored as uint8 (renders are 8-bit quantised, so a cached
    image equals a fresh one). Caching is disabled while ``augment`` is on.

    Items: ``image`` (3, R, R) float32 in [0, 1]; ``heatmaps`` (17, h, h) Gaussian targets (zero map
    for joints outside the crop or not annotated); ``joints_2d`` (17, 2) crop px; ``joints_heatmap``
    (17, 2) heatmap px; ``joints_visible`` (17,) bool; ``joints_occluded`` (17,) bool; ``poses_3d``
    (17, 3) root-relative mm (zeros without 3D); ``has_3d``; ``depth`` (17,) root-relative z mm (zeros
    without 3D); ``intrinsics_crop`` (4,); ``head_size`` crop px (MPII's PCKh head size of the rendered
    head, :func:`posecore.data.render.head_sizes`); ``index``; ``scene``.
    """

    def __init__(self, poses: PoseSet, resolution: int = 64, heatmap_resolution: int | None = None,
                 sigma: float = 1.0, render_poses_3d: np.ndarray | None = None, augment: bool = False,
                 seed: int = 0, cache: bool | str = False, device="cpu", *, scale_jitter: float = 0.25,
                 shift_jitter: float = 0.1, margin: float = 1.25):
        if not isinstance(poses, PoseSet):
            raise TypeError(f"ImageDataset: poses must be a PoseSet, got {type(poses).__name__}")
        if not isinstance(resolution, (int, np.integer)) or resolution < 8:
            raise ValueError(f"ImageDataset: resolution must be an int >= 8, got {resolution!r}")
        self.poses = poses
        self.resolution = int(resolution)
        self.heatmap_resolution = int(heatmap_resolution or max(1, resolution // 4))
        self.sigma = float(sigma)
        n = len(poses)
        if render_poses_3d is None:
            if not poses.has_3d.all():
                raise ValueError("ImageDataset: the PoseSet has samples without 3D (has_3d False); pass "
                                 "the hidden 3D poses to draw as render_poses_3d")
            render = poses.poses_3d
        else:
            render = np.asarray(render_poses_3d, np.float32)
            if render.shape != (n, NUM_JOINTS, 3):
                raise ValueError(f"ImageDataset: render_poses_3d must be ({n}, 17, 3), got {render.shape}")
        if not np.isfinite(render).all():
            raise ValueError("ImageDataset: 3D poses to render contain NaN/inf")
        if (render[..., 2] <= 0).any():
            raise ValueError("ImageDataset: 3D poses to render have joints at or behind the camera (z <= 0)")
        self.render_poses_3d = np.ascontiguousarray(render, np.float32)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0
        self.device = torch.device(device)
        self.scale_jitter, self.shift_jitter, self.margin = scale_jitter, shift_jitter, margin
        # labels (NaN-free)
        has3d = poses.has_3d.astype(bool)
        rel = np.where(has3d[:, None, None], poses.poses_3d - poses.poses_3d[:, :1], 0.0)
        self._rel3d = torch.as_tensor(np.nan_to_num(rel).astype(np.float32))
        self._has3d = torch.as_tensor(has3d)
        self._cache_mode = cache
        self._cache_img = self._cache_done = None
        if cache:
            self._init_cache(cache)

    # -- caching ----------------------------------------------------------------------------------
    def _cache_key(self) -> str:
        h = hashlib.sha1()
        h.update(self.render_poses_3d.tobytes())
        h.update(self.poses.intrinsics.tobytes())
        h.update("|".join(self.poses.scene.tolist()).encode())
        h.update("|".join(self.poses.subject.tolist()).encode())
        h.update(json.dumps([self.resolution, self.seed, self.margin, f"render-v{render_version}"]).encode())
        return h.hexdigest()[:16]

    def _init_cache(self, cache):
        n, R = len(self.poses), self.resolution
        if cache is True:
            self._cache_img = np.zeros((n, 3, R, R), np.uint8)
            self._cache_done = np.zeros(n, bool)
            self._cache_occ = np.zeros((n, NUM_JOINTS), bool)
        else:
            d = Path(cache)
            d.mkdir(parents=True, exist_ok=True)
            key = self._cache_key()
            fi, fd = d / f"images_{key}.npy", d / f"done_{key}.npy"
            exists = fi.exists() and fd.exists() and (d / f"occluded_{key}.npy").exists()
            mode = "r+" if exists else "w+"
            self._cache_img = np.lib.format.open_memmap(fi, mode=mode, dtype=np.uint8, shape=(n, 3, R, R))
            self._cache_done = np.lib.format.open_memmap(fd, mode=mode, dtype=bool, shape=(n,))
            self._cache_occ = np.lib.format.open_memmap(d / f"occluded_{key}.npy", mode=mode, dtype=bool,
                                                        shape=(n, NUM_JOINTS))

    # -- access -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.poses)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (crop jitter) for a new epoch (no effect without augment)."""
        self.epoch = int(epoch)

    def _render_seed(self) -> int:
        return self.seed if not self.augment else (self.seed * 1000003 + 7919 * self.epoch) & 0x7FFFFFFF

    def get_batch(self, indices) -> dict:
        """Render and label a batch at once on ``device``; keys as :meth:`__getitem__`, stacked."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"ImageDataset: index out of range for {n} samples")
        idx = np.where(idx < 0, idx + n, idx)
        R, hr = self.resolution, self.heatmap_resolution
        jit = (self.scale_jitter, self.shift_jitter) if self.augment else (0.0, 0.0)
        kw = dict(scale_jitter=jit[0], shift_jitter=jit[1], margin=self.margin,
                  render_poses_3d=self.render_poses_3d, device=self.device)
        use_cache = self._cache_img is not None and not self.augment
        if not use_cache:
            out = render_samples(self.poses, idx, R, self._render_seed(), **kw)
            images, occluded = out["images"], out["occluded"]
        else:
            out = render_samples(self.poses, idx, R, self._render_seed(), images=False, **kw)
            todo = np.unique(idx[~np.asarray(self._cache_done[idx])])
            if len(todo):
                fresh = render_samples(self.poses, todo, R, self._render_seed(), **kw)
                self._cache_img[todo] = torch.round(fresh["images"] * 255).to(torch.uint8).cpu().numpy()
                self._cache_occ[todo] = fresh["occluded"].cpu().numpy()
                self._cache_done[todo] = True
            images = torch.as_tensor(np.asarray(self._cache_img[idx])).to(self.device).float() / 255.0
            occluded = torch.as_tensor(np.asarray(self._cache_occ[idx])).to(self.device)
        vis = out["visible"]
        jhm = crop_to_heatmap(out["joints_2d"], R, hr)
        heat = heatmaps_from_joints(jhm, vis, hr, self.sigma)
        rel = self._rel3d[idx].to(self.device)
        return dict(image=images, heatmaps=heat, joints_2d=out["joints_2d"], joints_heatmap=jhm,
                    joints_visible=vis, joints_occluded=occluded, poses_3d=rel,
                    has_3d=self._has3d[idx].to(self.device), depth=rel[..., 2].clone(),
                    intrinsics_crop=out["intrinsics_crop"], head_size=out["head_size"],
                    index=torch.as_tensor(idx, device=self.device),
                    scene=[str(s) for s in self.poses.scene[idx]])

