"""MPII Human Pose reader: the official ``mpii_human_pose_v1_u12_1.mat`` and the HRNet/mmpose JSON
annotation files -> 2D-only :class:`PoseSet` (``has_3d`` False).

* ``.mat`` (MATLAB v5, read with ``scipy.io.loadmat``): struct ``RELEASE`` with ``annolist`` (per image:
  ``image.name``, ``annorect`` per person with ``annopoints.point`` (``id`` 0..15, ``x``, ``y``,
  ``is_visible``), head box ``x1, y1, x2, y2``, ``scale``, ``objpos``), ``img_train``,
  ``single_person``, ``act``. Only training images (``img_train == 1``) carry annotations.
* JSON (``train.json`` / ``valid.json`` of HRNet and mmpose): a list of ``{image, joints (16 x 2),
  joints_vis (16), center (2), scale}``; the head boxes of the validation split come from HRNet's
  ``gt_valid.mat`` (``headboxes_src`` (2, 2, N)) when it lies next to the JSON.

Conventions: pixel coordinates are converted from MATLAB's 1-based to 0-based (subtract 1, as
HRNet does) in both formats. The 16 MPII joints become posecore's 17 with
:func:`posecore.skeleton.mpii_to_h36m` (spine = midpoint of pelvis and thorax, visible only if both
are). ``visible`` means *annotated* (the joint has a label; MPII's occlusion flag ``is_visible`` is
not kept -- PCKh counts every annotated joint). Unannotated joints hold 0 px and ``visible`` False.

Per-person extras that PoseSet has no field for are stored in ``meta`` as lists aligned with the
samples: ``meta['head_size']`` (px, 0.6 x head-box diagonal, the MPII PCKh convention; NaN when no
head box is known), ``meta['center']``, ``meta['scale']`` (the person scale, 200 px units);
:func:`mpii_extras` returns them as arrays. Intrinsics are unknown: ``intrinsics`` holds the
placeholder [1, 1, 0, 0] and ``image_size`` (0, 0) (= unknown).

Malformed files are refused with :class:`~posecore.data.safe_io.DataFormatError` naming the file, the
entry (image) and the problem: non-numeric or non-finite coordinates, wrong shapes, a non-positive,
non-finite (overflow) or absurd scale (above :data:`MAX_SCALE`), coordinates beyond :data:`MAX_PX` (not
pixels), a person whose coordinates all lie within [0, 1.5] while its scale says it is hundreds of px tall
(normalised coordinates), head boxes all of zero size (PCKh needs them), a joint id given twice in one
annotation of the .mat (the second point would overwrite the first), a split with no annotated joint at
all. A joint annotated at exactly (-1, -1) (MPII's marker of a missing joint) is treated as missing, with
a warning counting them; some zero-size head boxes are a warning.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..skeleton import mpii_to_h36m
from .dataset import PoseSet
from .safe_io import (
    DataFormatError,
    check_finite,
    numeric_array,
    open_regular,
    parse_json,
    read_text,
    require_file,
)

SOURCE = ("MPII Human Pose (Andriluka et al., CVPR 2014), http://human-pose.mpi-inf.mpg.de; "
          "Simplified BSD licence for the annotations, images from YouTube (research use only)")
MAT_NAME = "mpii_human_pose_v1_u12_1.mat"
HEAD_SIZE_FACTOR = 0.6  # PCKh head size = 0.6 x head-box diagonal
SPLITS = ("train", "valid")
MAX_PX = 1e5  # |pixel coordinate| above this is not an image coordinate (wrong units or junk)
# person scale = height / 200 px: above MAX_PX / 200 the person is taller than any image (junk, overflow)
MAX_SCALE = MAX_PX / 200.0
# all annotated coordinates of a person within [0, NORMALISED_MAX] (1-based) while its scale says it is at
# least MIN_NORMALISED_PERSON_PX tall: coordinates normalised to [0, 1] instead of pixels
NORMALISED_MAX = 1.5
MIN_NORMALISED_PERSON_PX = 50.0


def head_size(x1, y1, x2, y2):
    """MPII head size (px): 0.6 x the diagonal of the head box (arrays broadcast)."""
    return HEAD_SIZE_FACTOR * np.hypot(np.asarray(x2, float) - x1, np.asarray(y2, float) - y1)


def _finish(joints16, annotated16, image, index, head, center, scale, action, split, source_files, fmt):
    """Assemble the PoseSet from per-person MPII arrays (0-based px)."""
    joints16 = np.asarray(joints16, np.float32).reshape(-1, 16, 2)
    ann = np.asarray(annotated16, bool).reshape(-1, 16)
    n = len(joints16)
    j = np.where(ann[..., None], joints16, 0).astype(np.float32)
    p2 = mpii_to_h36m(j)
    vis = mpii_to_h36m(ann[..., None].astype(np.float32))[..., 0]
    vis[:, 7] = ann[:, 6] & ann[:, 7]  # spine: visible only if pelvis and thorax are
    p2[~(vis > 0)] = 0.0
    head = np.asarray(head, float).reshape(n)
    meta = dict(dataset="mpii", split=split, source=SOURCE, format=fmt, source_files=source_files,
                head_size=[None if not np.isfinite(h) else round(float(h), 3) for h in head],
                center=np.round(np.asarray(center, float).reshape(n, 2), 3).tolist(),
                scale=np.round(np.asarray(scale, float).reshape(n), 5).tolist(),
                coordinates="0-based px (MATLAB 1-based minus 1)",
                intrinsics="unknown: placeholder [1, 1, 0, 0]; image_size (0, 0) = unknown",
                visible="annotated (MPII is_visible occlusion flag not kept)")
    if np.isnan(head).any():
        meta["head_size_missing"] = int(np.isnan(head).sum())
    ps = PoseSet.create(p2, None, [1.0, 1.0, 0.0, 0.0], image_size=[0, 0], has_3d=False, visible=vis > 0,
                        subject="", action=np.asarray(action, object), sequence=np.asarray(image, object),
                        camera="", frame=np.asarray(index, np.int32), scene="", meta=meta)
    return ps


def mpii_extras(ps: PoseSet) -> dict:
    """Arrays aligned with ``ps``: ``head_size`` (N,) px (NaN unknown), ``center`` (N, 2), ``scale`` (N,)."""
    m = ps.meta
    return dict(head_size=np.array([np.nan if h is None else h for h in m["head_size"]], float),
                center=np.asarray(m["center"], float).reshape(-1, 2), scale=np.asarray(m["scale"], float))


def load_mpii_head_sizes(ps_or_path) -> np.ndarray:
    """(N,) head sizes (px) of an MPII PoseSet (or a PoseSet .npz path)."""
    ps = ps_or_path if isinstance(ps_or_path, PoseSet) else PoseSet.load(ps_or_path)
    if ps.meta.get("dataset") != "mpii":
        raise ValueError(f"not an MPII PoseSet (meta['dataset']={ps.meta.get('dataset')!r})")
    return mpii_extras(ps)["head_size"]


# --- .mat ----------------------------------------------------------------------------------------
def _arr(v):
    """A mat_struct field as a 1-D object array (squeeze_me turns 1-element arrays into scalars)."""
    if isinstance(v, np.ndarray):
        return v.ravel()
    return np.array([v], dtype=object)


def _empty(v) -> bool:
    return isinstance(v, np.ndarray) and v.size == 0


def _num(v, default=np.nan) -> float:
    """A .mat scalar (number, numeric string as the release has for is_visible, or empty) as a float."""
    if _empty(v) or v is None:
        return default
    if isinstance(v, (str, np.str_)):
        return float(v) if v.strip() else default
    a = np.asarray(v)
    if a.dtype.kind not in "biuf" or a.size != 1:
        raise ValueError(f"expected a number, got {v!r}")
    return float(a.ravel()[0])


def _check_px(path, where, xy) -> None:
    """DataFormatError unless the pixel coordinates ``xy`` are finite and within +-MAX_PX."""
    check_finite(xy, f"{path}: {where}")
    big = float(np.abs(xy).max()) if np.size(xy) else 0.0
    if big > MAX_PX:
        raise DataFormatError(f"{path}: {where}: coordinate {big:.3g} px is not a pixel coordinate (wrong units?)")


def _check_some_annotated(path, annotated) -> None:
    if not np.asarray(annotated).any():
        raise DataFormatError(f"{path}: no annotated joint in any entry (every joint is marked missing)")


def _check_scale(path, where, sc, raw=None) -> None:
    """DataFormatError unless the person scale ``sc`` is a positive finite number at most MAX_SCALE."""
    shown = sc if raw is None else raw
    if not np.isfinite(sc):
        raise DataFormatError(f"{path}: {where}: scale is not finite ({shown!r}: overflow?); expected a positive number")
    if not sc > 0:
        raise DataFormatError(f"{path}: {where}: scale must be a positive number, got {shown!r}")
    if sc > MAX_SCALE:
        raise DataFormatError(f"{path}: {where}: scale {sc:.3g} is not a person scale (a {sc * 200:.3g} px tall "
                              f"person; at most {MAX_SCALE:g})")


def _drop_missing_marked_visible(path, joints1, ann, labels) -> np.ndarray:
    """Annotated joints at exactly (-1, -1) (1-based: MPII's 'missing' marker) are missing, with a warning
    counting them; returns the corrected ``ann`` (N, 16)."""
    joints1 = np.asarray(joints1, float).reshape(-1, 16, 2)
    ann = np.asarray(ann, bool).reshape(-1, 16)
    marker = ann & (joints1 == -1).all(-1)
    if marker.any():
        rows = np.flatnonzero(marker.any(1))
        shown = ", ".join(labels[i] for i in rows[:3]) + (" ..." if len(rows) > 3 else "")
        warnings.warn(f"{path}: {int(marker.sum())} joints of {len(rows)} people are annotated at (-1, -1), MPII's "
                      f"marker of a missing joint: treated as missing ({shown})", stacklevel=3)
    return ann & ~marker


def _check_not_normalised(path, joints1, ann, scales, labels) -> None:
    """DataFormatError when a person's annotated 1-based coordinates (>= 2 joints) all lie within
    [0, NORMALISED_MAX] while its scale says it is hundreds of px tall: normalised coordinates."""
    joints1 = np.asarray(joints1, float).reshape(-1, 16, 2)
    ann = np.asarray(ann, bool).reshape(-1, 16)
    inside = ((joints1 >= 0) & (joints1 <= NORMALISED_MAX)).all(-1) | ~ann
    tall = np.asarray(scales, float) * 200.0 >= MIN_NORMALISED_PERSON_PX
    bad = np.flatnonzero(inside.all(1) & (ann.sum(1) >= 2) & tall)
    if len(bad):
        i = bad[0]
        raise DataFormatError(
            f"{path}: {labels[i]}: every joint coordinate lies within [0, {NORMALISED_MAX:g}] while its scale "
            f"{scales[i]:g} says the person is {scales[i] * 200:.0f} px tall ({len(bad)} of {len(ann)} people): "
            "coordinates normalised to [0, 1], not pixels")


def _check_head_sizes(path, heads, labels) -> None:
    """PCKh needs head boxes: DataFormatError when every known head size is 0, a warning when some are."""
    heads = np.asarray(heads, float)
    known = np.isfinite(heads)
    zero = known & (heads <= 0)
    if known.any() and zero.sum() == known.sum():
        raise DataFormatError(f"{path}: every head box has zero size ({int(zero.sum())} of {len(heads)} people): "
                              "PCKh needs the head boxes")
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        warnings.warn(f"{path}: {int(zero.sum())} of {len(heads)} head boxes have zero size (first: {labels[i]}); "
                      "PCKh cannot score those people", stacklevel=3)


def load_mpii_mat(path, split: str = "train") -> PoseSet:
    """Convert the official ``.mat``. ``split='train'`` returns every annotated person of the training
    images (``img_train == 1``; this includes the images of HRNet's validation subset -- use the JSON
    files for the train/valid split). Test images carry no public annotations."""
    from scipy.io import loadmat
    path = Path(path)
    if split != "train":
        raise ValueError(f"{path}: the official .mat gives split 'train' (annotated training images) only; "
                         f"got {split!r} -- use HRNet's valid.json (+ gt_valid.mat) for 'valid'")
    require_file(path, "MPII annotation file")
    try:
        with open_regular(path, "MPII annotation file") as fh:  # the checked regular file, never a pipe
            mat = loadmat(fh, struct_as_record=False, squeeze_me=True)
    except Exception as e:
        raise DataFormatError(f"{path}: unreadable or truncated MATLAB file ({type(e).__name__}: {e})") from e
    if "RELEASE" not in mat:
        raise DataFormatError(f"{path}: no struct 'RELEASE' (found {[k for k in mat if not k.startswith('__')]})")
    rel = mat["RELEASE"]
    for f in ("annolist", "img_train"):
        if not hasattr(rel, f):
            raise DataFormatError(f"{path}: RELEASE has no field {f!r}")
    annolist = _arr(rel.annolist)
    img_train = numeric_array(rel.img_train, f"{path}: RELEASE.img_train").ravel()
    if len(img_train) != len(annolist):
        raise DataFormatError(f"{path}: RELEASE.img_train has {len(img_train)} entries, annolist {len(annolist)}")
    acts = _arr(rel.act) if hasattr(rel, "act") else [None] * len(annolist)
    if len(acts) != len(annolist):
        acts = [None] * len(annolist)
    J, A, names, idx, heads, centers, scales, actions = [], [], [], [], [], [], [], []
    for i, a in enumerate(annolist):
        if img_train[i] != 1:
            continue
        try:
            person = _mat_image(a, acts[i])
        except DataFormatError:
            raise
        except (AttributeError, TypeError, ValueError, IndexError) as e:
            raise DataFormatError(f"{path}: RELEASE.annolist({i + 1}): malformed entry "
                                  f"({type(e).__name__}: {e})") from e
        for name, r, joints, ann, box, scale, center, act_name in person:
            where = f"image {name} person {r}"
            if not np.isnan(scale):  # absent in some rects; present must be a person scale
                _check_scale(path, f"RELEASE.annolist({i + 1}) {where}", scale)
            if ann.any():
                _check_px(path, f"{where}: joint coordinates", joints[ann])
            J.append(joints); A.append(ann); names.append(name); idx.append(r)
            heads.append(head_size(*box)); scales.append(scale); centers.append(center)
            actions.append(act_name)
    if not J:
        raise DataFormatError(f"{path}: no annotated people in the training images")
    labels = [f"image {nm} person {r}" for nm, r in zip(names, idx)]
    A = list(_drop_missing_marked_visible(path, np.asarray(J) + 1.0, A, labels))
    _check_some_annotated(path, A)
    _check_not_normalised(path, np.asarray(J) + 1.0, A, np.nan_to_num(np.asarray(scales, float)), labels)
    _check_head_sizes(path, heads, labels)
    return _finish(J, A, names, idx, heads, centers, scales, actions, split, [str(path)], "mpii-mat")


def _mat_image(a, act) -> list:
    """The annotated people of one ``annolist`` entry of the .mat: a list of (image name, person index,
    joints (16, 2) 0-based px, annotated (16,), head box, scale, center, action name)."""
    name = a.image.name
    if not isinstance(name, (str, np.str_)):
        raise ValueError(f"image.name must be a string, got {name!r}")
    name = str(name)
    act_name = str(getattr(act, "act_name", "")) if act is not None and not _empty(getattr(act, "act_name", [])) else ""
    rects = [] if _empty(a.annorect) else _arr(a.annorect)
    out = []
    for r, rect in enumerate(rects):
        ap = getattr(rect, "annopoints", None)
        if ap is None or _empty(ap) or not hasattr(ap, "point"):
            continue
        joints = np.zeros((16, 2))
        ann = np.zeros(16, bool)
        for p in _arr(ap.point):
            jid = _num(p.id)
            if not (jid == int(jid) and 0 <= jid < 16):
                raise ValueError(f"image {name} person {r}: joint id {jid} outside 0..15")
            if ann[int(jid)]:
                raise ValueError(f"image {name} person {r}: joint id {int(jid)} given twice (the second point "
                                 "would overwrite the first)")
            joints[int(jid)] = (_num(p.x) - 1.0, _num(p.y) - 1.0)
            ann[int(jid)] = True
        box = [_num(getattr(rect, k, np.nan)) for k in ("x1", "y1", "x2", "y2")]
        op = getattr(rect, "objpos", None)
        center = ((_num(getattr(op, "x", np.nan)) - 1.0, _num(getattr(op, "y", np.nan)) - 1.0)
                  if op is not None and not _empty(op) else (np.nan, np.nan))
        out.append((name, r, joints, ann, box, _num(getattr(rect, "scale", np.nan)), center, act_name))
    return out


# --- JSON ----------------------------------------------------------------------------------------
def load_mpii_json(path, split: str | None = None, gt_valid=None) -> PoseSet:
    """Convert an HRNet/mmpose MPII JSON file. Head boxes come from ``gt_valid`` (default:
    ``gt_valid.mat`` next to a ``valid.json``), aligned by order; otherwise head sizes are NaN."""
    from scipy.io import loadmat
    path = Path(path)
    split = split or path.stem
    text = read_text(path, "MPII JSON annotation file")
    entries = parse_json(text, path, "MPII JSON annotation file")  # one-line errors (digits, nesting, syntax)
    if not isinstance(entries, list) or not entries:
        raise DataFormatError(f"{path}: expected a non-empty list of annotation entries, got "
                              f"{type(entries).__name__}{' (empty)' if not entries else ''}")
    J, V, C, S, names = [], [], [], [], []
    for i, e in enumerate(entries):
        j, v, c, sc, name = _json_entry(path, i, e)
        J.append(j - 1.0); V.append(v > 0); C.append(c - 1.0); S.append(sc); names.append(name)
    labels = [f"entry {i} ({nm})" for i, nm in enumerate(names)]
    V = _drop_missing_marked_visible(path, np.array(J) + 1.0, np.array(V), labels)
    _check_some_annotated(path, V)
    _check_not_normalised(path, np.array(J) + 1.0, V, np.array(S), labels)
    idx = np.zeros(len(names), np.int32)  # person index within its image, in file order
    seen = {}
    for k, nm in enumerate(names):
        idx[k] = seen.get(nm, 0)
        seen[nm] = idx[k] + 1
    heads = np.full(len(names), np.nan)
    gt = Path(gt_valid) if gt_valid is not None else path.with_name("gt_valid.mat")
    if (gt_valid is not None or split == "valid") and gt.exists():
        require_file(gt, "head-box file (gt_valid.mat)")
        try:
            with open_regular(gt, "head-box file (gt_valid.mat)") as fh:
                hb = loadmat(fh)["headboxes_src"]
        except Exception as e:
            raise DataFormatError(f"{gt}: cannot read 'headboxes_src' ({type(e).__name__}: {e})") from e
        hb = numeric_array(hb, f"{gt}: headboxes_src", shape=(2, 2, None))
        if hb.shape != (2, 2, len(names)):
            raise DataFormatError(f"{gt}: headboxes_src has shape {hb.shape}, expected (2, 2, {len(names)}) "
                                  f"to match {path}")
        _check_px(gt, "headboxes_src", hb)
        heads = head_size(hb[0, 0], hb[0, 1], hb[1, 0], hb[1, 1])
        _check_head_sizes(gt, heads, labels)
    elif gt_valid is not None:
        raise FileNotFoundError(f"{gt}: head-box file not found")
    else:
        warnings.warn(f"{path}: no head boxes (gt_valid.mat) for split {split!r}; meta['head_size'] is NaN",
                      stacklevel=2)
    srcs = [str(path)] + ([str(gt)] if gt.exists() and split == "valid" else [])
    return _finish(np.array(J), V, names, idx, heads, np.array(C), S, [""] * len(names), split, srcs, "mpii-json")


def _json_entry(path, i, e) -> tuple:
    """One HRNet/mmpose JSON entry -> (joints (16, 2) 1-based px, joints_vis (16,), center (2,), scale,
    image name); DataFormatError naming the file, the entry and the field."""
    need = ("image", "joints", "joints_vis", "center", "scale")
    if not isinstance(e, dict):
        raise DataFormatError(f"{path}: entry {i} is a {type(e).__name__}, expected an object with keys {list(need)}")
    miss = [k for k in need if k not in e]
    if miss:
        raise DataFormatError(f"{path}: entry {i} lacks keys {miss}")
    name = e["image"]
    if not isinstance(name, str) or not name.strip():
        raise DataFormatError(f"{path}: entry {i}: 'image' must be an image file name, got {name!r}")
    where = f"entry {i} ({name})"
    j = numeric_array(e["joints"], f"{path}: {where}: joints", shape=(16, 2))
    v = numeric_array(e["joints_vis"], f"{path}: {where}: joints_vis", shape=(16,), allow_bool=True)
    c = numeric_array(e["center"], f"{path}: {where}: center", shape=(2,))
    sc = numeric_array(e["scale"], f"{path}: {where}: scale", shape=())
    if not np.isfinite(j).all():
        raise DataFormatError(f"{path}: {where}: NaN/inf joint coordinates (not finite: NaN, or a number that "
                              "overflows a float such as 1e400)")
    _check_px(path, f"{where}: joints", j)
    _check_px(path, f"{where}: center", c)
    _check_scale(path, where, float(sc), e["scale"])
    if not np.isin(v, (0, 1)).all():
        raise DataFormatError(f"{path}: {where}: joints_vis must hold 0/1 flags, got {e['joints_vis']!r}")
    return j, v, c, float(sc), name


# --- dispatch ------------------------------------------------------------------------------------
def find_sources(data_root, split: str) -> list[Path]:
    """Files a conversion reads: ``<root>/annot/<split>.json`` (HRNet layout) or ``<root>/<split>.json``
    (+ gt_valid.mat), else the official ``.mat`` (``<root>/`` or ``<root>/mpii_human_pose_v1_u12_2/``)."""
    root = Path(data_root)
    if not root.exists():
        raise FileNotFoundError(f"MPII data_root {root} does not exist")
    if split not in SPLITS:
        raise ValueError(f"unknown MPII split {split!r}; choose one of {SPLITS}")
    if root.is_file():
        return [root]
    for folder in (root / "annot", root):
        js = folder / f"{split}.json"
        if js.exists():
            gt = folder / "gt_valid.mat"
            return [js] + ([gt] if split == "valid" and gt.exists() else [])
    for mat in (root / MAT_NAME, root / "mpii_human_pose_v1_u12_2" / MAT_NAME):
        if mat.exists():
            return [mat]
    raise FileNotFoundError(f"{root}: no MPII annotations found: looked for annot/{split}.json, {split}.json, "
                            f"{MAT_NAME} and mpii_human_pose_v1_u12_2/{MAT_NAME}")


def load_mpii(data_root, split: str = "train") -> PoseSet:
    """Convert the MPII annotations under ``data_root`` (JSON split files preferred, else the .mat)."""
    src = find_sources(data_root, split)[0]
    if src.suffix == ".json":
        return load_mpii_json(src, split)
    return load_mpii_mat(src, split)
