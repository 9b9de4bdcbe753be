"""Evaluation metrics of the 3D human pose literature.

One path for numpy and torch: inputs are converted to torch (float64 for numpy inputs), computed once,
and returned in the input's kind: numpy in -> Python float (``reduction='mean'``) or numpy array
(``reduction='none'``); torch in -> torch tensor (differentiable where the metric is). Poses are
``(N, J, C)``; 3D in mm, 2D in px. Joint order is posecore's 17-joint Human3.6M layout.

=================  ==========================================================================
metric             definition
=================  ==========================================================================
mpjpe              Protocol #1: mean Euclidean joint error after aligning the roots (pelvis)
p_mpjpe            Protocol #2: error after a similarity Procrustes alignment (scale, proper
                   rotation, translation; never a reflection)
n_mpjpe            error after the optimal scale only (root aligned), as in Rhodin et al. 2018
pck3d / auc3d      MPI-INF-3DHP: % of the 14 evaluation joints within 150 mm (root aligned);
                   AUC = mean PCK over thresholds 0, 5, ..., 150 mm (31 steps)
pckh               MPII: % of visible joints within ``threshold`` x head size of the truth
symmetry_error     Zhou et al. ICCV'17: mean |left - right| length of arms and legs
=================  ==========================================================================
"""
from __future__ import annotations

import re

import numpy as np
import torch

from .skeleton import LEFT_JOINTS, NAMED_BONES, NUM_JOINTS, RIGHT_JOINTS, SYMMETRIC_LIMBS

# 3DHP's 14 evaluation joints in posecore's order: all but pelvis (0), spine (7) and neck/nose (9)
PCK_JOINTS_14 = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)
AUC_THRESHOLDS = np.linspace(0.0, 150.0, 31)


def _to_torch(*arrays):
    """Convert inputs to torch; returns (tensors, was_numpy)."""
    was_numpy = not isinstance(arrays[0], torch.Tensor)
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        elif isinstance(a, torch.Tensor):
            out.append(a)
        else:
            a = np.asarray(a, dtype=np.float64)
            out.append(torch.from_numpy(a if a.flags.writeable else a.copy()))   # read-only views (broadcast_to)
    return out, was_numpy


def _finish(value: torch.Tensor, was_numpy: bool, reduction: str):
    if reduction == "mean":
        value = value.mean()
    elif reduction != "none":
        raise ValueError(f"unknown reduction {reduction!r}; choose 'mean' or 'none'")
    if not was_numpy:
        return value
    return float(value) if value.ndim == 0 else value.detach().cpu().numpy()


def _check_pair(pred, target, name):
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"{name}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.ndim != 3:
        raise ValueError(f"{name}: expected (N, J, C) poses, got shape {tuple(pred.shape)}")
    for label, a in (("prediction", pred), ("target", target)):
        if not torch.isfinite(a).all():
            raise ValueError(f"{name}: {label} contains NaN/inf")


def mpjpe(pred, target, root: int | None = 0, reduction: str = "mean"):
    """Protocol #1. ``pred``, ``target`` (N, J, 3) mm; ``root``: joint subtracted from both first
    (None: no alignment). Returns mm: mean, or (N,) per sample with ``reduction='none'``."""
    (p, t), was_np = _to_torch(pred, target)
    _check_pair(p, t, "mpjpe")
    if root is not None:
        p = p - p[:, root:root + 1]
        t = t - t[:, root:root + 1]
    return _finish((p - t).norm(dim=-1).mean(-1), was_np, reduction)


def procrustes_align(pred, target):
    """Similarity-align ``pred`` to ``target`` (N, J, 3) (torch): the optimal scale, proper rotation
    (det +1: a reflection is never used) and translation, by Umeyama's SVD solution."""
    mu_p, mu_t = pred.mean(1, keepdim=True), target.mean(1, keepdim=True)
    p0, t0 = pred - mu_p, target - mu_t
    H = p0.transpose(1, 2) @ t0                                     # (N, 3, 3) cross-covariance
    U, S, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(Vh.transpose(1, 2) @ U.transpose(1, 2)))
    D = torch.ones_like(S)
    D[:, -1] = d                                                    # flip the last axis if needed
    R = Vh.transpose(1, 2) @ torch.diag_embed(D) @ U.transpose(1, 2)  # (N, 3, 3): p0 @ R^T ~ t0
    var_p = (p0 ** 2).sum(dim=(1, 2))
    scale = (S * D).sum(-1) / var_p.clamp_min(1e-12)
    return scale[:, None, None] * p0 @ R.transpose(1, 2) + mu_t


def p_mpjpe(pred, target, reduction: str = "mean"):
    """Protocol #2: MPJPE after similarity Procrustes alignment (no reflection). (N, J, 3) mm."""
    (p, t), was_np = _to_torch(pred, target)
    _check_pair(p, t, "p_mpjpe")
    aligned = procrustes_align(p, t)
    return _finish((aligned - t).norm(dim=-1).mean(-1), was_np, reduction)


def n_mpjpe(pred, target, root: int = 0, reduction: str = "mean"):
    """MPJPE after root alignment and the least-squares scale of ``pred``. (N, J, 3) mm."""
    (p, t), was_np = _to_torch(pred, target)
    _check_pair(p, t, "n_mpjpe")
    p = p - p[:, root:root + 1]
    t = t - t[:, root:root + 1]
    s = (p * t).sum(dim=(1, 2)) / (p * p).sum(dim=(1, 2)).clamp_min(1e-12)
    return _finish((s[:, None, None] * p - t).norm(dim=-1).mean(-1), was_np, reduction)


def _merge_subaction(name: str) -> str:
    """'Directions 1' / 'Eating_2' / 'Walking.54138969' -> base name (subactions merged)."""
    return re.sub(r"[\s_.\-]*\d+$", "", str(name).split(".")[0]).strip() or str(name)


def per_action(errors, actions, canonical=None) -> dict:
    """Average per-sample ``errors`` (N,) by action, merging subactions ('Directions 1' and
    'Directions 2' -> 'Directions'), then add 'Average' = the mean over actions (the Human3.6M
    convention: each action weighs the same). ``canonical`` optionally maps names (e.g.
    :func:`posecore.data.h36m.canonical_action`)."""
    errors = np.asarray(errors.detach().cpu() if isinstance(errors, torch.Tensor) else errors, np.float64)
    actions = np.asarray(actions).astype(str)
    if errors.shape != actions.shape:
        raise ValueError(f"per_action: errors {errors.shape} and actions {actions.shape} differ in shape")
    names = np.array([(canonical or _merge_subaction)(a) for a in actions])
    out = {a: float(errors[names == a].mean()) for a in sorted(set(names.tolist()))}
    out["Average"] = float(np.mean(list(out.values()))) if out else float("nan")
    return out


def pck3d(pred, target, threshold: float = 150.0, joints=PCK_JOINTS_14, root: int = 0, reduction: str = "mean"):
    """3DHP PCK (%): share of ``joints`` within ``threshold`` mm after root alignment. (N, 17, 3)."""
    (p, t), was_np = _to_torch(pred, target)
    _check_pair(p, t, "pck3d")
    p = p - p[:, root:root + 1]
    t = t - t[:, root:root + 1]
    d = (p - t).norm(dim=-1)[:, list(joints)]
    return _finish(100.0 * (d <= threshold).double().mean(-1), was_np, reduction)


def auc3d(pred, target, thresholds=AUC_THRESHOLDS, joints=PCK_JOINTS_14, root: int = 0):
    """3DHP AUC (%): mean of :func:`pck3d` over ``thresholds`` (0..150 mm, 31 steps)."""
    (p, t), was_np = _to_torch(pred, target)
    vals = torch.stack([pck3d(p, t, float(th), joints, root) for th in thresholds])
    return _finish(vals.mean(), was_np, "none")


def head_size_from_joints(poses_2d):
    """A head size for PCKh when no head box exists: the neck (9) to head-top (10) distance x 2,
    about the 0.6 x head-box diagonal of MPII. (N, 17, 2) -> (N,)."""
    (p,), was_np = _to_torch(poses_2d)
    return _finish(2.0 * (p[:, 10] - p[:, 9]).norm(dim=-1), was_np, "none")


def pckh(pred_2d, gt_2d, head_size, visible=None, threshold: float = 0.5, reduction: str = "mean"):
    """PCKh@threshold (%): share of visible joints whose error is within ``threshold`` x ``head_size``
    (N,) px. ``visible`` (N, J) bool (default all). 'mean' pools all visible joints (MPII convention);
    'none' gives per-joint PCKh (J,)."""
    (p, t, h), was_np = _to_torch(pred_2d, gt_2d, head_size)
    _check_pair(p, t, "pckh")
    h = h.reshape(-1).to(p.dtype)
    if h.shape[0] != p.shape[0] or not (h > 0).all():
        raise ValueError(f"pckh: head_size must be (N,) positive values, got shape {tuple(h.shape)}")
    vis = torch.ones(p.shape[:2], dtype=torch.bool) if visible is None else torch.as_tensor(np.asarray(visible) if not isinstance(visible, torch.Tensor) else visible, dtype=torch.bool)
    hit = ((p - t).norm(dim=-1) <= threshold * h[:, None]) & vis.to(p.device)
    if reduction == "none":
        value = 100.0 * hit.double().sum(0) / vis.double().sum(0).clamp_min(1)
        return value.cpu().numpy() if was_np else value
    value = 100.0 * hit.double().sum() / vis.double().sum().clamp_min(1)
    return _finish(value, was_np, "none")


def paired_joint_ratio(pred_2d, gt_2d, visible=None) -> float:
    """Left/right diagnostic: mean predicted distance between the left and right joint of each pair
    (hips, knees, ankles, shoulders, elbows, wrists) over the mean true distance, on pairs whose two
    joints are both visible. 1 for a perfect prediction; ~0 when a network puts both joints of each
    pair on the same spot (e.g. the pair's midpoint). (N, 17, C) -> float."""
    (p, t), _ = _to_torch(pred_2d, gt_2d)
    _check_pair(p, t, "paired_joint_ratio")
    L, R = list(LEFT_JOINTS), list(RIGHT_JOINTS)
    vis = torch.ones(p.shape[:2], dtype=torch.bool) if visible is None else torch.as_tensor(np.asarray(visible), dtype=torch.bool)
    both = vis[:, L] & vis[:, R]
    if not both.any():
        raise ValueError("paired_joint_ratio: no pair has both joints visible")
    dp = (p[:, L] - p[:, R]).norm(dim=-1)[both]
    dt = (t[:, L] - t[:, R]).norm(dim=-1)[both]
    return float(dp.mean() / dt.mean().clamp_min(1e-12))


def partner_nearer(pred_2d, gt_2d, visible=None) -> float:
    """Left/right diagnostic (%): of the joints of every left/right pair whose two joints are visible
    and apart (> 1 px), the share predicted nearer the partner's true position than their own (0 for a
    network that tells left from right, ~50 for one that guesses). (N, 17, C) -> float."""
    (p, t), _ = _to_torch(pred_2d, gt_2d)
    _check_pair(p, t, "partner_nearer")
    L, R = list(LEFT_JOINTS), list(RIGHT_JOINTS)
    vis = torch.ones(p.shape[:2], dtype=torch.bool) if visible is None else torch.as_tensor(np.asarray(visible), dtype=torch.bool)
    ok = vis[:, L] & vis[:, R] & ((t[:, L] - t[:, R]).norm(dim=-1) > 1.0)
    if not ok.any():
        raise ValueError("partner_nearer: no pair has both joints visible and apart")
    wrong = torch.cat([((p[:, L] - t[:, R]).norm(dim=-1) < (p[:, L] - t[:, L]).norm(dim=-1))[ok],
                       ((p[:, R] - t[:, L]).norm(dim=-1) < (p[:, R] - t[:, R]).norm(dim=-1))[ok]])
    return float(100.0 * wrong.double().mean())


def limb_lengths(poses, names=None) -> dict:
    """{bone name: (N,) lengths} for the named bones of :data:`posecore.skeleton.NAMED_BONES`."""
    (p,), was_np = _to_torch(poses)
    out = {}
    for n in names or NAMED_BONES:
        a, b = NAMED_BONES[n]
        v = (p[:, b] - p[:, a]).norm(dim=-1)
        out[n] = v.cpu().numpy() if was_np else v
    return out


def symmetry_error(poses) -> dict:
    """Zhou et al. Table 4: mean |left - right| length (input units) of upper/lower arms and legs,
    plus 'mean' over the four. ``poses`` (N, 17, C) with C = 3 (mm) or 2 (px)."""
    (p,), _ = _to_torch(poses)
    if p.ndim != 3 or p.shape[1] != NUM_JOINTS:
        raise ValueError(f"symmetry_error: expected (N, 17, C) poses, got {tuple(p.shape)}")
    L = limb_lengths(p)
    out = {limb: float((L[l] - L[r]).abs().mean()) for limb, (l, r) in SYMMETRIC_LIMBS.items()}
    out["mean"] = float(np.mean(list(out.values())))
    return out
