"""Generic BVH motion capture -> :class:`PoseSet`, for any rig, through a joint-name mapping file.

Forward kinematics is done by the maintained PyPI library ``pybvh`` (``pybvh.read_bvh_file(path)``,
``Bvh.node_positions()`` (F, nodes, 3) world positions in the file's units; ``node_index`` /
``joint_tips`` for the names). The 3D poses are then converted to millimetres (``units``), rotated
so that the file's up axis (``up``) becomes posecore's world +Z, and seen by one or more virtual
pinhole cameras (:func:`posecore.camera.look_at_camera`) aimed at the sequence's mean pelvis:
``poses_3d`` in mm in the camera frame, ``poses_2d`` its projection (no distortion).

Mapping file (JSON object: posecore joint name -> how to get it from the BVH skeleton), all 17
names of :data:`posecore.skeleton.H36M_JOINTS` required::

    {"pelvis": "Hips",                               # a joint (or end-site node) by name
     "spine": "midpoint of Spine and Spine1",        # or {"midpoint": ["Spine", "Spine1"]}
     "head": "end of Head",                          # the end site of joint Head, or {"end_of": "Head"}
     "neck": {"joint": "Head", "offset": [0, 6, 0]}, # plus an offset in the file's world axes and units
     ...}

(The lead's :mod:`posecore.data.bvh` converts the CMU corpus; this module is the generic route for
users who lift their own mocap.)

Malformed input is refused with :class:`~posecore.data.safe_io.DataFormatError` naming the file and the
problem: a mapping that is not UTF-8 JSON or has bad rules, a BVH that pybvh cannot parse, has no
frames, a non-positive frame time or non-finite positions, two joints with one name, a mapped limb
joint not below its parent's joint in the HIERARCHY (a misplaced brace: :func:`check_hierarchy`), and
-- in :func:`load_bvh` (:func:`check_body`) -- a skeleton that is not the size of a person in the given
``units`` (the message names the unit it looks like), legs that do not point down the chosen ``up``
axis (the message names the file axis that fits), left and right swapped (the hips or shoulders face
away from the toes) and a height that is no adult's in ``units`` but is in another unit, with an
adult's proportions (inches read as cm, cm read as inches).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..camera import look_at_camera, project
from ..skeleton import H36M_JOINTS, NUM_JOINTS
from .dataset import PoseSet
from .plausibility import check_body_units, check_facing, check_up_axis
from .safe_io import (
    UNITS_TO_MM,
    DataFormatError,
    check_human_scale,
    max_text_bytes,
    numeric_array,
    parse_json,
    read_text,
    require_file,
)

SPLITS = ("all", "train", "test")
SOURCE = "user-supplied BVH motion capture (licence of the user's files)"


def up_rotation(up: str) -> np.ndarray:
    """(3, 3) rotation taking the signed axis ``up`` ('+y', '-z', 'y', ...) to world +Z (right-handed)."""
    m = re.fullmatch(r"([+-]?)([xyz])", str(up).strip().lower())
    if not m:
        raise ValueError(f"up axis must be one of +x, -x, +y, -y, +z, -z; got {up!r}")
    u = np.zeros(3)
    u["xyz".index(m.group(2))] = -1.0 if m.group(1) == "-" else 1.0
    z = np.array([0.0, 0.0, 1.0])
    v, c = np.cross(u, z), float(u @ z)
    if np.allclose(v, 0):
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def load_mapping(mapping) -> dict:
    """A mapping dict from a dict or a JSON file path; checks the posecore names."""
    src = "mapping"
    if isinstance(mapping, (str, Path)):
        src = str(mapping)
        text = read_text(mapping, "joint-name mapping file (JSON)")
        mapping = parse_json(text, src, "joint-name mapping file (JSON)")  # one-line errors (digits, nesting)
    if not isinstance(mapping, dict):
        raise DataFormatError(f"{src}: expected a JSON object posecore joint -> BVH joint, got "
                              f"{type(mapping).__name__}")
    unknown = [k for k in mapping if k not in H36M_JOINTS]
    missing = [k for k in H36M_JOINTS if k not in mapping]
    if unknown or missing:
        raise DataFormatError(f"{src}: unknown posecore joints {unknown}, missing {missing}; names are {H36M_JOINTS}")
    for name in H36M_JOINTS:
        _parse_rule(name, mapping[name], src)  # every rule well-formed before any BVH is read
    return mapping


def _parse_rule(name: str, rule, src: str) -> tuple[str, list[str], np.ndarray]:
    """-> (kind 'node'|'end'|'mid', [bvh names], offset (3,))."""
    off = np.zeros(3)
    if isinstance(rule, dict):
        if "offset" in rule:
            off = numeric_array(rule["offset"], f"{src}: {name}: offset", shape=(3,))
            if not np.isfinite(off).all():
                raise DataFormatError(f"{src}: {name}: offset must be 3 finite numbers, got {rule['offset']}")
        if "midpoint" in rule:
            pair = rule["midpoint"]
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(n, str) for n in pair)):
                raise DataFormatError(f"{src}: {name}: 'midpoint' needs two joint names, got {pair!r}")
            return "mid", list(pair), off
        if "end_of" in rule:
            if not isinstance(rule["end_of"], str):
                raise DataFormatError(f"{src}: {name}: 'end_of' needs a joint name, got {rule['end_of']!r}")
            return "end", [rule["end_of"]], off
        if "joint" in rule:
            if isinstance(rule["joint"], dict):
                raise DataFormatError(f"{src}: {name}: 'joint' needs a joint name, got {rule['joint']!r}")
            kind, names, _ = _parse_rule(name, rule["joint"], src)
            return kind, names, off
        raise DataFormatError(f"{src}: {name}: rule {rule} needs 'joint', 'midpoint' or 'end_of'")
    if not isinstance(rule, str) or not rule.strip():
        raise DataFormatError(f"{src}: {name}: expected a BVH joint name or a rule object, got {rule!r}")
    m = re.fullmatch(r"\s*midpoint of\s+(.+?)\s+and\s+(.+?)\s*", rule, flags=re.I)
    if m:
        return "mid", [m.group(1), m.group(2)], off
    m = re.fullmatch(r"\s*end of\s+(.+?)\s*", rule, flags=re.I)
    if m:
        return "end", [m.group(1)], off
    return "node", [rule.strip()], off


def map_positions(bvh, mapping: dict, src: str = "mapping", bvh_path=None) -> np.ndarray:
    """(F, 17, 3) positions (file units and axes) of the posecore joints from a pybvh ``Bvh`` (read from
    ``bvh_path``, named in errors)."""
    nodes = bvh.node_positions()  # (F, N, 3) world
    index = bvh.node_index
    tips = bvh.joint_tips
    out = np.zeros((nodes.shape[0], NUM_JOINTS, 3))

    def node(n):
        if n not in index:
            raise DataFormatError(f"{src}: BVH joint {n!r} not in {bvh_path or 'the BVH file'}; "
                             f"joints are {bvh.joint_names}")
        return nodes[:, index[n]]

    for j, name in enumerate(H36M_JOINTS):
        kind, names, off = _parse_rule(name, mapping[name], src)
        if kind == "node":
            p = node(names[0])
        elif kind == "mid":
            p = 0.5 * (node(names[0]) + node(names[1]))
        else:
            if names[0] not in tips:
                raise DataFormatError(f"{src}: {name}: 'end of {names[0]}': no such joint; joints are "
                                      f"{bvh.joint_names}")
            if tips[names[0]] is None:
                raise DataFormatError(f"{src}: {name}: joint {names[0]!r} has no end site")
            p = nodes[:, tips[names[0]]]
        out[:, j] = p + off
    return out


# posecore (parent, child) joints whose BVH nodes must be ancestor and descendant in the HIERARCHY
LIMB_CHAINS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
               ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
               ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"))


def check_hierarchy(bvh, mapping: dict, path, src: str = "mapping") -> None:
    """DataFormatError naming ``path`` for two joints with one name, or for a mapped limb joint that is not
    below the joint mapped to its parent (a knee not under the hip, ...: a misplaced brace re-parenting
    joints, or a mapping to the wrong joints). Intermediate joints (twist bones) are allowed."""
    from collections import Counter
    dup = [n for n, k in Counter(nd.name for nd in bvh.nodes if not nd.is_end_site()).items() if k > 1]
    if dup:
        raise DataFormatError(f"{path}: {len(dup)} joint name(s) used twice in the HIERARCHY ({', '.join(map(repr, dup))}): "
                              "a name must identify one joint (the second shadows the first)")
    parent = {nd.name: (nd.parent.name if nd.parent is not None else None) for nd in bvh.nodes}

    def below(node, anc):
        while node is not None:
            if node == anc:
                return True
            node = parent.get(node)
        return False

    for pj, cj in LIMB_CHAINS:
        pnames = _parse_rule(pj, mapping[pj], src)[1]
        for cn in _parse_rule(cj, mapping[cj], src)[1]:
            if cn in parent and not any(below(cn, pn) for pn in pnames if pn in parent):
                raise DataFormatError(
                    f"{path}: joint {cn!r} ({cj}) is not below {pnames[0]!r} ({pj}) in the HIERARCHY: its parent is "
                    f"{parent[cn]!r} (a misplaced brace re-parenting joints, or a mapping to the wrong joints?)")


def _toe_cue(bvh, mapping: dict, src: str):
    """(F, 3) file-axes direction the feet point to (the ankles' descendants -- toes, end sites -- minus
    the ankles, both feet summed), or None when the mapped ankles have no descendants."""
    nodes = bvh.node_positions()
    parent = {nd.name: (nd.parent.name if nd.parent is not None else None) for nd in bvh.nodes}
    idx = bvh.node_index
    cue = np.zeros((nodes.shape[0], 3))
    found = False
    for side in ("left_ankle", "right_ankle"):
        kind, names, _ = _parse_rule(side, mapping[side], src)
        if kind != "node" or names[0] not in idx:
            return None
        ankle = names[0]
        kids = []
        for n, p in parent.items():
            while p is not None and p != ankle:
                p = parent.get(p)
            if p == ankle and n in idx:
                kids.append(idx[n])
        if kids:
            cue += nodes[:, kids].mean(1) - nodes[:, idx[ankle]]
            found = True
    return cue if found else None


def read_bvh(path, mapping, *, units: str = "cm", up: str = "+y", stride: int = 1) -> tuple[np.ndarray, float]:
    """(F', 17, 3) world mm, posecore world Z-up, and the frame rate after ``stride``, of a BVH file."""
    P, fps, _ = _read_bvh(path, mapping, units=units, up=up, stride=stride)
    return P, fps


def _read_bvh(path, mapping, *, units: str = "cm", up: str = "+y", stride: int = 1):
    """:func:`read_bvh` plus a dict of extras: ``R`` (file axes -> posecore world), ``up`` (the up axis
    used), ``toes`` ((F', 3) world direction of the feet, or None)."""
    import pybvh
    path = require_file(path, "BVH file", limit=max_text_bytes())  # pybvh reads the whole file
    if units not in UNITS_TO_MM:
        raise ValueError(f"unknown units {units!r}; choose one of {tuple(UNITS_TO_MM)}")
    if int(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if up != "auto":
        up_rotation(up)  # validates
        up = ("+" + up.strip().lower()) if up.strip()[0] not in "+-" else up.strip().lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bvh = pybvh.read_bvh_file(path, world_up=up, warn_on_world_up_disagreement=False)
    except Exception as e:
        raise DataFormatError(f"{path}: not a readable BVH file ({type(e).__name__}: {e})") from e
    if up == "auto":
        up = bvh.world_up
    if bvh.frame_count == 0:
        raise DataFormatError(f"{path}: BVH file has no motion frames")
    if not (np.isfinite(bvh.fps) and bvh.fps > 0):
        raise DataFormatError(f"{path}: 'Frame Time' must be a positive number of seconds (fps {bvh.fps})")
    src = "mapping" if isinstance(mapping, dict) else str(mapping)
    mp = load_mapping(mapping)
    try:
        with np.errstate(all="ignore"):
            P = map_positions(bvh, mp, src, path)[:: int(stride)]
    except DataFormatError:
        raise
    except Exception as e:  # pybvh's forward kinematics on a damaged file
        raise DataFormatError(f"{path}: cannot compute joint positions ({type(e).__name__}: {e})") from e
    if not np.isfinite(P).all():
        raise DataFormatError(f"{path}: non-finite joint positions (NaN/inf in the motion data?)")
    check_hierarchy(bvh, mp, path, src)
    R = up_rotation(up)
    P = P * UNITS_TO_MM[units] @ R.T
    with np.errstate(all="ignore"):
        toes = _toe_cue(bvh, mp, src)
    if toes is not None:
        toes = toes[:: int(stride)] @ R.T
    return P, float(bvh.fps) / int(stride), {"R": R, "up": up, "toes": toes}


def check_body(P, extras: dict, where: str, units: str) -> None:
    """Plausibility of a BVH body (P (F, 17, 3) mm, posecore Z-up; see :mod:`posecore.data.plausibility`):
    the legs point down the chosen up axis (else the error names the file axis that fits), the left hip
    and shoulder are on the body's left given the facing of the toes (else left and right are swapped in
    the mapping or the file is mirrored), and the height implied by the bones is an adult's in ``units``
    (else the error names the unit that fits)."""
    up = extras["up"]
    check_up_axis(P, where, f"read with up axis {up}; pass the up axis that fits", to_file=extras["R"].T)
    if extras.get("toes") is not None:
        check_facing(P, extras["toes"], where, "the feet (ankle to toes)",
                     "the mapping exchanges left and right joints, or the file is mirrored")
    else:
        check_facing(P, P[:, 9] - 0.5 * (P[:, 8] + P[:, 10]), where, "the face (mapped neck/nose joint)",
                     "the mapping exchanges left and right joints, or the file is mirrored")
    check_body_units(P, where, units, advice=" (pass units='{u}' / --units {u})")


def bvh_files(data_root) -> list[Path]:
    """The BVH file ``data_root`` or the ``*.bvh`` files under the folder ``data_root``, sorted."""
    root = Path(data_root)
    if not root.exists():
        raise FileNotFoundError(f"BVH data_root {root} does not exist")
    files = [root] if root.is_file() else sorted(root.rglob("*.bvh"))
    for p in files:
        require_file(p, "BVH file")  # a folder named *.bvh is refused, not skipped
    if not files:
        raise FileNotFoundError(f"{root}: no .bvh files found")
    return files


def split_files(files: list[Path], split: str, test_every: int = 5) -> list[Path]:
    """'all'; 'test' = every ``test_every``-th file in sorted order (the 5th, 10th, ...); 'train' the rest."""
    if split not in SPLITS:
        raise ValueError(f"unknown BVH split {split!r}; choose one of {SPLITS}")
    if split == "all":
        return list(files)
    is_test = [(i + 1) % test_every == 0 for i in range(len(files))]
    return [f for f, t in zip(files, is_test) if t == (split == "test")]


def find_mapping(data_root, mapping=None):
    """``mapping`` if given, else ``mapping.json`` beside the BVH file(s) (FileNotFoundError if absent)."""
    if mapping is not None:
        return mapping
    root = Path(data_root)
    cand = (root if root.is_dir() else root.parent) / "mapping.json"
    if not cand.exists():
        raise FileNotFoundError(f"no joint-name mapping given and {cand} does not exist; pass mapping=<json path "
                                "or dict> (posecore joint -> BVH joint)")
    return cand


def load_bvh(data_root, split: str = "all", *, mapping=None, units: str = "cm", up: str = "+y", stride: int = 1,
             azimuths=(0.0,), elevation: float = 10.0, distance: float = 4500.0, f=(1145.0, 1145.0),
             c=(500.0, 500.0), size=(1000, 1000), test_every: int = 5) -> PoseSet:
    """Convert the BVH file(s) under ``data_root`` (a file or a folder searched recursively) with a
    joint-name ``mapping`` (dict or JSON path; default ``<root>/mapping.json``). Each file is seen by
    one virtual camera per azimuth (degrees; 0 looks along world +Y) at ``elevation`` degrees and
    ``distance`` mm from the sequence's mean pelvis. ``subject`` is the file stem before the first
    '_', ``action`` the stem, ``sequence`` the path relative to ``data_root``."""
    files = bvh_files(data_root)
    mapping = find_mapping(data_root, mapping)
    mp = load_mapping(mapping)
    chosen = split_files(files, split, test_every)
    if not chosen:
        raise ValueError(f"{data_root}: no BVH files in split {split!r} ({len(files)} files; test = every "
                         f"{test_every}th)")
    root = Path(data_root)
    cols = {k: [] for k in ("p2", "p3", "K", "subject", "action", "sequence", "camera", "frame")}
    fps = {}
    for path in chosen:
        P, rate, extras = _read_bvh(path, mapping, units=units, up=up, stride=stride)  # a mapping file is named in errors
        check_human_scale(P, str(path), "mm", assumed=units)
        check_body(P, extras, str(path), units)
        rel = path.name if root.is_file() else str(path.relative_to(root))
        fps[rel] = rate
        target = P[:, 0].mean(0)
        for az in azimuths:
            cam = look_at_camera(target, az, elevation, distance, f, c, size, name=f"virtual_az{az:g}")
            Xc = cam.world_to_camera(P)
            if (Xc[..., 2] <= 1.0).any():
                raise ValueError(f"{path}: joints behind virtual camera {cam.name} (distance {distance} mm too "
                                 "small for this motion?)")
            n = len(P)
            cols["p3"].append(Xc.astype(np.float32))
            cols["p2"].append(project(Xc, cam.intrinsics.astype(float)).astype(np.float32))
            cols["K"].append(np.tile(cam.intrinsics, (n, 1)))
            cols["subject"].append(np.full(n, path.stem.split("_")[0]))
            cols["action"].append(np.full(n, path.stem))
            cols["sequence"].append(np.full(n, rel))
            cols["camera"].append(np.full(n, cam.name))
            cols["frame"].append(np.arange(n) * int(stride))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    meta = dict(dataset="bvh", split=split, source=SOURCE, source_files=[str(p) for p in chosen], units=units,
                up=up, stride=int(stride), fps=fps, mapping=mp, azimuths=list(map(float, azimuths)),
                elevation=float(elevation), distance=float(distance))
    return PoseSet.create(cat["p2"], cat["p3"], cat["K"], image_size=list(size), subject=cat["subject"],
                          action=cat["action"], sequence=cat["sequence"], camera=cat["camera"], frame=cat["frame"],
                          scene="", meta=meta)
