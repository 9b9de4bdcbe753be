"""How far a 2D pose lies from the poses a lifter learned from: a per-pose novelty score.

A lifter trained on walking, running and dancing has never seen anyone sit; lifting a seated person
gives an error several times its test error, and nothing in the output says so. The novelty score
is the distance from an input 2D pose to the nearest pose of a fixed sample of the lifter's
training inputs (the *index*, stored in the lifter's file):

1. the 2D pose is camera-normalised as the lifter sees it (((u - cx) / fx, (v - cy) / fy); pixels
   for a pixel-input lifter);
2. then made root-relative and divided by its RMS joint distance from the root, so where the
   person stands and how far from the camera drop out (the lifter's root-relative 3D does not
   depend on them much; chapter 11 measures that the raw standardised input ranks errors worse);
3. novelty = the Euclidean distance to the nearest index pose / sqrt(17): the RMS displacement per
   joint, in units of the pose's own size (0.1 = joints on average 10 % of the body's radius away
   from the closest training pose).

An index is ``{"poses": (M, 34) float16 tensor of normalised training poses, "threshold": float,
"threshold_rule": str, "size": M, "seed": int}``; :func:`build_index` samples M poses without
replacement (seeded) and sets the threshold to the 99th percentile of the novelty of held-out
poses from the training distribution ("further from the training poses than 99 % of unseen
poses like them"). Pure maths: numpy and torch, no files.
"""
from __future__ import annotations

import numpy as np
import torch

from .skeleton import NUM_JOINTS, ROOT

INDEX_SIZE = 4096          # poses kept: 4096 x 34 float16 = 279 kB (ranked errors as well as all 47,561 did)
THRESHOLD_QUANTILE = 99.0  # percentile of held-out in-distribution novelty that sets the threshold
_CHUNK = 2048              # queries per distance block: (2048, M) float32 = 33 MB at M = 4096


def shape_features(poses_2d, intrinsics=None) -> np.ndarray:
    """(N, 17, 2) px (+ (N, 4) or (4,) fx, fy, cx, cy) -> (N, 34) float32: camera-normalised (when
    intrinsics are given), root-relative, divided by the RMS joint distance from the root."""
    p = np.asarray(poses_2d, np.float64)
    assert p.ndim == 3 and p.shape[1:] == (NUM_JOINTS, 2), f"poses_2d: expected (N, 17, 2), got {p.shape}"
    if intrinsics is not None:
        K = np.broadcast_to(np.asarray(intrinsics, np.float64), (len(p), 4))[:, None]   # (N, 1, 4)
        p = (p - K[..., 2:]) / K[..., :2]
    p = p - p[:, ROOT:ROOT + 1]                                                       # (N, 17, 2)
    size = np.sqrt((p ** 2).sum((1, 2)) / NUM_JOINTS)                                 # (N,)
    p = p / np.maximum(size, 1e-12)[:, None, None]
    return p.reshape(len(p), -1).astype(np.float32)                                   # (N, 17, 2) -> (N, 34)


def distances(index_poses, features) -> np.ndarray:
    """(N,) novelty: the distance of each (N, 34) feature row to its nearest (M, 34) index row / sqrt(17).
    Computed as min_i(|i|^2 - 2 q.i) + |q|^2 with one matrix product per block of queries (2.5x faster
    than ``torch.cdist``, which takes every square root; float32 rounding adds < 1e-3 to a distance)."""
    idx = torch.as_tensor(np.asarray(index_poses, np.float32))
    q = torch.as_tensor(np.asarray(features, np.float32))
    assert idx.ndim == 2 and q.ndim == 2 and idx.shape[1] == q.shape[1], (tuple(idx.shape), tuple(q.shape))
    norms = (idx * idx).sum(1)                                                          # (M,)
    out = []
    for i in range(0, len(q), _CHUNK):
        b = q[i:i + _CHUNK]                                                             # (B, 34)
        out.append(torch.addmm(norms, b, idx.T, alpha=-2.0).amin(1) + (b * b).sum(1))   # (B, M) -> (B,)
    d2 = torch.cat(out).clamp_min(0.0).numpy() if out else np.zeros(0, np.float32)
    return (np.sqrt(d2) / np.sqrt(NUM_JOINTS)).astype(np.float32)


def build_index(train_2d, train_intrinsics=None, heldout_2d=None, heldout_intrinsics=None,
                size: int = INDEX_SIZE, seed: int = 0) -> dict:
    """An index of ``size`` training poses (sampled without replacement with ``seed``; all of them if
    fewer) and the novelty threshold: the 99th percentile on the held-out poses (a second sample of the
    training poses when none are given, scored against an index that excludes them)."""
    feats = shape_features(train_2d, train_intrinsics)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(feats))
    keep = np.sort(order[:size])
    if heldout_2d is not None:
        held = shape_features(heldout_2d, heldout_intrinsics)
        rule = f"{THRESHOLD_QUANTILE:g}th percentile of the held-out poses' novelty"
    else:
        held = feats[np.sort(order[size:size + 4 * size])]
        rule = f"{THRESHOLD_QUANTILE:g}th percentile of the novelty of training poses outside the index"
    index = torch.as_tensor(feats[keep]).half()
    threshold = float(np.percentile(distances(index.float(), held), THRESHOLD_QUANTILE)) if len(held) else float("inf")
    return {"poses": index, "threshold": round(threshold, 4), "threshold_rule": rule, "size": int(len(keep)),
            "seed": int(seed)}


def check_index(index) -> dict:
    """``index`` if it is a well-formed novelty index (see the module docstring); ValueError otherwise."""
    if not isinstance(index, dict) or not isinstance(index.get("poses"), torch.Tensor):
        raise ValueError("a novelty index must be a dict with a 'poses' tensor")
    p = index["poses"]
    if p.ndim != 2 or p.shape[1] != 2 * NUM_JOINTS or len(p) == 0 or not torch.isfinite(p.float()).all():
        raise ValueError(f"novelty index: 'poses' must be a finite (M, {2 * NUM_JOINTS}) tensor, got "
                         f"{tuple(p.shape)}")
    t = index.get("threshold")
    if not isinstance(t, (int, float)) or not t > 0:
        raise ValueError(f"novelty index: 'threshold' must be a positive number, got {t!r}")
    return index


def score(index: dict, poses_2d, intrinsics=None) -> np.ndarray:
    """(N,) novelty of (N, 17, 2) px poses against a lifter's ``index`` (see the module docstring)."""
    return distances(check_index(index)["poses"].float(), shape_features(poses_2d, intrinsics))
