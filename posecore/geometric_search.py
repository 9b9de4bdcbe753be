"""Geometric search of Wang et al. 2019 (Eqs. 4-5): place a root-relative 3D pose at the root depth
that best explains the ground-truth 2D pose, then take x, y from the 2D pose.

Our formulation (written out, since the paper only sketches it). A root-relative pose p_i = (x_i, y_i,
z_i) mm (p_root = 0) is put with its root on the viewing ray of the 2D root (u_0, v_0) at depth Z:
X_0 = (u_0 - c_x) Z / f_x, Y_0 = (v_0 - c_y) Z / f_y, joint i at (X_0 + x_i, Y_0 + y_i, Z + z_i). Its
reprojection is u_i(Z) = f_x (X_0 + x_i) / (Z + z_i) + c_x (same for v).

* ``scan``: the paper's search, Z on a 1 mm grid, minimising the true reprojection error
  sum_i ||(u_i(Z), v_i(Z)) - (u_i, v_i)||^2 (px^2) over the valid depths.
* ``closed_form``: multiplying the residual by the joint depth (Z + z_i) gives the *algebraic* error
  (u_i - c_x)(Z + z_i) - f_x (X_0 + x_i) = (u_i - u_0) Z + [(u_i - c_x) z_i - f_x x_i] = a_i Z + b_i,
  linear in Z (same for v), so the least-squares root depth is exactly Z* = -sum(a b) / sum(a^2).
  It weights joint i's pixel error by (Z + z_i)^2; with |z_i| << Z the weights are nearly equal, so
  Z* is close to (not identical with) the scan's minimiser: the chapter reports the difference in mm.

A depth is valid when every joint is at least ``min_depth`` mm in front of the camera. When the optimum
is not valid (the 2D pose is explained by a pose behind the camera) or not unique (all joints on the
root's pixel) :class:`NoValidDepthError` names the samples instead of returning garbage
(``on_invalid='nan'`` gives NaN for them instead).
"""
from __future__ import annotations

import numpy as np

from .skeleton import NUM_JOINTS, ROOT, check_poses


class NoValidDepthError(ValueError):
    """No root depth puts the pose in front of the camera with a unique best reprojection."""


def _prepare(poses_rel, poses_2d, intrinsics):
    p = np.asarray(check_poses(np.asarray(poses_rel, np.float64), 3, "poses_rel"), np.float64)
    uv = np.asarray(check_poses(np.asarray(poses_2d, np.float64), 2, "poses_2d"), np.float64)
    assert p.ndim == 3 and uv.shape[0] == p.shape[0], f"poses_rel {p.shape} vs poses_2d {uv.shape}"
    K = np.broadcast_to(np.asarray(intrinsics, np.float64), (len(p), 4))
    if not np.isfinite(K).all() or not (K[:, :2] > 0).all():
        raise ValueError("intrinsics: must be finite (N, 4) fx, fy, cx, cy with positive focal lengths")
    p = p - p[:, ROOT:ROOT + 1]                                       # root-relative, root = 0
    return p, uv, K


def _anchored(p, uv, K, Z):
    """Absolute joints (N, [M,] 17, 3) for root depth(s) Z (N,) or (N, M) on the root's ray."""
    Z = np.asarray(Z, np.float64)
    extra = (slice(None),) + (None,) * (Z.ndim - 1)
    root_xy = (uv[:, ROOT] - K[:, 2:]) / K[:, :2]                     # (N, 2) normalised ray of the root
    root = np.concatenate([root_xy[extra] * Z[..., None], Z[..., None]], -1)  # (N, [M,] 3)
    return p[(slice(None),) + (None,) * (Z.ndim - 1)] + root[..., None, :]   # (N, [M,] 17, 3)


def reprojection_error(poses_rel, poses_2d, intrinsics, Z, squared: bool = False) -> np.ndarray:
    """Reprojection error of the pose placed at root depth Z (N,): mean px per joint (or the sum of
    squared px errors with ``squared``). NaN where Z is NaN."""
    p, uv, K = _prepare(poses_rel, poses_2d, intrinsics)
    X = _anchored(p, uv, K, Z)                                        # (N, 17, 3)
    proj = X[..., :2] / X[..., 2:3] * K[:, None, :2] + K[:, None, 2:]
    d2 = ((proj - uv) ** 2).sum(-1)                                   # (N, 17)
    return d2.sum(-1) if squared else np.sqrt(d2).mean(-1)


def _check_valid(Z, p, min_depth, on_invalid, method):
    lowest = Z + p[..., 2].min(-1)                                    # depth of the nearest joint
    bad = ~np.isfinite(Z) | (lowest < min_depth)
    if bad.any():
        if on_invalid == "raise":
            idx = np.flatnonzero(bad)
            raise NoValidDepthError(
                f"geometric search ({method}): no valid root depth for {bad.sum()} sample(s) {idx[:10].tolist()}"
                f": the best depth would put joints behind the camera (< {min_depth} mm) or is not unique")
        Z = np.where(bad, np.nan, Z)
    return Z


def closed_form(poses_rel, poses_2d, intrinsics, min_depth: float = 100.0, on_invalid: str = "raise",
                polish_steps: int = 2):
    """Least-squares root depth (N,) mm minimising the algebraic error (module docstring), exact.
    ``polish_steps`` > 0 adds that many Gauss-Newton steps on the true reprojection error
    r_i(Z) = (a_i Z + b_i) / (Z + z_i) (px), started from the closed form: then it agrees with the scan's
    minimiser up to the scan's grid."""
    p, uv, K = _prepare(poses_rel, poses_2d, intrinsics)
    a = uv - uv[:, ROOT:ROOT + 1]                                     # (N, 17, 2) coefficient of Z
    b = (uv - K[:, None, 2:]) * p[..., 2:3] - K[:, None, :2] * p[..., :2]   # (N, 17, 2) constant term
    den = (a * a).sum((1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = np.where(den > 1e-12, -(a * b).sum((1, 2)) / den, np.nan)
        z = p[..., 2:3]                                               # (N, 17, 1) joint depth offsets
        for _ in range(polish_steps):
            depth = Z[:, None, None] + z                              # (N, 17, 1)
            r = (a * Z[:, None, None] + b) / depth                    # (N, 17, 2) px residuals
            J = (a * z - b) / depth ** 2                              # dr/dZ
            Z = Z - (r * J).sum((1, 2)) / (J * J).sum((1, 2))
    return _check_valid(Z, p, min_depth, on_invalid, "closed form")


def scan(poses_rel, poses_2d, intrinsics, z_range=(500.0, 20000.0), step: float = 1.0, min_depth: float = 100.0,
         on_invalid: str = "raise", chunk: int = 4_000_000):
    """The paper's linear search: root depth (N,) mm on a ``step`` mm grid over ``z_range`` minimising the
    true squared reprojection error, among depths that keep every joint >= ``min_depth`` mm deep. A
    best depth on the edge of that range is reported as invalid (the optimum lies outside)."""
    p, uv, K = _prepare(poses_rel, poses_2d, intrinsics)
    grid = np.arange(z_range[0], z_range[1] + step / 2, step)         # (M,)
    out = np.empty(len(p))
    per = max(1, chunk // (len(grid) * NUM_JOINTS))                   # poses per chunk (memory bound)
    for s in range(0, len(p), per):
        sl = slice(s, s + per)
        Zg = np.broadcast_to(grid, (len(p[sl]), len(grid)))          # (n, M)
        X = _anchored(p[sl], uv[sl], K[sl], Zg)                       # (n, M, 17, 3)
        depth = X[..., 2]
        proj = X[..., :2] / np.where(depth > 0, depth, np.nan)[..., None] * K[sl, None, None, :2] \
            + K[sl, None, None, 2:]
        err = ((proj - uv[sl, None]) ** 2).sum((-1, -2))              # (n, M)
        valid = depth.min(-1) >= min_depth                            # (n, M)
        err[~valid] = np.inf
        best = np.argmin(err, 1)
        # a minimum on the edge of the valid range is not a minimum of the error: no valid depth
        edge = (best == np.argmax(valid, 1)) | (best == len(grid) - 1)
        ok = np.isfinite(err[np.arange(len(best)), best]) & ~edge
        out[sl] = np.where(ok, grid[best], np.nan)
    return _check_valid(out, p, min_depth, on_invalid, "scan")


def refine(poses_rel, poses_2d, intrinsics, Z) -> np.ndarray:
    """Eq. 5: back-project the 2D pose with the depths Z + z_i: absolute camera-space pose (N, 17, 3)
    mm whose x, y come from the 2D pose and whose depths from the network."""
    p, uv, K = _prepare(poses_rel, poses_2d, intrinsics)
    depth = np.asarray(Z, np.float64)[:, None] + p[..., 2]            # (N, 17)
    xy = (uv - K[:, None, 2:]) / K[:, None, :2] * depth[..., None]
    return np.concatenate([xy, depth[..., None]], -1)


def geometric_search(poses_rel, poses_2d, intrinsics, method: str = "closed_form", use_2d: bool = True, **kw):
    """Root depth by ``method`` ('closed_form' or 'scan'), then the absolute pose (N, 17, 3) mm:
    refined by Eq. 5 (``use_2d``) or the network's pose translated to that depth. Returns (poses, Z)."""
    if method not in ("closed_form", "scan"):
        raise ValueError(f"unknown method {method!r}; choose 'closed_form' or 'scan'")
    Z = (closed_form if method == "closed_form" else scan)(poses_rel, poses_2d, intrinsics, **kw)
    if use_2d:
        return refine(poses_rel, poses_2d, intrinsics, Z), Z
    p, uv, K = _prepare(poses_rel, poses_2d, intrinsics)
    return _anchored(p, uv, K, Z), Z


def refine_where_valid(poses_rel, poses_2d, intrinsics):
    """The closed-form search + Eq. 5 on every sample whose best root depth is valid; the others keep
    the network's root-relative pose. Returns (poses (N, 17, 3) mm, Z (N,) with NaN where invalid)."""
    Z = closed_form(poses_rel, poses_2d, intrinsics, on_invalid="nan")
    ok = np.isfinite(Z)
    out = np.array(poses_rel, copy=True)
    out[ok] = refine(out[ok], np.asarray(poses_2d)[ok], np.asarray(intrinsics)[ok], Z[ok])
    return out, Z
