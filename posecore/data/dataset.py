"""The one dataset interface of posecore: :class:`PoseSet`, arrays for lifting, shared by the embedded
benchmark and the readers of real datasets (Human3.6M, MPII, MPI-INF-3DHP, BVH).

Shapes (N samples, 17 joints in :data:`posecore.skeleton.H36M_JOINTS` order):

=============  ===================  =========================================================
field          shape, dtype         meaning
=============  ===================  =========================================================
poses_2d       (N, 17, 2) float32   pixels in the image of ``intrinsics``
poses_3d       (N, 17, 3) float32   mm, camera coordinates (NaN where ``has_3d`` is False)
intrinsics     (N, 4) float32       fx, fy, cx, cy in px
distortion     (N, 5) float32       k1, k2, k3, p1, p2 (zeros: none)
image_size     (N, 2) int32         width, height in px
has_3d         (N,) bool            is a 3D label given for training?
visible        (N, 17) bool         2D joint visible/annotated
subject        (N,) str             subject name (never an H36M name for synthetic data)
action         (N,) str             action (canonical name)
sequence       (N,) str             clip / sequence id
camera         (N,) str             camera name
frame          (N,) int32           frame index within the sequence
scene          (N,) str             scene kind for images: 'lab', or for in-the-wild data 'plain',
                                    'studio', 'outdoor' (MPI-INF-3DHP: green screen, no green
                                    screen, outdoor); '' when unknown
=============  ===================  =========================================================

``meta`` is a dict with at least ``dataset`` (e.g. 'posecore-synth-lab'), ``split`` and ``source``
(provenance and licence). Images, when a dataset has them, come through a torch Dataset built on a
PoseSet (see :mod:`posecore.data.images`).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..skeleton import NUM_JOINTS
from .safe_io import DataFormatError

ARRAY_FIELDS = ("poses_2d", "poses_3d", "intrinsics", "distortion", "image_size", "has_3d", "visible",
                "subject", "action", "sequence", "camera", "frame", "scene")

@dataclass
class PoseSet:
    """Arrays for lifting; see the module docstring for shapes and units."""
    poses_2d: np.ndarray
    poses_3d: np.ndarray
    intrinsics: np.ndarray
    distortion: np.ndarray
    image_size: np.ndarray
    has_3d: np.ndarray
    visible: np.ndarray
    subject: np.ndarray
    action: np.ndarray
    sequence: np.ndarray
    camera: np.ndarray
    frame: np.ndarray
    scene: np.ndarray
    meta: dict = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def create(cls, poses_2d, poses_3d=None, intrinsics=None, *, distortion=None, image_size=None,
               has_3d=None, visible=None, subject="unknown", action="unknown", sequence="", camera="",
               frame=None, scene="", meta=None) -> "PoseSet":
        """Build a PoseSet, broadcasting scalars and filling defaults; validates the result."""
        p2 = np.asarray(poses_2d, np.float32)
        n = p2.shape[0] if p2.ndim == 3 else -1
        if n < 0:
            raise ValueError(f"poses_2d: expected shape (N, 17, 2), got {p2.shape}")

        def col(v, dtype, shape=()):
            a = np.asarray(v, dtype=dtype)
            return np.broadcast_to(a, (n,) + shape).copy() if a.shape != (n,) + shape else a.copy()

        p3 = np.full((n, NUM_JOINTS, 3), np.nan, np.float32) if poses_3d is None else np.asarray(poses_3d, np.float32)
        ps = cls(
            poses_2d=p2, poses_3d=p3,
            intrinsics=col(intrinsics if intrinsics is not None else [1.0, 1.0, 0.0, 0.0], np.float32, (4,)),
            distortion=col(np.zeros(5) if distortion is None else distortion, np.float32, (5,)),
            image_size=col([1000, 1000] if image_size is None else image_size, np.int32, (2,)),
            has_3d=col(poses_3d is not None if has_3d is None else has_3d, bool),
            visible=col(True if visible is None else visible, bool, (NUM_JOINTS,)),
            subject=col(subject, object).astype(str), action=col(action, object).astype(str),
            sequence=col(sequence, object).astype(str), camera=col(camera, object).astype(str),
            frame=col(np.arange(n) if frame is None else frame, np.int32),
            scene=col(scene, object).astype(str),
            meta=dict(meta or {}),
        )
        return ps.validate()

    def validate(self) -> "PoseSet":
        """Check shapes, dtypes and finiteness; raise ValueError naming the field and the problem."""
        name = self.meta.get("dataset", "PoseSet")
        n = len(self.poses_2d)
        expect = {"poses_2d": (n, NUM_JOINTS, 2), "poses_3d": (n, NUM_JOINTS, 3), "intrinsics": (n, 4),
                  "distortion": (n, 5), "image_size": (n, 2), "has_3d": (n,), "visible": (n, NUM_JOINTS),
                  "subject": (n,), "action": (n,), "sequence": (n,), "camera": (n,), "frame": (n,),
                  "scene": (n,)}
        for k, shape in expect.items():
            a = getattr(self, k)
            if not isinstance(a, np.ndarray):
                raise ValueError(f"{name}: field {k} must be a numpy array, got {type(a).__name__}")
            if a.shape != shape:
                raise ValueError(f"{name}: field {k} has shape {a.shape}, expected {shape}")
        for k in ("poses_2d", "intrinsics", "distortion"):
            a = getattr(self, k)
            if not np.isfinite(a).all():
                raise ValueError(f"{name}: field {k} contains {int((~np.isfinite(a)).sum())} NaN/inf values")
        p3 = self.poses_3d[self.has_3d]
        if not np.isfinite(p3).all():
            raise ValueError(f"{name}: poses_3d has NaN/inf in samples flagged has_3d")
        return self

    # -- access -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.poses_2d)

    def __getitem__(self, idx) -> "PoseSet":
        """Subset by index array, slice or boolean mask (returns a PoseSet)."""
        if isinstance(idx, (int, np.integer)):
            idx = [idx]
        kw = {k: getattr(self, k)[idx] for k in ARRAY_FIELDS}
        return PoseSet(**kw, meta=dict(self.meta))

    def where(self, **conditions) -> "PoseSet":
        """Subset where each named field equals a value or is in a list, e.g. ``where(action='Walking')``."""
        mask = np.ones(len(self), bool)
        for k, v in conditions.items():
            a = getattr(self, k)
            mask &= np.isin(a, np.atleast_1d(v))
        return self[mask]

    @property
    def root_relative_3d(self) -> np.ndarray:
        """(N, 17, 3) mm, poses_3d minus the root (pelvis) joint."""
        return self.poses_3d - self.poses_3d[:, :1]

    def hide_3d(self) -> "PoseSet":
        """A copy whose 3D labels are removed (NaN, has_3d False): what a 2D-only training split exposes."""
        out = self[np.arange(len(self))]
        out.poses_3d = np.full_like(self.poses_3d, np.nan)
        out.has_3d = np.zeros(len(self), bool)
        return out

    def summary(self) -> dict:
        """Counts for a table: samples, subjects, actions, cameras, fraction with 3D."""
        return dict(dataset=self.meta.get("dataset", ""), split=self.meta.get("split", ""), samples=len(self),
                    subjects=sorted(set(self.subject.tolist())), actions=sorted(set(self.action.tolist())),
                    cameras=len(set(self.camera.tolist())), with_3d=float(self.has_3d.mean()) if len(self) else 0.0)

    # -- io ---------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write a compressed .npz atomically (a uniquely named temporary file, then a rename:
        :func:`posecore.artefacts.atomic_write`)."""
        from ..artefacts import atomic_write
        return atomic_write(Path(path), lambda f: np.savez_compressed(
            f, **{k: getattr(self, k) for k in ARRAY_FIELDS}, meta=np.array(json.dumps(self.meta))))

    @classmethod
    def load(cls, path) -> "PoseSet":
        """Read a PoseSet .npz written by :meth:`save` (never unpickles; DataFormatError naming the file
        for anything else)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"PoseSet file not found: {path}")
        if not path.is_file():
            raise DataFormatError(f"{path}: is a folder, expected a PoseSet .npz file")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ARRAY_FIELDS + ("meta",) if k not in z.files]
                if missing:
                    raise DataFormatError(f"{path}: not a PoseSet file, missing keys {missing}")
                kw = {k: z[k] for k in ARRAY_FIELDS}
                meta = json.loads(str(z["meta"]))
        except DataFormatError:
            raise
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
            raise DataFormatError(f"{path}: corrupt or unreadable PoseSet file ({e})") from e
        if not isinstance(meta, dict):
            raise DataFormatError(f"{path}: not a PoseSet file, 'meta' is a {type(meta).__name__}, expected a dict")
        try:
            return cls(**kw, meta=meta).validate()
        except ValueError as e:
            raise DataFormatError(f"{path}: invalid PoseSet ({e})") from e


def concat(sets: list[PoseSet], meta: dict | None = None) -> PoseSet:
    """Concatenate PoseSets along samples; ``meta`` defaults to the first set's."""
    if not sets:
        raise ValueError("concat: no PoseSets given")
    kw = {k: np.concatenate([getattr(s, k) for s in sets]) for k in ARRAY_FIELDS}
    return PoseSet(**kw, meta=dict(meta if meta is not None else sets[0].meta)).validate()

