"""Losses of the image chapters (Zhou et al. ICCV'17 and later).

- :func:`heatmap_loss`: L2 between predicted and Gaussian target heatmaps, summed over the stacks
  (intermediate supervision), mean over pixels, joints and images.
- :func:`depth_loss`: L2 on the normalised root-relative depths of the 3D-labelled images
  (weight ``lambda_reg = 0.1`` in the paper), divided by the whole batch size as in the official code.
- :func:`geometric_loss`: Zhou's weak supervision for 2D-only images (weight ``lambda_geo = 0.01``):
  for every bone group (arms, legs, shoulders, hips; :data:`posecore.skeleton.ZHOU_BONE_GROUPS`) the
  variance of the ratios ``l_e / l_bar_e`` where ``l_e`` is the length of bone ``e`` computed from the
  ground-truth 2D joints and the predicted depths, and ``l_bar_e`` the canonical (training-average)
  length. Units follow the official code: 2D joints normalised to [-1, 1] of the crop (``2 x / R - 1``),
  depths in the same normalised units (see :func:`posecore.models.zhou.depth_target`), and the
  canonical lengths divided by their group mean (the official ``skeletonWeight``), so a ratio is ~1 x
  the pose's scale. The 2D joints are ground-truth labels (detached), but the gradient of the predicted
  depths flows into the depth regressor and, through the features it reads, into the shared 2D module:
  as in the paper (Sec. 4.3.2: the geometric loss also improves the 2D, 90.93 -> 91.62 PCKh) and the
  official code. The recipes train this way; ``ZhouNet(geo_rows=...)`` can stop it at the depth
  regressor's input (an ablation, not used by the chapters).
"""
from __future__ import annotations

import torch

from .skeleton import BONES, NAMED_BONES, ZHOU_BONE_GROUPS

LAMBDA_REG = 0.1
LAMBDA_GEO = 0.01


def _check_finite(t: torch.Tensor, name: str) -> None:
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contain {int((~torch.isfinite(t)).sum())} NaN/inf values")


def heatmap_loss(pred, target: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
    """``pred``: one (B, J, h, w) tensor or a list of them (one per stack: each is supervised);
    ``target`` (B, J, h, w); ``visible`` (B, J) optional mask of annotated joints. Returns the sum over
    stacks of the mean squared error."""
    preds = list(pred) if isinstance(pred, (list, tuple)) else [pred]
    if not preds:
        raise ValueError("heatmap_loss: no predicted heatmaps given")
    _check_finite(target, "target heatmaps")
    w = None
    if visible is not None:
        w = torch.as_tensor(visible, device=target.device).to(target.dtype)[..., None, None]
    total = 0.0
    for i, p in enumerate(preds):
        if p.shape != target.shape:
            raise ValueError(f"heatmap_loss: stack {i} heatmaps have shape {tuple(p.shape)}, target "
                             f"{tuple(target.shape)}")
        _check_finite(p.detach(), f"predicted heatmaps (stack {i})")
        d = (p - target) ** 2
        total = total + (d * w).mean() if w is not None else total + d.mean()
    return total


def pair_overlap_loss(pred, joints_heatmap: torch.Tensor, visible: torch.Tensor, min_dist: float = 3.0) -> torch.Tensor:
    """A left/right repulsion (ours, the shared backbone's training): for every left/right pair whose two
    joints are visible and at least ``min_dist`` heatmap px apart, the mean over the map of the product
    of the two predicted maps (negative values clipped). The same two-peaked map on both joints of a
    pair -- the answer of a network that has not learnt which is left -- overlaps itself; maps that
    each commit to one joint do not. ``pred``: (B, J, h, w) or a list per stack; ``joints_heatmap``
    (B, J, 2) heatmap px; ``visible`` (B, J) bool. Returns the sum over stacks of the mean over the
    kept pairs (0 when none is kept)."""
    from .skeleton import LEFT_JOINTS, RIGHT_JOINTS
    preds = list(pred) if isinstance(pred, (list, tuple)) else [pred]
    L, R = list(LEFT_JOINTS), list(RIGHT_JOINTS)
    vis = torch.as_tensor(visible, device=joints_heatmap.device).bool()
    keep = vis[:, L] & vis[:, R] & ((joints_heatmap[:, L] - joints_heatmap[:, R]).norm(dim=-1) >= min_dist)  # (B, 6)
    total = 0.0
    for p in preds:
        overlap = (p[:, L].float().clamp_min(0) * p[:, R].float().clamp_min(0)).mean((-2, -1))  # (B, 6)
        total = total + (overlap * keep).sum() / keep.sum().clamp_min(1)
    return total


def depth_loss(pred: torch.Tensor, target: torch.Tensor, has_3d: torch.Tensor) -> torch.Tensor:
    """``pred``, ``target`` (B, J) normalised depths; ``has_3d`` (B,) bool. Sum over the labelled
    samples of the mean squared error over joints, divided by B (the official normalisation); 0 when
    no sample is labelled. NaN targets of unlabelled samples are ignored."""
    if pred.shape != target.shape:
        raise ValueError(f"depth_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    has_3d = torch.as_tensor(has_3d, dtype=torch.bool, device=pred.device)
    _check_finite(pred.detach(), "predicted depths")
    if has_3d.any():
        _check_finite(target[has_3d], "depth targets of 3D-labelled samples")
    t = torch.where(has_3d[:, None], target, pred.detach())
    per = ((pred - t) ** 2).mean(-1) * has_3d.to(pred.dtype)
    return per.sum() / max(len(pred), 1)


def _bone_table(canonical) -> dict:
    """Canonical bone lengths as {bone name: length}; accepts such a dict or a (len(BONES),) array in
    :data:`posecore.skeleton.BONES` order."""
    if isinstance(canonical, dict):
        missing = [n for g in ZHOU_BONE_GROUPS.values() for n in g if n not in canonical]
        if missing:
            raise ValueError(f"canonical bone lengths lack {missing}")
        return {k: float(v) for k, v in canonical.items()}
    c = torch.as_tensor(canonical, dtype=torch.float32).flatten()
    if len(c) != len(BONES):
        raise ValueError(f"canonical bone lengths: expected {len(BONES)} values in BONES order, got {len(c)}")
    return {name: float(c[BONES.index(b)]) for name, b in NAMED_BONES.items()}


def geometric_loss(depth: torch.Tensor, joints_2d: torch.Tensor, canonical, resolution: int,
                   rows: torch.Tensor | None = None, visible: torch.Tensor | None = None,
                   reduction: str = "mean") -> torch.Tensor:
    """Zhou's geometric constraint loss.

    ``depth`` (B, J) predicted normalised depths; ``joints_2d`` (B, J, 2) ground-truth 2D joints in
    crop pixels of a ``resolution`` crop (detached here); ``canonical`` bone lengths (dict by bone
    name or array in BONES order, any unit: only ratios within a group matter); ``rows`` (B,) bool:
    the samples it applies to (default all); ``visible`` (B, J) bool: bones with an invisible end are
    left out. Per sample: sum over groups of the (population) variance of ``l_e / l_bar_e`` over the
    group's bones. ``reduction='mean'`` sums over the applied rows and divides by B (the official
    normalisation); ``'none'`` returns (B,) (0 for rows it does not apply to)."""
    if depth.ndim != 2 or joints_2d.shape != depth.shape + (2,):
        raise ValueError(f"geometric_loss: depth (B, J) and joints_2d (B, J, 2) expected, got "
                         f"{tuple(depth.shape)} and {tuple(joints_2d.shape)}")
    _check_finite(depth.detach(), "predicted depths")
    B = depth.shape[0]
    xy = (2.0 * joints_2d.detach().to(depth.dtype) / resolution - 1.0)
    rows = torch.ones(B, dtype=torch.bool, device=depth.device) if rows is None else \
        torch.as_tensor(rows, dtype=torch.bool, device=depth.device)
    if rows.any():
        _check_finite(xy[rows], "2D joints of the geometric-loss samples")
    xy = torch.where(rows[:, None, None], xy, torch.zeros_like(xy))
    vis = torch.ones(depth.shape, dtype=torch.bool, device=depth.device) if visible is None else \
        torch.as_tensor(visible, dtype=torch.bool, device=depth.device)
    table = _bone_table(canonical)
    per = torch.zeros(B, dtype=depth.dtype, device=depth.device)
    for names in ZHOU_BONE_GROUPS.values():
        lbar = torch.tensor([table[n] for n in names], dtype=depth.dtype, device=depth.device)
        lbar = lbar / lbar.mean()
        p = [NAMED_BONES[n][0] for n in names]
        c = [NAMED_BONES[n][1] for n in names]
        l = ((xy[:, c] - xy[:, p]) ** 2).sum(-1) + (depth[:, c] - depth[:, p]) ** 2
        l = (l + 1e-12).sqrt()
        r = l / lbar                                                    # (B, E) ratios
        m = (vis[:, c] & vis[:, p]).to(depth.dtype)                    # valid bones
        n = m.sum(-1)
        mean = (r * m).sum(-1) / n.clamp_min(1)
        var = (((r - mean[:, None]) ** 2) * m).sum(-1) / n.clamp_min(1)
        per = per + torch.where(n >= 2, var, torch.zeros_like(var))
    per = per * rows.to(depth.dtype)
    if reduction == "none":
        return per
    if reduction != "mean":
        raise ValueError(f"geometric_loss: reduction must be 'mean' or 'none', got {reduction!r}")
    return per.sum() / max(B, 1)
