"""MPI-INF-3DHP test-set reader: ``TS1..TS6/annot_data.mat`` -> :class:`PoseSet`.

The files are MATLAB v7.3 (HDF5, read with h5py); h5py sees MATLAB's column-major arrays transposed,
so ``annot2`` appears as (N, 1, 17, 2) px, ``annot3`` / ``univ_annot3`` as (N, 1, 17, 3) mm in the
camera frame, ``valid_frame`` and ``activity_annotation`` (1..7) as (N, 1) or (1, N). A file
re-saved as MATLAB v5 is read with scipy instead (native MATLAB order (2, 17, 1, N), transposed
here).

3DHP's 17-joint order (0 head top, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left, 8-10 right
hip/knee/ankle, 11-13 left, 14 pelvis, 15 spine, 16 head) is mapped to posecore's H36M order with
:data:`MPI3DHP_TO_H36M`. The literature evaluates PCK@150mm / AUC on 14 joints (3DHP's first 14:
all but pelvis, spine, head): :data:`EVAL_JOINTS_14` gives their posecore indices.

``poses_3d`` is ``univ_annot3`` (the height-normalised "universal" skeleton used for evaluation) by
default, or ``annot3`` (``universal=False``); ``poses_2d`` is ``annot2`` (the projection of
``annot3``). Intrinsics are the published test-set values (TS1-4: 2048x2048 studio cameras, TS5-6:
1920x1080 outdoor camera) as used by the evaluation code of the 3DHP lifting literature; the reader
measures the reprojection error of ``annot3`` with them per sequence (``meta['reprojection_px']``)
and warns above ``max_reprojection_px``; :func:`estimate_intrinsics` fits them by least squares.
Images are referenced as ``sequence`` = ``TSk/imageSequence`` and 0-based ``frame`` (image
``img_%06d.jpg`` of ``frame + 1``, see :func:`image_path`).

Malformed files are refused with :class:`~posecore.data.safe_io.DataFormatError` naming the file and
the problem: wrong shapes (only one person per frame: (N, 1, 17, c)), non-numeric data, NaN/inf in kept
frames, a skeleton not the size of a person in mm, joints at or behind the camera (depth <= 0), 2D
inconsistent with the 3D (median reprojection error above :data:`REFUSE_REPROJECTION_PX`), a universal
3D of other frames than the 2D (:func:`check_universal`: re-posed with annot3's bone lengths it must
reproject within :data:`MAX_UNIVERSAL_EXTRA_PX` of annot3's own error) and a sequence with no frame left to
convert.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..skeleton import NUM_JOINTS
from .dataset import PoseSet
from .safe_io import (
    DataFormatError,
    check_human_scale,
    file_size,
    is_hdf5,
    open_regular,
    read_h5_dataset,
    require_file,
)

SOURCE = ("MPI-INF-3DHP (Mehta et al., 3DV 2017), https://vcai.mpi-inf.mpg.de/3dhp-dataset; "
          "non-commercial research licence (no redistribution)")
SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
SCENES = {"TS1": "plain", "TS2": "plain", "TS3": "studio", "TS4": "studio", "TS5": "outdoor", "TS6": "outdoor"}
# posecore H36M joint i <- 3DHP joint MPI3DHP_TO_H36M[i]
MPI3DHP_TO_H36M = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
# the 14 evaluation joints (3DHP indices 0..13) as posecore H36M indices
EVAL_JOINTS_14 = tuple(MPI3DHP_TO_H36M.index(j) for j in range(14))
ACTIVITIES = {1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching",
              5: "On the floor", 6: "Sports", 7: "Miscellaneous"}
# median reprojection error (px) of annot3 with the published intrinsics above which 2D and 3D cannot be
# the same poses (wrong units of the 2D, another sequence's 2D, ...): the file is refused
REFUSE_REPROJECTION_PX = 50.0
# univ_annot3 re-posed with annot3's bone lengths must reproject onto annot2 within this many px (median)
# more than annot3 itself: the universal skeleton keeps every bone's direction and only changes its length,
# so for the same frames the re-posed skeleton *is* annot3 (0 px more); univ_annot3 of other frames
# (time-reversed, shifted) moves the limbs (the slow fixture motion reversed over 100 frames: 6.8 px more;
# real motion: tens to hundreds of px). 3 px ~ 8 mm at 4 m: float noise and rounding stay far below
MAX_UNIVERSAL_EXTRA_PX = 3.0
# parent of each 3DHP joint (3DHP order; the pelvis 14 is the root) and a parents-first order
MPI3DHP_PARENTS = (16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1)
_TOPO_ORDER = (15, 1, 16, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
# published test-set intrinsics (fx, fy, cx, cy) and image size (w, h)
INTRINSICS = {
    "TS1-4": ((1500.0686135995716, 1500.6590966853348, 1017.3794860438494, 1043.062824876024), (2048, 2048)),
    "TS5-6": ((1683.482559482185, 1671.927242063379, 939.9278168524228, 560.2072491988034), (1920, 1080)),
}


def camera_of(seq: str):
    """(intrinsics (4,), image size (w, h)) of a test sequence."""
    if seq not in SEQUENCES:
        raise ValueError(f"unknown MPI-INF-3DHP test sequence {seq!r}; expected one of {SEQUENCES}")
    return INTRINSICS["TS5-6" if seq in ("TS5", "TS6") else "TS1-4"]


def estimate_intrinsics(p2, p3) -> np.ndarray:
    """Least-squares pinhole intrinsics [fx, fy, cx, cy] from 2D px (..., 2) and 3D camera-frame
    points (..., 3): u = fx x/z + cx, v = fy y/z + cy solved independently."""
    p2 = np.asarray(p2, float).reshape(-1, 2)
    p3 = np.asarray(p3, float).reshape(-1, 3)
    ok = np.isfinite(p2).all(1) & np.isfinite(p3).all(1) & (p3[:, 2] > 0)
    xn = p3[ok, :2] / p3[ok, 2:]
    out = []
    for a in range(2):
        A = np.stack([xn[:, a], np.ones(ok.sum())], 1)
        (f, c), *_ = np.linalg.lstsq(A, p2[ok, a], rcond=None)
        out.append((f, c))
    return np.array([out[0][0], out[1][0], out[0][1], out[1][1]])


def _to_nj(a: np.ndarray, c: int, path, name, native: bool = False) -> np.ndarray:
    """h5py view (N, 1, 17, c) (or (17, c): one frame, MATLAB drops trailing singletons) or, with
    ``native`` (a MATLAB v5 file read by scipy), MATLAB's (c, 17, 1, N) (or (c, 17)) -> (N, 17, c).
    Any other shape (e.g. two people per frame, (N, 2, 17, c)) is refused, never reshaped."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise DataFormatError(f"{path}: {name!r} has dtype {a.dtype}, expected numbers")
    a = a.astype(float)
    if not native and (a.shape[1:] == (1, 17, c) or a.shape == (17, c)):
        return a.reshape(-1, 17, c)
    if native and ((a.ndim == 4 and a.shape[:3] == (c, 17, 1)) or a.shape == (c, 17)):
        return a.reshape(c, 17, -1).transpose(2, 1, 0)
    want = f"({c}, 17, 1, N) (MATLAB v5)" if native else f"(N, 1, 17, {c}) as h5py shows MATLAB's {c}x17x1xN array"
    raise DataFormatError(f"{path}: {name!r} has shape {a.shape}, expected {want} (one person per frame)")


def read_annot_data(path) -> dict:
    """The arrays of one ``annot_data.mat``: annot2 (N,17,2), annot3 / univ_annot3 (N,17,3) in 3DHP
    joint order, valid_frame (N,) bool, activity_annotation (N,) int; clear errors on bad files."""
    path = require_file(path, "MPI-INF-3DHP annotation file")
    import h5py
    raw = {}
    keys = ("annot2", "annot3", "univ_annot3", "valid_frame", "activity_annotation")
    # the checked regular file (never a pipe or a device) is what h5py / scipy read
    with open_regular(path, "MPI-INF-3DHP annotation file") as fh:
        native = not is_hdf5(fh)
        if not native:
            try:
                with h5py.File(fh, "r") as f:
                    for k in keys:
                        if k in f:
                            if not isinstance(f[k], h5py.Dataset):
                                raise DataFormatError(f"{path}: {k!r} is an HDF5 group, expected a numeric array")
                            # declared shape x itemsize checked before reading (a chunked dataset can
                            # declare millions of frames in a small file)
                            raw[k] = read_h5_dataset(f[k], path, k, file_size=file_size(fh), poses_axis=0)
            except DataFormatError:
                raise
            except Exception as e:
                raise DataFormatError(f"{path}: unreadable or truncated MATLAB v7.3 file ({type(e).__name__}: "
                                      f"{e})") from e
        else:
            from scipy.io import loadmat
            try:
                m = loadmat(fh)
            except Exception as e:
                raise DataFormatError(f"{path}: not a readable MATLAB file (v7.3/HDF5 or v5): "
                                      f"{type(e).__name__}: {e}") from e
            raw = {k: m[k] for k in keys if k in m}
    missing = [k for k in ("annot2", "annot3", "valid_frame") if k not in raw]
    if missing:
        raise DataFormatError(f"{path}: missing variables {missing} (found {sorted(raw)})")
    out = dict(annot2=_to_nj(raw["annot2"], 2, path, "annot2", native),
               annot3=_to_nj(raw["annot3"], 3, path, "annot3", native))
    out["univ_annot3"] = (_to_nj(raw["univ_annot3"], 3, path, "univ_annot3", native) if "univ_annot3" in raw
                          else out["annot3"])
    n = len(out["annot2"])
    valid = np.asarray(raw["valid_frame"]).ravel()
    act = np.asarray(raw.get("activity_annotation", np.zeros(n))).ravel()
    for k, v in (("valid_frame", valid), ("activity_annotation", act)):
        if v.dtype.kind not in "biuf":
            raise DataFormatError(f"{path}: {k!r} has dtype {v.dtype}, expected numbers")
    for k, v in (("annot3", out["annot3"]), ("univ_annot3", out["univ_annot3"]), ("valid_frame", valid),
                 ("activity_annotation", act)):
        if len(v) != n:
            raise DataFormatError(f"{path}: {k!r} has {len(v)} frames but annot2 has {n}")
    if not np.isfinite(valid.astype(float)).all():
        raise DataFormatError(f"{path}: 'valid_frame' has {int((~np.isfinite(valid.astype(float))).sum())} NaN/inf "
                              "values; expected 0/1 flags")
    out["valid_frame"] = valid > 0
    out["activity_annotation"] = np.nan_to_num(act).astype(int)
    return out


def universal_reprojection(univ, annot3, annot2, K, max_frames: int = 300) -> float:
    """Median px distance between ``annot2`` (N, 17, 2) and the projection of the universal skeleton
    ``univ`` (N, 17, 3) re-posed onto ``annot3``: each bone keeps its direction in ``univ`` and takes its
    length in ``annot3``, starting from annot3's pelvis (3DHP order, tree :data:`MPI3DHP_PARENTS`). The
    universal skeleton differs from annot3 only in bone lengths, so this is annot3's own reprojection
    error when both are the same frames; evenly sampled frames (at most ``max_frames``)."""
    idx = np.linspace(0, len(univ) - 1, min(len(univ), max_frames)).round().astype(int)
    u, a, p2 = (np.asarray(x, float)[idx] for x in (univ, annot3, annot2))
    X = np.empty_like(a)
    X[:, 14] = a[:, 14]
    for c in _TOPO_ORDER:
        p = MPI3DHP_PARENTS[c]
        d = u[:, c] - u[:, p]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        length = np.linalg.norm(a[:, c] - a[:, p], axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            X[:, c] = X[:, p] + np.where(n > 0, d / n, 0.0) * length
    K = np.asarray(K, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        uv = K[:2] * X[..., :2] / X[..., 2:] + K[2:]
    return float(np.median(np.linalg.norm(uv - p2, axis=-1)))


def check_universal(univ, annot3, annot2, K, annot3_px: float, path) -> float:
    """DataFormatError naming ``path`` when the universal 3D, re-posed with annot3's bone lengths
    (:func:`universal_reprojection`), projects more than :data:`MAX_UNIVERSAL_EXTRA_PX` px (median) further
    from annot2 than annot3 itself (``annot3_px``): univ_annot3 of other frames (time-reversed, shifted)
    or another sequence. Returns the measured px error."""
    err = universal_reprojection(univ, annot3, annot2, K)
    if not err <= annot3_px + MAX_UNIVERSAL_EXTRA_PX:
        raise DataFormatError(
            f"{path}: univ_annot3 and annot2 disagree: median reprojection error {err:.4g} px of the universal "
            f"skeleton re-posed with annot3's bone lengths (annot3 itself: {annot3_px:.3g} px; refused above "
            f"{MAX_UNIVERSAL_EXTRA_PX:g} px more): univ_annot3 of other frames (time-reversed or shifted) or of "
            "another sequence?")
    return err


def find_sources(data_root, sequences=None) -> list[Path]:
    """``<root>/TSk/annot_data.mat`` (or ``<root>/mpi_inf_3dhp_test_set/TSk/...``) for present sequences."""
    root = Path(data_root)
    if not root.exists():
        raise FileNotFoundError(f"MPI-INF-3DHP data_root {root} does not exist")
    seqs = SEQUENCES if sequences is None else tuple(sequences)
    for s in seqs:
        camera_of(s)
    for base in (root, root / "mpi_inf_3dhp_test_set"):
        found = [base / s / "annot_data.mat" for s in seqs if (base / s / "annot_data.mat").exists()]
        for p in found:
            require_file(p, "MPI-INF-3DHP annotation file")
        if found:
            return found
    raise FileNotFoundError(f"{root}: no MPI-INF-3DHP test annotations found (looked for TS1..TS6/annot_data.mat "
                            "and mpi_inf_3dhp_test_set/TS*/annot_data.mat)")


def load_3dhp(data_root, split: str = "test", *, sequences=None, valid_only: bool = True,
              universal: bool = True, max_reprojection_px: float = 5.0) -> PoseSet:
    """Convert the MPI-INF-3DHP test set under ``data_root`` (split 'test'). ``valid_only`` keeps the
    frames with ``valid_frame`` 1 (the evaluation protocol); ``universal`` picks ``univ_annot3``."""
    if split != "test":
        raise ValueError(f"MPI-INF-3DHP: only split 'test' (TS1-TS6) is supported, got {split!r}")
    files = find_sources(data_root, sequences)
    present = [p.parent.name for p in files]
    absent = [s for s in (SEQUENCES if sequences is None else sequences) if s not in present]
    if absent:
        warnings.warn(f"MPI-INF-3DHP: sequences absent under {data_root}: {absent}", stacklevel=2)
    cols = {k: [] for k in ("p2", "p3", "K", "S", "seq", "frame", "scene", "action")}
    reproj = {}
    for path in files:
        seq = path.parent.name
        d = read_annot_data(path)
        K, size = camera_of(seq)
        keep = np.flatnonzero(d["valid_frame"]) if valid_only else np.arange(len(d["annot2"]))
        if not len(keep):
            raise DataFormatError(f"{path}: no frame to convert: {len(d['annot2'])} frames, "
                                  f"{'none with valid_frame 1' if valid_only and len(d['annot2']) else 'empty arrays'}")
        p2 = d["annot2"][keep][:, list(MPI3DHP_TO_H36M)]
        p3src = d["univ_annot3" if universal else "annot3"][keep][:, list(MPI3DHP_TO_H36M)]
        a3 = d["annot3"][keep]
        named = (("annot2", p2), ("3D", p3src)) + ((("annot3", a3),) if universal else ())
        for name, a in named:
            if not np.isfinite(a).all():
                raise DataFormatError(f"{path}: {name} has {int((~np.isfinite(a)).sum())} NaN/inf values in kept "
                                      "frames")
        for name in ("annot3", "univ_annot3") if universal else ("annot3",):
            check_human_scale(d[name][keep][:, list(MPI3DHP_TO_H36M)], f"{path}: {name!r}", "mm")
        behind = int((a3[..., 2] <= 0).any(-1).sum())
        if behind:
            raise DataFormatError(f"{path}: 'annot3' has joints at or behind the camera (depth <= 0 mm) in {behind} "
                                  f"of {len(a3)} frames; expected camera coordinates in mm (z forward)")
        Kv = np.asarray(K)
        uv = Kv[:2] * a3[..., :2] / a3[..., 2:] + Kv[2:]
        err = float(np.median(np.linalg.norm(uv - d["annot2"][keep], axis=-1)))
        reproj[seq] = round(err, 4)
        if err > REFUSE_REPROJECTION_PX:
            span = float(np.abs(d["annot2"][keep]).max())
            hint = ("annot2 lies within +-2: normalised coordinates instead of pixels?" if span <= 2.0 else
                    "annot2 not in pixels, or annot2 and annot3 of different frames or sequences?")
            raise DataFormatError(f"{path}: annot2 and annot3 disagree: median reprojection error {err:.4g} px "
                                  f"with the published {seq} intrinsics (refused above {REFUSE_REPROJECTION_PX:g} px); "
                                  f"{hint}")
        if universal:
            check_universal(d["univ_annot3"][keep], a3, d["annot2"][keep], Kv, err, path)
        if err > max_reprojection_px:
            est = np.round(estimate_intrinsics(d["annot2"][keep], a3), 2)
            warnings.warn(f"{path}: median reprojection error of annot3 with the published intrinsics is "
                          f"{err:.1f} px; estimate_intrinsics() gives {est}", stacklevel=2)
        n = len(keep)
        cols["p2"].append(p2); cols["p3"].append(p3src)
        cols["K"].append(np.tile(Kv, (n, 1))); cols["S"].append(np.tile(size, (n, 1)))
        cols["seq"].append(np.full(n, f"{seq}/imageSequence"))
        cols["frame"].append(keep)  # 0-based; the image is img_%06d.jpg of frame + 1
        cols["scene"].append(np.full(n, SCENES[seq]))
        cols["action"].append(np.array([ACTIVITIES.get(int(a), "unknown") for a in d["activity_annotation"][keep]],
                                        dtype=object).astype(str) if n else np.zeros(0, str))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(cat["p2"])
    meta = dict(dataset="3dhp", split=split, source=SOURCE, format="3dhp-test-annot_data.mat",
                source_files=[str(p) for p in files], absent=absent, valid_only=valid_only,
                poses_3d="univ_annot3" if universal else "annot3", reprojection_px=reproj,
                eval_joints_14=list(EVAL_JOINTS_14),
                frame="0-based index; image <sequence>/img_%06d.jpg of frame + 1")
    ps = PoseSet(poses_2d=cat["p2"].astype(np.float32), poses_3d=cat["p3"].astype(np.float32),
                 intrinsics=cat["K"].astype(np.float32), distortion=np.zeros((n, 5), np.float32),
                 image_size=cat["S"].astype(np.int32), has_3d=np.ones(n, bool),
                 visible=np.ones((n, NUM_JOINTS), bool), subject=np.array([s.split("/")[0] for s in cat["seq"]]),
                 action=cat["action"].astype(str), sequence=cat["seq"].astype(str),
                 camera=np.array([s.split("/")[0] for s in cat["seq"]]), frame=cat["frame"].astype(np.int32),
                 scene=cat["scene"].astype(str), meta=meta)
    return ps.validate()


def image_path(ps: PoseSet, i: int) -> str:
    """Relative image path of sample ``i`` of a 3DHP PoseSet, e.g. ``TS1/imageSequence/img_000001.jpg``."""
    return f"{ps.sequence[i]}/img_{int(ps.frame[i]) + 1:06d}.jpg"
