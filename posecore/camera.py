"""Pinhole cameras: intrinsics, lens distortion, world <-> camera transforms, projection and
back-projection. Works on numpy arrays and torch tensors alike (the operations are elementwise).

Conventions (as in Human3.6M / VideoPose3D): camera coordinates in mm, x right, y down, z forward
(depth); pixel coordinates (u, v) with the origin at the top-left corner;
``X_cam = R (X_world - t)`` where ``R`` (3, 3) is world->camera rotation and ``t`` (3,) the camera
centre in world coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Human3.6M intrinsics of the four cameras (published with the dataset; values as in VideoPose3D's
# h36m_dataset.py): focal (fx, fy) px, centre (cx, cy) px, radial k1..k3, tangential p1, p2, size (w, h).
H36M_INTRINSICS = {
    "54138969": dict(f=(1145.0494384765625, 1143.7811279296875), c=(512.54150390625, 515.4514770507812),
                     k=(-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
                     p=(-0.0009756988729350269, -0.00142447161488235), size=(1000, 1002)),
    "55011271": dict(f=(1149.6756591796875, 1147.5916748046875), c=(508.8486328125, 508.0649108886719),
                     k=(-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
                     p=(-0.0016190266469493508, -0.0027408944442868233), size=(1000, 1000)),
    "58860488": dict(f=(1149.1407470703125, 1148.7989501953125), c=(519.8158569335938, 501.40264892578125),
                     k=(-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
                     p=(0.0014843869721516967, -0.0007599993259645998), size=(1000, 1000)),
    "60457274": dict(f=(1145.5113525390625, 1144.77392578125), c=(514.9682006835938, 501.88201904296875),
                     k=(-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
                     p=(-0.0005872055771760643, -0.0018133620033040643), size=(1000, 1002)),
}
H36M_CAMERA_IDS = tuple(H36M_INTRINSICS)


@dataclass
class Camera:
    """A calibrated camera. ``R`` (3, 3) world->camera rotation, ``t`` (3,) camera centre in world mm,
    ``f`` (fx, fy) px, ``c`` (cx, cy) px, ``k`` radial (k1, k2, k3), ``p`` tangential (p1, p2),
    ``size`` (width, height) px."""
    f: tuple
    c: tuple
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    k: tuple = (0.0, 0.0, 0.0)
    p: tuple = (0.0, 0.0)
    size: tuple = (1000, 1000)
    name: str = ""

    @property
    def intrinsics(self) -> np.ndarray:
        """(4,) float32 [fx, fy, cx, cy]."""
        return np.array([*self.f, *self.c], dtype=np.float32)

    @property
    def distortion(self) -> np.ndarray:
        """(5,) float32 [k1, k2, k3, p1, p2]."""
        return np.array([*self.k, *self.p], dtype=np.float32)

    def world_to_camera(self, X):
        return world_to_camera(X, self.R, self.t)

    def project(self, X_cam, distort: bool = True):
        return project(X_cam, self.intrinsics, self.distortion if distort else None)


def h36m_camera(camera_id: str, R=None, t=None) -> Camera:
    """A :class:`Camera` with the intrinsics of Human3.6M camera ``camera_id`` (e.g. '54138969')."""
    if camera_id not in H36M_INTRINSICS:
        raise ValueError(f"unknown Human3.6M camera id {camera_id!r}; known: {H36M_CAMERA_IDS}")
    d = H36M_INTRINSICS[camera_id]
    return Camera(f=d["f"], c=d["c"], k=d["k"], p=d["p"], size=d["size"], name=camera_id,
                  R=np.eye(3) if R is None else np.asarray(R, float),
                  t=np.zeros(3) if t is None else np.asarray(t, float))


def _xp(a):
    """The array module of ``a`` (torch or numpy)."""
    if type(a).__module__.startswith("torch"):
        import torch
        return torch
    return np


def _per_point(P, X):
    """Per-sample parameters (N, ..., P) against points (N, ..., J, C): add the joint axis."""
    return P[..., None, :] if P.ndim >= 2 and P.ndim == X.ndim - 1 else P


def world_to_camera(X, R, t):
    """(..., 3) world mm -> (..., 3) camera mm: ``R (X - t)``."""
    xp = _xp(X)
    R = xp.asarray(R, dtype=X.dtype) if xp is np else xp.as_tensor(R, dtype=X.dtype, device=X.device)
    t = xp.asarray(t, dtype=X.dtype) if xp is np else xp.as_tensor(t, dtype=X.dtype, device=X.device)
    return (X - t) @ R.T


def camera_to_world(X, R, t):
    """(..., 3) camera mm -> (..., 3) world mm: ``R^T X + t``."""
    xp = _xp(X)
    R = xp.asarray(R, dtype=X.dtype) if xp is np else xp.as_tensor(R, dtype=X.dtype, device=X.device)
    t = xp.asarray(t, dtype=X.dtype) if xp is np else xp.as_tensor(t, dtype=X.dtype, device=X.device)
    return X @ R + t


def project(X, intrinsics, distortion=None):
    """Perspective projection. ``X`` (..., 3) camera mm with z > 0; ``intrinsics`` (..., 4)
    [fx, fy, cx, cy] broadcastable to X[..., 0:1]; optional ``distortion`` (..., 5) [k1, k2, k3, p1, p2]
    applied with the Human3.6M model (as in VideoPose3D's ``project_to_2d``). Returns (..., 2) px."""
    xp = _xp(X)
    assert X.shape[-1] == 3, f"project: expected (..., 3) points, got {tuple(X.shape)}"
    K = intrinsics if xp is np else xp.as_tensor(intrinsics, dtype=X.dtype, device=X.device)
    K = _per_point(K, X)
    xy = X[..., :2] / X[..., 2:3]
    if distortion is not None:
        D = distortion if xp is np else xp.as_tensor(distortion, dtype=X.dtype, device=X.device)
        D = _per_point(D, X)
        xy = distort(xy, D)
    return xy * K[..., 0:2] + K[..., 2:4]


def distort(xy, D):
    """Apply radial (k1..k3) + tangential (p1, p2) distortion to normalised coordinates (..., 2).
    Coordinates are clipped to [-1, 1] first as in the Human3.6M / VideoPose3D model."""
    xp = _xp(xy)
    xy = xp.clip(xy, -1, 1) if xp is np else xy.clamp(-1, 1)
    k, p = D[..., 0:3], D[..., 3:5]
    cat = np.concatenate if xp is np else xp.cat
    kw = {"keepdims": True} if xp is np else {"keepdim": True}
    r2 = (xy ** 2).sum(-1, **kw)
    radial = 1 + (k * cat([r2, r2 ** 2, r2 ** 3], -1)).sum(-1, **kw)
    tan = (p * xy).sum(-1, **kw)
    return xy * (radial + tan) + p * r2


def back_project(uv, depth, intrinsics):
    """Back-projection of pixels with known depth. ``uv`` (..., 2) px, ``depth`` (...) mm (the z
    coordinate), ``intrinsics`` [fx, fy, cx, cy] broadcastable. Returns (..., 3) camera mm (no
    distortion model: undistort the pixels first if the camera has one)."""
    xp = _xp(uv)
    K = intrinsics if xp is np else xp.as_tensor(intrinsics, dtype=uv.dtype, device=uv.device)
    K = _per_point(K, uv)
    xy = (uv - K[..., 2:4]) / K[..., 0:2]
    z = depth[..., None]
    stack = np.concatenate if xp is np else xp.cat
    return stack([xy * z, z], -1)


def rotation_matrix(azimuth_deg, elevation_deg, roll_deg=0.0) -> np.ndarray:
    """World->camera rotation (3, 3) of a camera looking horizontally at the origin from ``azimuth``
    (about the world Z-up axis, 0 = looking along +Y) and tilted down by ``elevation`` (positive =
    camera above, looking down); optional roll about the optical axis. World is Z-up, mm."""
    a, e, r = np.deg2rad([azimuth_deg, elevation_deg, roll_deg])
    # base: camera at azimuth 0 looks along world +Y; camera x = world +X, camera y = world -Z
    base = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    Rz = np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]])  # world yaw
    Rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])  # tilt down
    Rr = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return Rr @ Rx @ base @ Rz


def look_at_camera(target, azimuth_deg, elevation_deg, distance, f, c, size, roll_deg=0.0, name=""):
    """A camera ``distance`` mm from world point ``target`` (3,), looking at it from the given azimuth
    and elevation (degrees), with focal ``f`` (fx, fy) px, centre ``c`` px and ``size`` (w, h) px."""
    R = rotation_matrix(azimuth_deg, elevation_deg, roll_deg)
    t = np.asarray(target, float) - distance * R[2]  # optical axis (camera +z) in world = R[2]
    return Camera(f=tuple(f), c=tuple(c), R=R, t=t, size=tuple(size), name=name)


def random_rotation(n: int, azimuth_range=(0.0, 360.0), elevation_range=(0.0, 0.0), rng=None):
    """(n, 3, 3) rotations about the world Z-up axis by a uniform azimuth and about the horizontal
    axis by a uniform elevation (degrees); used to rotate poses for augmentation."""
    rng = np.random.default_rng(rng)
    a = np.deg2rad(rng.uniform(*azimuth_range, size=n))
    e = np.deg2rad(rng.uniform(*elevation_range, size=n))
    Rz = np.zeros((n, 3, 3)); Rz[:, 2, 2] = 1
    Rz[:, 0, 0] = np.cos(a); Rz[:, 0, 1] = -np.sin(a); Rz[:, 1, 0] = np.sin(a); Rz[:, 1, 1] = np.cos(a)
    Rx = np.zeros((n, 3, 3)); Rx[:, 0, 0] = 1
    Rx[:, 1, 1] = np.cos(e); Rx[:, 1, 2] = -np.sin(e); Rx[:, 2, 1] = np.sin(e); Rx[:, 2, 2] = np.cos(e)
    return Rx @ Rz


def crop_to_image(joints_crop, intrinsics_crop, intrinsics) -> np.ndarray:
    """Crop px -> original image px, for a crop that is a scale + shift of the image (its
    ``intrinsics_crop`` against the camera's ``intrinsics``, both (N, 4) fx, fy, cx, cy)."""
    Kc = np.asarray(intrinsics_crop, np.float64)[:, None, :]
    K = np.asarray(intrinsics, np.float64)[:, None, :]
    return (np.asarray(joints_crop, np.float64) - Kc[..., 2:4]) / Kc[..., 0:2] * K[..., 0:2] + K[..., 2:4]
