"""Your own 2D keypoints -> posecore's 17-joint Human3.6M layout: readers for common 2D detector
outputs, an explicit joint mapping, checks for classic mistakes, a default camera, and writers for
the lifted 3D poses (used by ``posecore lift``, see :mod:`posecore.cli`). Pure numpy; plotly is only
imported by :func:`write_html`.

Input formats
-------------
==============  ======================================================================================
format          files read
==============  ======================================================================================
``coco17``      COCO keypoint *results* JSON (a list of ``{"image_id", "category_id", "keypoints":
                [x, y, v] * 17, "score"}``) or a COCO *annotation* file (``{"annotations": [...],
                "images": [...]}``; the images' ``width``/``height`` give a per-image default camera)
``openpose25``  OpenPose BODY_25 JSON (``{"people": [{"pose_keypoints_2d": [x, y, c] * 25}]}``), one
                file or a folder of per-frame ``*_keypoints.json`` files (read in sorted name order;
                a folder without ``*_keypoints.json`` files is read as all its ``*.json`` files)
``mpii16``      an array ``(N, 16, 2|3)`` or ``(16, 2|3)`` in MPII order
``h36m17``      an array ``(N, 17, 2|3)`` or ``(17, 2|3)`` in posecore's H36M order
==============  ======================================================================================

Arrays come as ``.npy``, ``.npz`` (a single array, or the key ``keypoints`` or ``poses_2d``; never
unpickled) or ``.json`` (a nested list, or an object with the key ``keypoints`` or ``poses_2d``); a
third column holds confidences or visibility flags. Any format may be stored in any container (an
array of COCO-ordered keypoints, H36M-ordered keypoints in a COCO results file...), as long as the
number of keypoints is that of the format.

Inputs are read with bounds (:mod:`posecore.data.safe_io`): regular files only (a named pipe, a device,
a socket -- or a symlink to one -- is refused before it is opened), at most ``POSECORE_MAX_TEXT_BYTES``
(2 GiB) of JSON, arrays whose declared shape fits the bytes the file really holds and at most
``POSECORE_MAX_POSES`` (10**7) poses; of a ``.npz`` only the array used is read. A COCO results list is
parsed one entry at a time into float arrays (no Python list per pose), so a large detector output
takes about its own size in memory.

``auto`` decides from the content: ``{"people": ...}`` is openpose25, a COCO results list or
annotation file is coco17, an array is told by its number of joints (16 mpii16, 25 openpose25, 17
coco17 when its joints 0-4 -- COCO's nose, eyes and ears -- lie within :data:`COCO_HEAD_CLUSTER` of
the body's bounding-box diagonal in most poses, else h36m17). :func:`read_keypoints` returns the
choice and whether it was detected.

Pose ids: ``"image 42, person 0"`` (COCO: ``image_id`` and the person's rank in that image, in file
order), ``"frame_000012_keypoints.json, person 1"`` (OpenPose), ``"row 7"`` (arrays).

Mapping to the 17 H36M joints (:data:`MAPPINGS`)
-------------------------------------------------
Each H36M joint has an ordered list of rules; the first whose inputs are all present is used:

=============== ====================== ========================== ================ ==================
H36M joint      coco17                 openpose25                 mpii16           h36m17
=============== ====================== ========================== ================ ==================
pelvis          mid(hips)              mid_hip, else mid(hips)    pelvis, else     pelvis, else
                                                                  mid(hips)        mid(hips)
hips/knees/     same name              same name                  same name        same name
ankles
spine           mid(pelvis, thorax)    mid(pelvis, thorax)        mid(pelvis,      spine, else
                                                                  thorax)          mid(pelvis, thorax)
thorax          mid(shoulders)         neck, else mid(shoulders)  thorax, else     thorax, else
                                                                  mid(shoulders)   mid(shoulders)
neck (= nose)   nose                   nose                       upper_neck       neck
head (top)      head-top rule          head-top rule              head_top         head, else from
                                                                                   the nose (k = 1.0)
shoulders/      same name              same name                  same name        same name
elbows/wrists
=============== ====================== ========================== ================ ==================

Head-top rule (coco17, openpose25): ``head = C + k * (C - thorax)`` with ``C`` the ear midpoint
(k = 0.7) when both ears are present, else the eye midpoint (k = 0.75) when both eyes are, else the
nose (k = 1.0). The factors are adult proportions (shoulder line -> ear ~18 cm, ear -> top of the
head ~13 cm; shoulder line -> nose ~15 cm, nose -> top ~16 cm); the extrapolated head top is a
guess along the neck's direction, good to about a quarter of the thorax-to-head-top distance for an
upright head (less for a strongly tilted one).

What each mapping loses:

* coco17: COCO has no pelvis, spine, thorax or head top: pelvis and thorax are the hip and shoulder
  midpoints, the spine is straight (midpoint of pelvis and thorax), the head top is extrapolated; the
  eyes and ears are only used for the head top.
* openpose25: no spine and no head top (derived as above); its own neck and mid-hip are the thorax
  and pelvis; the six foot keypoints (toes, heels) are dropped.
* mpii16: no spine (straight, as above); MPII's upper neck stands in for H36M's neck/nose joint
  (it lies a few cm lower and further back).
* h36m17: nothing.

Missing and low-confidence joints
---------------------------------
A keypoint is missing when its score is below ``min_score`` (default 0.3) or its coordinates are
exactly (0, 0) (what detectors write for "not found"); its coordinates may then be NaN. Scores that
are all 0, 1 or 2 are COCO visibility flags (present when > 0; COCO's "labelled but occluded" 1
counts as present); any other scores are confidences. Arrays without a score column count every
joint as present except (0, 0).

Only the central joints above are ever filled (pelvis from both hips, thorax from both shoulders,
spine from pelvis and thorax, the head top from the face); a missing elbow, wrist, knee, ankle, hip,
shoulder or nose has no well-defined substitute. A pose in which any of the 17 joints cannot be
filled is **skipped** with a :class:`KeypointWarning` naming its id and joints, and its id is
returned in ``skipped``. A missing joint never becomes (0, 0).

Checks for classic mistakes (per input file)
--------------------------------------------
Errors (:class:`KeypointError`, naming the file):

* wrong format named or wrong number of keypoints (e.g. 51 numbers with ``--format openpose25``:
  "expected 75 numbers ... got 51 (the count of coco17)"), unknown structure, empty people list;
* NaN/inf coordinates of joints that are not marked missing, NaN scores (the message says "not
  finite": NaN, or a number that overflows a float, such as 1e400 in JSON);
* absurd coordinates (:func:`check_pose_bounds`, naming the pose ids): beyond +-:data:`MAX_ABS_PX`
  (int64 junk, 1e30), more than :data:`IMAGE_MARGIN` image sizes outside a known image, or farther
  than :data:`EXTENT_FACTOR` median bone lengths from the median of the pose's joints. These are an
  error, not a skipped pose: a coordinate that far off means the file or its conversion is broken,
  which its other poses share, and skipping would silently drop frames of a sequence;
* normalised coordinates (all within [-1.5, 1.5]) passed as pixels: "coordinates look normalised
  to [0, 1]; multiply by the image size or pass --normalised";
* left/right crossed between upper and lower body: in the pose's own frame (perpendicular to the
  pelvis -> thorax axis) the 'left' shoulder is on the other side of the 'right' shoulder than the
  'left' hip is of the 'right' hip, in more than half of the poses where both widths exceed
  :data:`DECISIVE_WIDTH` of the torso length. A real torso cannot twist that far, so a majority of
  such poses means a broken keypoint order; a minority is only a warning.
* (y, x) order when the image size confirms it: the torso is horizontal in most poses *and* the
  keypoints only fit inside ``image_size`` with x and y swapped.

Warnings (:class:`KeypointWarning`) for ambiguous cues:

* (y, x) order: the torso (pelvis -> thorax) is more horizontal than vertical in more than half of
  the poses -- people lying down do this too, hence not an error;
* upside down (y axis pointing up): the thorax is below the pelvis in most upright poses;
* left/right swapped for the whole body: a swap of every left/right label cannot be seen in the
  geometry of one pose (it is a person seen from behind), but where the face is visible (coco17,
  openpose25: nose and both eyes present) the person faces the camera and their left shoulder
  must be on the image's right; a majority of such poses with it on the left is reported;
* keypoints outside ``image_size``; a 17-joint array whose structure contradicts ``--format``.

Camera
------
:func:`default_intrinsics` assumes a :data:`DEFAULT_FOV_DEG` (60 deg) field of view across the
larger image side: ``f = max(W, H) * 0.5 / tan(30 deg) = 0.866 max(W, H)``, principal point at the
image centre. Without an image size, the image is taken to be the smallest one with its origin at
the top-left corner that holds every keypoint (``W = max u``, ``H = max v``). :func:`normalise`
maps pixels to ``((u - cx) / fx, (v - cy) / fy)``: the same body shifted in the image (with the
principal point) or seen at another resolution (with the intrinsics scaled) gives the same values.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import skeleton as sk
from .data import safe_io

__all__ = [
    "FORMATS", "SOURCE_JOINTS", "MAPPINGS", "COCO17_JOINTS", "OPENPOSE25_JOINTS", "MPII16_JOINTS",
    "H36M17_JOINTS", "DEFAULT_MIN_SCORE", "DEFAULT_FOV_DEG", "FOCAL_FACTOR", "RESULT_FORMAT",
    "MAX_HTML_POSES", "KeypointError", "KeypointWarning", "RawKeypoints", "KeypointSet",
    "read_keypoints", "detect_format", "to_h36m", "load_keypoints", "check_poses_2d",
    "default_intrinsics", "normalise", "denormalise", "check_output_path", "write_result",
    "read_result", "write_html",
]

# --- joint layouts --------------------------------------------------------------------------------
COCO17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
OPENPOSE25_JOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
MPII16_JOINTS = sk.MPII_JOINTS
H36M17_JOINTS = sk.H36M_JOINTS
FORMATS = ("coco17", "openpose25", "mpii16", "h36m17")
SOURCE_JOINTS = {"coco17": COCO17_JOINTS, "openpose25": OPENPOSE25_JOINTS,
                 "mpii16": MPII16_JOINTS, "h36m17": H36M17_JOINTS}

# --- the mapping, as data -------------------------------------------------------------------------
# Rules (tried in order, the first with all inputs present wins):
#   ("copy", a)              source joint a
#   ("mid", a, b)            midpoint of source joints a and b
#   ("mid_h36m", a, b)       midpoint of the already mapped H36M joints a and b (the spine)
#   ("extrapolate", c, k)    C + k (C - thorax), C given by rule c on the source joints (the head top)
_MID_HIPS = ("mid", "left_hip", "right_hip")
_MID_SHOULDERS = ("mid", "left_shoulder", "right_shoulder")
_SPINE = ("mid_h36m", "pelvis", "thorax")
_HEAD_FROM_FACE = (("extrapolate", ("mid", "left_ear", "right_ear"), 0.7),
                   ("extrapolate", ("mid", "left_eye", "right_eye"), 0.75),
                   ("extrapolate", ("copy", "nose"), 1.0))
_LIMBS = ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
          "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist")


def _table(**special):
    rules = {name: (("copy", name),) for name in _LIMBS}
    rules.update(special)
    return {name: tuple(rules[name]) for name in sk.H36M_JOINTS}


MAPPINGS = {
    "coco17": _table(pelvis=(_MID_HIPS,), spine=(_SPINE,), thorax=(_MID_SHOULDERS,),
                     neck=(("copy", "nose"),), head=_HEAD_FROM_FACE),
    "openpose25": _table(pelvis=(("copy", "mid_hip"), _MID_HIPS), spine=(_SPINE,),
                         thorax=(("copy", "neck"), _MID_SHOULDERS), neck=(("copy", "nose"),),
                         head=_HEAD_FROM_FACE),
    "mpii16": _table(pelvis=(("copy", "pelvis"), _MID_HIPS), spine=(_SPINE,),
                     thorax=(("copy", "thorax"), _MID_SHOULDERS), neck=(("copy", "upper_neck"),),
                     head=(("copy", "head_top"),)),
    "h36m17": _table(pelvis=(("copy", "pelvis"), _MID_HIPS), spine=(("copy", "spine"), _SPINE),
                     thorax=(("copy", "thorax"), _MID_SHOULDERS), neck=(("copy", "neck"),),
                     head=(("copy", "head"), ("extrapolate", ("copy", "neck"), 1.0))),
}
# H36M joints whose rules read other H36M joints: evaluated last, in this order
_DERIVED_LAST = ("spine", "head")
# which source joints tell that the face is visible (the whole-body left/right cue)
_FACE = {"coco17": ("nose", "left_eye", "right_eye"), "openpose25": ("nose", "left_eye", "right_eye")}

# --- constants ------------------------------------------------------------------------------------
DEFAULT_MIN_SCORE = 0.3
DEFAULT_FOV_DEG = 60.0
FOCAL_FACTOR = 0.5 / math.tan(math.radians(DEFAULT_FOV_DEG / 2))  # f = FOCAL_FACTOR * max(W, H)
COCO_HEAD_CLUSTER = 0.12   # 17-joint arrays: joints 0-4 within this share of the bbox diagonal -> coco17
DECISIVE_WIDTH = 0.2       # left/right checks use poses whose widths exceed this share of the torso
NORMALISED_LIMIT = 1.5     # every coordinate within [-1.5, 1.5]: normalised, not pixels
# absurd coordinates (check_pose_bounds): beyond +-MAX_ABS_PX (no image is a million px wide: overflow,
# int64 junk, wrong units), more than IMAGE_MARGIN image sizes outside a known image (a detector never
# reports that), or farther than EXTENT_FACTOR median bone lengths from the median of the pose's joints
# (a standing person's farthest joint is ~4 median bones away; 20 leaves room for foreshortened bones)
MAX_ABS_PX = 1e6
IMAGE_MARGIN = 1.0
EXTENT_FACTOR = 20.0
_BOUNDS_CHUNK = 1 << 16
_BONE_PARENT = np.array([b[0] for b in sk.BONES])
_BONE_CHILD = np.array([b[1] for b in sk.BONES])
RESULT_FORMAT = "posecore-lift-1"
MAX_HTML_POSES = 200
_ARRAY_KEYS = ("keypoints", "poses_2d")
_MAX_LISTED = 10


class KeypointError(ValueError):
    """A bad keypoint input or output; ``str(e)`` is ``"<file>: <problem>"``."""

    def __init__(self, problem: str, path=None):
        self.problem = " ".join(str(problem).split("\n"))
        self.path = None if path is None else str(path)
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")


class KeypointWarning(UserWarning):
    """An ambiguous sign of a mistake, or poses skipped for missing joints."""


def _warn(msg: str):
    warnings.warn(msg, KeypointWarning, stacklevel=3)


# --- containers -----------------------------------------------------------------------------------
@dataclass
class RawKeypoints:
    """One input as read: ``keypoints`` (N, J, 2) pixels in the source order of ``format``,
    ``scores`` (N, J) (1 where the input has no scores; visibility flags already turned into 0/1;
    float32 where the input array is float32, else float64; the ones may be a read-only view),
    ``ids`` N strings, ``image_sizes`` (N, 2) (W, H) or None, ``detected``: format chosen by auto."""
    path: str
    format: str
    detected: bool
    keypoints: np.ndarray
    scores: np.ndarray
    ids: list
    image_sizes: np.ndarray | None = None
    has_scores: bool = True


@dataclass
class KeypointSet:
    """Poses ready to lift: ``poses_2d`` (N, 17, 2) px in H36M order, their ``ids``, the ``skipped``
    ids, ``image_sizes`` (N, 2) (NaN where the input did not say), ``inputs``: one dict per file
    (path, format, detected, read, kept)."""
    poses_2d: np.ndarray
    ids: list
    skipped: list = field(default_factory=list)
    image_sizes: np.ndarray | None = None
    inputs: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)

    @property
    def input_format(self) -> str:
        fmts = list(dict.fromkeys(i["format"] for i in self.inputs))
        return "+".join(fmts)

    @classmethod
    def concatenate(cls, sets: Sequence["KeypointSet"], prefix_ids: bool | None = None) -> "KeypointSet":
        """One set from several; ``prefix_ids`` (default: when there are several) puts
        ``"<file name>: "`` before every id so that ids stay unique."""
        sets = list(sets)
        if prefix_ids is None:
            prefix_ids = len(sets) > 1
        names = [Path(s.inputs[0]["path"]).name if s.inputs else "" for s in sets]
        if len(set(names)) < len(names):  # same file name in several folders: the paths as given
            names = [s.inputs[0]["path"] if s.inputs else "" for s in sets]
        ids, skipped, poses, sizes, inputs = [], [], [], [], []
        for s, name in zip(sets, names):
            pre = f"{name}: " if prefix_ids and name else ""
            ids += [pre + i for i in s.ids]
            skipped += [pre + i for i in s.skipped]
            p = np.asarray(s.poses_2d)                    # float32 stays float32 (no copy)
            poses.append((p if p.dtype in (np.float32, np.float64) else p.astype(np.float64))
                         .reshape(-1, sk.NUM_JOINTS, 2))
            sizes.append(np.full((len(s.ids), 2), np.nan) if s.image_sizes is None
                         else np.asarray(s.image_sizes, float).reshape(-1, 2))
            inputs += s.inputs
        def cat(arrays, empty):
            return arrays[0] if len(arrays) == 1 else np.concatenate(arrays) if arrays else empty
        return cls(cat(poses, np.zeros((0, sk.NUM_JOINTS, 2))), ids, skipped, cat(sizes, np.zeros((0, 2))), inputs)


# --- reading --------------------------------------------------------------------------------------
def _format_of_count(n_numbers: int) -> str | None:
    for fmt, names in SOURCE_JOINTS.items():
        if n_numbers == 3 * len(names):
            return fmt
    return None


def _count_hint(n_numbers: int) -> str:
    other = _format_of_count(n_numbers)
    if other:
        return f" (the count of {other})"
    if n_numbers == 54:
        return " (OpenPose's COCO-18 model? run OpenPose with --model_pose BODY_25)"
    if n_numbers == 45:
        return " (OpenPose's MPI-15 model? run OpenPose with --model_pose BODY_25)"
    return ""


def _flat_to_array(values, fmt_expected, path, pid, where):
    """A flat list [x, y, s] * J -> (J, 3) float, checking the count."""
    if not isinstance(values, (list, tuple)):
        raise KeypointError(f"{pid}: '{where}' must be a list of numbers, got {type(values).__name__}", path)
    n = len(values)
    if fmt_expected is not None:
        want = 3 * len(SOURCE_JOINTS[fmt_expected])
        if n != want:
            raise KeypointError(
                f"{pid}: expected {want} numbers per person for {fmt_expected} "
                f"({want // 3} keypoints x, y, score), got {n}{_count_hint(n)}", path)
    elif n % 3 or _format_of_count(n) is None:
        raise KeypointError(f"{pid}: '{where}' has {n} numbers; expected 51 (coco17), 75 (openpose25), "
                            f"48 (mpii16) or 51 (h36m17){_count_hint(n) if n % 3 == 0 else ''}", path)
    try:
        arr = np.asarray(values, dtype=float).reshape(-1, 3)
    except OverflowError:
        raise KeypointError(f"{pid}: '{where}' holds a number that overflows a float (not finite): not a "
                            "pixel coordinate", path) from None
    except (TypeError, ValueError):
        raise KeypointError(f"{pid}: '{where}' must hold only numbers", path) from None
    return arr


def _kerror(e: safe_io.DataFormatError, path) -> KeypointError:
    """A :class:`KeypointError` from a DataFormatError of :mod:`posecore.data.safe_io` (same message)."""
    problem, where = getattr(e, "problem", None), getattr(e, "path", None)
    if problem is None:
        text, prefix = str(e), f"{path}: "
        problem, where = text.removeprefix(prefix), path
    return KeypointError(problem, where)


def _read_file_bytes(path: Path, what: str) -> bytes:
    """The bytes of a regular file (never a pipe or a device), at most safe_io.max_text_bytes()."""
    try:
        return safe_io.read_bytes(path, what)
    except safe_io.DataFormatError as e:
        raise _kerror(e, path) from None
    except OSError as e:
        raise KeypointError(f"cannot read: {e.strerror or e}", path) from None


def _load_json(path: Path):
    return _parse_json(_json_text(path), path)


def _json_text(path: Path) -> str:
    """The text of a JSON file, decoded as ``json.loads`` decodes bytes (UTF-8/16/32 detected); the
    bytes are dropped before parsing (a 200 MB file is held once, not twice)."""
    data = _read_file_bytes(path, "keypoint JSON file")
    if not data or data.isspace():
        raise KeypointError("empty file", path)
    try:
        return data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError:
        raise KeypointError("not a UTF-8 JSON file", path) from None


_JSON_WS = re.compile(r"[ \t\n\r]*")
_STREAM_BATCH = 8192


def _stream_coco_results(text: str, fmt):
    """A COCO results list ``[{"image_id", "keypoints": [...], ...}, ...]`` read one entry at a time
    (``raw_decode``), its keypoints gathered into float arrays in batches: no Python list of every
    entry, no per-pose array. Returns (list of (B, 3 J) arrays, ids) or None for anything else or any
    irregularity (then the generic reader parses the whole text and reports the problem)."""
    ws = _JSON_WS.match
    end = len(text)
    i = ws(text, 0).end()
    if i >= end or text[i] != "[":
        return None
    i = ws(text, i + 1).end()
    if i >= end or text[i] == "]":
        return None
    want = 3 * len(SOURCE_JOINTS[fmt or "coco17"])
    decode = json.JSONDecoder().raw_decode
    chunks, batch, ids, rank = [], [], [], {}
    while True:
        try:
            e, i = decode(text, i)
        except (ValueError, RecursionError):
            return None
        if type(e) is not dict:
            return None
        k = e.get("keypoints")
        img = e.get("image_id")
        if type(k) is not list or len(k) != want or not (img is None or type(img) in (int, str, float)):
            return None
        r = rank.get(img, 0)
        rank[img] = r + 1
        ids.append(f"image {img}, person {r}" if img is not None else f"result {len(ids)}")
        batch.append(k)
        if len(batch) == _STREAM_BATCH:
            try:
                chunks.append(np.array(batch, dtype=float))
            except (TypeError, ValueError, OverflowError):  # the generic reader reports it
                return None
            batch = []
        i = ws(text, i).end()
        if i < end and text[i] == ",":
            i = ws(text, i + 1).end()
            continue
        if i < end and text[i] == "]" and ws(text, i + 1).end() == end:
            break
        return None
    if batch:
        try:
            chunks.append(np.array(batch, dtype=float))
        except (TypeError, ValueError, OverflowError):  # the generic reader reports it
            return None
    return chunks, ids


def _parse_json(text, path):
    try:
        return json.loads(text)
    except UnicodeDecodeError:
        raise KeypointError("not a UTF-8 JSON file", path) from None
    except json.JSONDecodeError as e:
        hint = " (truncated?)" if e.pos >= len(text.rstrip()) - 1 else ""
        raise KeypointError(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}{hint}", path) from None
    except RecursionError:
        raise KeypointError("JSON nested too deeply", path) from None
    except ValueError as e:  # Python's limit on the digits of an int
        if "digits" not in str(e):
            raise KeypointError(f"not valid JSON ({e})", path) from None
        raise KeypointError(f"a number with more than {safe_io._max_digits()} digits: not keypoints "
                            "(corrupt or hostile file)", path) from None


def _is_number_tree(x) -> bool:
    while isinstance(x, list) and x:
        x = x[0]
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _json_kind(obj) -> str:
    if isinstance(obj, dict):
        if "people" in obj:
            return "openpose"
        if "annotations" in obj:
            return "coco_annotations"
        kp = obj.get("keypoints")
        if isinstance(kp, list) and kp and all(isinstance(v, (int, float)) for v in kp):
            return "coco_single"
        if any(key in obj for key in _ARRAY_KEYS):
            return "array"
    if isinstance(obj, list):
        if not obj:
            return "empty_list"
        if all(isinstance(d, dict) for d in obj):
            if any("keypoints" in d for d in obj):
                return "coco_results"
            if any("pose_keypoints_2d" in d for d in obj):
                return "openpose_people"
        if _is_number_tree(obj):
            return "array"
    return "unknown"


_UNKNOWN_JSON = ("cannot tell the keypoint format: expected a COCO results list ([{\"keypoints\": ...}]), "
                 "a COCO annotation file ({\"annotations\": ...}), an OpenPose file ({\"people\": ...}) "
                 "or a nested list of shape (N, J, 2|3)")


def _scores_from_third(third: np.ndarray) -> np.ndarray:
    """Visibility flags (all in {0, 1, 2}) -> 0/1; confidences unchanged."""
    finite = third[np.isfinite(third)]
    if finite.size and np.isin(finite, (0.0, 1.0, 2.0)).all():
        return np.where(third > 0, 1.0, np.where(np.isfinite(third), 0.0, third))
    return third


def _read_coco(obj, kind, path, fmt):
    fmt_used = fmt or "coco17"
    if kind == "coco_annotations":
        anns = obj["annotations"]
        if not isinstance(anns, list):
            raise KeypointError("'annotations' must be a list", path)
        if not anns:
            raise KeypointError("no people: the 'annotations' list is empty", path)
        entries, label = anns, "annotation"
        sizes = {}
        for im in obj.get("images", []) or []:
            if isinstance(im, dict) and "id" in im and "width" in im and "height" in im:
                try:
                    sizes[im["id"]] = (float(im["width"]), float(im["height"]))
                except (TypeError, ValueError):
                    pass
    else:
        entries, label, sizes = ([obj] if kind == "coco_single" else obj), "result", {}
    kps, ids, img_sizes, rank = [], [], [], {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "keypoints" not in e:
            raise KeypointError(f"{label} {i}: has no 'keypoints'", path)
        img = e.get("image_id", None)
        k = rank.get(img, 0)
        rank[img] = k + 1
        pid = f"image {img}, person {k}" if img is not None else f"{label} {i}"
        ids.append(pid)
        kps.append(_flat_to_array(e["keypoints"], fmt_used, path, pid, "keypoints"))
        img_sizes.append(sizes.get(img, (np.nan, np.nan)))
    arr = np.stack(kps)
    image_sizes = np.asarray(img_sizes, float) if sizes else None
    return fmt_used, arr, ids, image_sizes


def _read_openpose_obj(obj, path, fmt, name):
    people = obj["people"] if isinstance(obj, dict) else obj
    if not isinstance(people, list):
        raise KeypointError("'people' must be a list", path)
    kps, ids = [], []
    for k, p in enumerate(people):
        pid = f"{name}, person {k}"
        if not isinstance(p, dict) or "pose_keypoints_2d" not in p:
            raise KeypointError(f"{pid}: has no 'pose_keypoints_2d'", path)
        kps.append(_flat_to_array(p["pose_keypoints_2d"], fmt or "openpose25", path, pid, "pose_keypoints_2d"))
        ids.append(pid)
    return kps, ids


def _read_openpose_folder(path: Path, fmt):
    # not only regular files: a pipe or device named *.json is refused when read, never skipped silently
    entries = [p for p in path.iterdir() if not p.is_dir()]
    files = sorted(p for p in entries if p.name.endswith("_keypoints.json"))
    if not files:
        files = sorted(p for p in entries if p.suffix.lower() == ".json")
    if not files:
        raise KeypointError("folder has no .json files (expected OpenPose *_keypoints.json files)", path)
    kps, ids = [], []
    for f in files:
        obj = _load_json(f)
        kind = _json_kind(obj)
        if kind not in ("openpose", "openpose_people"):
            raise KeypointError("not an OpenPose file (no 'people' list); a folder must hold only "
                                "OpenPose per-frame files", f)
        k, i = _read_openpose_obj(obj, f, fmt, f.name)
        kps += k
        ids += i
    if not kps:
        raise KeypointError(f"no people in any of its {len(files)} OpenPose files", path)
    return (fmt or "openpose25"), np.stack(kps), ids


def _load_array_file(path: Path):
    """The array of a .npy, or the one array of a .npz (the only member, else ``keypoints`` or
    ``poses_2d``; the other members are never read), via :mod:`posecore.data.safe_io`: regular files
    only, declared shapes checked against the file's size and the limits before anything is allocated."""
    suffix = path.suffix.lower()
    try:
        with safe_io.open_regular(path, "keypoint array file") as f:
            head = f.read(6)
        if suffix == ".npy" and head != b"\x93NUMPY":
            raise KeypointError("not a numpy .npy file (no NUMPY header)", path)
        if suffix == ".npz" and not head.startswith(b"PK"):
            raise KeypointError("not a numpy .npz file (not a zip archive)", path)
        if suffix == ".npy":
            return safe_io.read_npy(path, "keypoint array file")
        keys = safe_io.npz_names(path, "keypoint array file")
        if len(keys) == 1:
            key = keys[0]
        else:
            key = next((k for k in _ARRAY_KEYS if k in keys), None)
            if key is None:
                raise KeypointError(f"holds arrays {keys}; expected a single array or the key "
                                    f"'keypoints' or 'poses_2d'", path)
        arr = safe_io.load_npz(path, "keypoint array file", keys=(key,), pickles=False).get(key)
        if arr is None or arr.dtype.hasobject:
            raise KeypointError("holds Python objects (pickled); posecore never unpickles: save a "
                                "plain numeric array", path)
        return arr
    except KeypointError:
        raise
    except safe_io.DataFormatError as e:
        if "pickle" in str(e) or "forbidden global" in str(e):
            raise KeypointError("holds Python objects (pickled); posecore never unpickles: save a "
                                "plain numeric array", path) from None
        raise _kerror(e, path) from None
    except OSError as e:
        raise KeypointError(f"cannot read: {e.strerror or e}", path) from None
    except ValueError as e:
        raise KeypointError(f"not a readable numpy file ({e})", path) from None
    except Exception as e:  # noqa: BLE001 -- zipfile.BadZipFile, EOFError of a truncated file...
        raise KeypointError(f"not a readable numpy file ({type(e).__name__}: {e})", path) from None


def _looks_coco17(kp: np.ndarray, present: np.ndarray) -> bool | None:
    """For 17-joint arrays: True (COCO order), False (H36M order) or None (no decisive pose).
    A pose votes when it has >= 8 located keypoints, >= 3 of them among joints 0-4: COCO when
    those lie within COCO_HEAD_CLUSTER of its bounding-box diagonal (vectorised over the poses, in
    blocks of _VOTE_BLOCK poses so that the temporaries stay small for millions of poses)."""
    n_votes = n_coco = 0
    for a in range(0, len(kp), _VOTE_BLOCK):
        votes = _coco_votes(kp[a:a + _VOTE_BLOCK], present[a:a + _VOTE_BLOCK])
        n_votes += len(votes)
        n_coco += int(votes.sum())
    if not n_votes:
        return None
    return n_coco > n_votes / 2


_VOTE_BLOCK = 65536


def _coco_votes(kp: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The votes of :func:`_looks_coco17` (True: COCO) of the poses that vote."""
    kp = np.asarray(kp, np.float64)  # a block of float32 keypoints computed in float64
    x, y = kp[..., 0], kp[..., 1]                                     # (N, J) each: reductions over
    present = present & np.isfinite(x) & np.isfinite(y)               # an axis of 2 are slow
    with np.errstate(invalid="ignore"):
        w = np.where(present, x, -np.inf).max(1) - np.where(present, x, np.inf).min(1)
        h = np.where(present, y, -np.inf).max(1) - np.where(present, y, np.inf).min(1)
        diag = np.sqrt(w * w + h * h)
        hx, hy, mh = x[:, :5], y[:, :5], present[:, :5]
        pair = mh[:, :, None] & mh[:, None]                           # (N, 5, 5)
        dx, dy = hx[:, :, None] - hx[:, None], hy[:, :, None] - hy[:, None]
        d = np.where(pair, np.sqrt(dx * dx + dy * dy), 0.0).sum((1, 2))
        nh = mh.sum(1)
        vote = (present.sum(1) >= 8) & (nh >= 3) & (diag > 0)
        spread = d[vote] / (nh[vote] * (nh[vote] - 1))
        return spread / diag[vote] < COCO_HEAD_CLUSTER


def _read_array(arr, path, fmt):
    arr = np.asarray(arr)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise KeypointError(f"expected a numeric array, got dtype {arr.dtype}", path)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise KeypointError(f"expected an array of shape (N, J, 2|3) or (J, 2|3), got {arr.shape}", path)
    if arr.shape[0] == 0:
        raise KeypointError("no poses: the array is empty", path)
    # float32 stays float32 (half the memory; widened exactly where computed with), the rest float64;
    # no copy when the array read from the file already has that type
    arr = np.asarray(arr, dtype=np.float32 if arr.dtype == np.float32 else np.float64)
    j = arr.shape[1]
    by_count = {len(v): k for k, v in SOURCE_JOINTS.items() if k != "coco17"}
    kp = arr[..., :2]
    scores = (_scores_from_third(arr[..., 2]) if arr.shape[-1] == 3
              else np.broadcast_to(np.float64(1.0), arr.shape[:2]))  # read-only ones, no memory
    detected = fmt is None
    if fmt is None:
        if j not in by_count:
            raise KeypointError(f"cannot tell the format of an array with {j} joints: expected 16 "
                                f"(mpii16), 17 (h36m17 or coco17) or 25 (openpose25)", path)
        fmt = by_count[j]
        if j == 17:
            coco = _looks_coco17(kp, _located(kp, scores))
            if coco is None:
                raise KeypointError("a 17-joint array is either h36m17 or coco17 and no pose is complete "
                                    "enough to tell: pass --format", path)
            fmt = "coco17" if coco else "h36m17"
    else:
        want = len(SOURCE_JOINTS[fmt])
        if j != want:
            hint = f" (that is {by_count[j]})" if j in by_count else ""
            raise KeypointError(f"expected {want} joints per pose for {fmt}, got an array of shape "
                                f"{arr.shape}{hint}", path)
        if j == 17:
            coco = _looks_coco17(kp, _located(kp, scores))
            if coco is not None and coco != (fmt == "coco17"):
                _warn(f"{path}: --format {fmt} was given but the joint layout looks like "
                      f"{'coco17' if coco else 'h36m17'} (COCO's joints 0-4 are the nose, eyes and ears)")
    return fmt, detected, kp, scores, arr.shape[-1] == 3


def read_keypoints(path, fmt: str = "auto") -> RawKeypoints:
    """Read one input (a file, or a folder of OpenPose JSON files) in ``fmt`` (one of
    :data:`FORMATS` or ``"auto"``). Raises :class:`KeypointError` naming the file."""
    if fmt not in ("auto", *FORMATS):
        raise KeypointError(f"unknown format {fmt!r}; choose auto or one of {', '.join(FORMATS)}", path)
    want = None if fmt == "auto" else fmt
    path = Path(path)
    if not path.exists():
        raise KeypointError("no such file or folder", path)
    if path.is_dir():
        try:
            fmt_used, kp, ids = _read_openpose_folder(path, want)
        except PermissionError as e:
            raise KeypointError(f"cannot read: {e.strerror}", path) from None
        return _raw(path, fmt_used, want is None, kp, ids, None)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        arr = _load_array_file(path)
        fmt_used, detected, kp, scores, has = _read_array(arr, path, want)
        ids = [f"row {i}" for i in range(len(kp))]
        return RawKeypoints(str(path), fmt_used, detected, kp, scores, ids, None, has)
    if suffix != ".json":
        raise KeypointError(f"unsupported file type {suffix or '(none)'!r}: expected .json, .npy, .npz "
                            f"or a folder of OpenPose .json files", path)
    text = _json_text(path)
    stream = _stream_coco_results(text, want)
    if stream is not None:  # the common large input: a COCO results list
        del text
        chunks, ids = stream
        del stream
        kp3 = np.empty((sum(len(c) for c in chunks), chunks[0].shape[1]))
        at = 0
        while chunks:  # each batch freed once copied: the keypoints are held once, not twice
            c = chunks.pop(0)
            kp3[at:at + len(c)] = c
            at += len(c)
        return _raw(path, want or "coco17", want is None, kp3.reshape(len(kp3), -1, 3), ids, None)
    obj = _parse_json(text, path)
    del text
    kind = _json_kind(obj)
    if kind in ("openpose", "openpose_people"):
        people = obj["people"] if kind == "openpose" else obj
        if isinstance(people, list) and not people:
            raise KeypointError("no people: the 'people' list is empty", path)
        kps, ids = _read_openpose_obj(obj, path, want, path.name)
        return _raw(path, want or "openpose25", want is None, np.stack(kps), ids, None)
    if kind in ("coco_results", "coco_annotations", "coco_single"):
        fmt_used, kp, ids, sizes = _read_coco(obj, kind, path, want)
        return _raw(path, fmt_used, want is None, kp, ids, sizes)
    if kind == "array":
        data = obj
        if isinstance(obj, dict):
            data = next(obj[k] for k in _ARRAY_KEYS if k in obj)
        try:
            arr = np.asarray(data, dtype=float)
        except OverflowError:
            raise KeypointError("holds a number that overflows a float (not finite): not keypoint "
                                "coordinates", path) from None
        except (TypeError, ValueError):
            raise KeypointError("the nested list is ragged or holds non-numbers: expected shape "
                                "(N, J, 2|3)", path) from None
        fmt_used, detected, kp, scores, has = _read_array(arr, path, want)
        ids = [f"row {i}" for i in range(len(kp))]
        return RawKeypoints(str(path), fmt_used, detected, kp, scores, ids, None, has)
    if kind == "empty_list":
        raise KeypointError("no people: the file is an empty list", path)
    raise KeypointError(_UNKNOWN_JSON, path)


def _raw(path, fmt, detected, kp3, ids, sizes) -> RawKeypoints:
    kp3 = np.asarray(kp3, float)
    kp, scores = kp3[..., :2], _scores_from_third(kp3[..., 2])
    if fmt in ("coco17", "h36m17"):
        coco = _looks_coco17(kp, _located(kp, scores))
        if coco is not None and coco != (fmt == "coco17"):
            other = "coco17" if coco else "h36m17"
            how = "was detected from the file's structure" if detected else "was given"
            _warn(f"{path}: format {fmt} {how} but the joint layout looks like {other} (COCO's joints "
                  f"0-4 are the nose, eyes and ears); pass --format {other} if it is")
    return RawKeypoints(str(path), fmt, detected, kp, scores, list(ids), sizes, True)


def detect_format(path) -> str:
    """The format ``auto`` picks for ``path`` (reads the file)."""
    return read_keypoints(path, "auto").format


# --- mapping --------------------------------------------------------------------------------------
def _located(kp, scores):
    """(N, J) True where a keypoint has a position at all (whatever its confidence): what the
    structural coco17/h36m17 test looks at."""
    with np.errstate(invalid="ignore"):
        x, y = kp[..., 0], kp[..., 1]
        return np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0)) & (scores > 0)


def _present(kp, scores, min_score):
    """(N, J) True where a keypoint counts as present (see the module docstring)."""
    zero = (kp[..., 0] == 0) & (kp[..., 1] == 0)
    with np.errstate(invalid="ignore"):
        ok = scores >= min_score
    return ok & ~zero


def _eval_rule(rule, src, present, out, done, names):
    kind = rule[0]
    if kind == "copy":
        j = names.index(rule[1])
        return src[:, j], present[:, j]
    if kind == "mid":
        a, b = names.index(rule[1]), names.index(rule[2])
        return 0.5 * (src[:, a] + src[:, b]), present[:, a] & present[:, b]
    if kind == "mid_h36m":
        a, b = sk.JOINT_INDEX[rule[1]], sk.JOINT_INDEX[rule[2]]
        return 0.5 * (out[:, a] + out[:, b]), done[:, a] & done[:, b]
    if kind == "extrapolate":
        c, ok = _eval_rule(rule[1], src, present, out, done, names)
        t = sk.JOINT_INDEX["thorax"]
        return c + rule[2] * (c - out[:, t]), ok & done[:, t]
    raise ValueError(f"unknown mapping rule {rule!r}")


def _map(src, present, fmt):
    """(N, J, 2) source keypoints + (N, J) presence -> (N, 17, 2) H36M and (N, 17) filled mask.
    Unfilled joints are NaN (never 0)."""
    names = SOURCE_JOINTS[fmt]
    n = len(src)
    out = np.full((n, sk.NUM_JOINTS, 2), np.nan, dtype=src.dtype if src.dtype == np.float32 else np.float64)
    done = np.zeros((n, sk.NUM_JOINTS), bool)
    order = [j for j in sk.H36M_JOINTS if j not in _DERIVED_LAST] + list(_DERIVED_LAST)
    for name in order:
        j = sk.JOINT_INDEX[name]
        for rule in MAPPINGS[fmt][name]:
            val, ok = _eval_rule(rule, src, present, out, done, names)
            take = ok & ~done[:, j]
            out[take, j] = val[take]
            done[:, j] |= take
    out[~done] = np.nan
    return out, done


def _list(items, limit=_MAX_LISTED):
    items = list(items)
    s = "; ".join(items[:limit])
    return s + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def to_h36m(raw: RawKeypoints, min_score: float = DEFAULT_MIN_SCORE, image_size=None,
            normalised: bool = False, check: bool = True) -> KeypointSet:
    """Map one input to the 17 H36M joints (pixels). ``image_size`` (W, H) is used to turn
    ``normalised`` [0, 1] coordinates into pixels (else the input's own image sizes) and by the
    checks. Poses with a joint that cannot be filled are skipped (warning). ``check`` runs
    :func:`check_poses_2d` and the input checks (normalised coordinates, NaN)."""
    path = raw.path
    if min_score is None or not np.isfinite(min_score) or min_score < 0:
        raise KeypointError(f"min_score must be a number >= 0, got {min_score!r}")
    # float32 input stays float32 (10^6 poses: 136 MB, not 272); copied below only where it is changed
    kp = np.asarray(raw.keypoints)
    kp = kp if kp.dtype in (np.float32, np.float64) else kp.astype(np.float64)
    scores = np.asarray(raw.scores)
    scores = scores if scores.dtype in (np.float32, np.float64) else scores.astype(np.float64)
    ids = list(raw.ids)
    if len(kp) == 0:
        raise KeypointError("no poses", path)
    if not np.isfinite(scores).all():
        bad = np.nonzero(~np.isfinite(scores).all(1))[0]
        raise KeypointError(f"NaN/inf scores in {_list((ids[i] for i in bad), 3)} (not finite: NaN, or a "
                            "number that overflows a float, e.g. 1e400)", path)
    # NaN coordinates are allowed only where the score marks the joint missing
    marked_missing = scores < min_score if raw.has_scores else np.zeros(scores.shape, bool)
    nonfinite = ~(np.isfinite(kp[..., 0]) & np.isfinite(kp[..., 1])) & ~marked_missing
    if nonfinite.any():
        rows = np.nonzero(nonfinite.any(1))[0]
        names = SOURCE_JOINTS[raw.format]
        detail = [f"{ids[i]} ({', '.join(names[j] for j in np.nonzero(nonfinite[i])[0])})" for i in rows]
        hint = "" if raw.has_scores else "; mark a missing joint with (0, 0) or a score column (N, J, 3) of 0"
        raise KeypointError(f"NaN/inf coordinates in {_list(detail, 3)}{hint} (not finite: NaN, or a number "
                            "that overflows a float, e.g. 1e400)", path)
    finite = np.isfinite(kp)
    if not finite.all():
        kp = np.where(finite, kp, 0.0)  # marked missing by a zero score: (0, 0) reads as missing below
    del finite
    present = _present(kp, scores, min_score)
    check_pose_bounds(kp, ids, path, present=present, names=SOURCE_JOINTS[raw.format])  # always: +-MAX_ABS_PX
    if present.any():
        where = present[..., None]
        lo = float(np.min(kp, where=where, initial=np.inf))
        hi = float(np.max(kp, where=where, initial=-np.inf))
        del where
        looks_norm = lo >= -NORMALISED_LIMIT and hi <= NORMALISED_LIMIT
        if normalised:
            size = None if image_size is None else np.asarray(image_size, float).reshape(1, 2)
            if size is None and raw.image_sizes is not None and np.isfinite(raw.image_sizes).all():
                size = np.asarray(raw.image_sizes, float)
            if size is None:
                raise KeypointError("normalised coordinates need the image size to become pixels: "
                                    "pass --image-size W H", path)
            if not looks_norm:
                raise KeypointError(f"--normalised was given but coordinates reach {hi:.4g} (pixels?)", path)
            kp = kp * size[:, None, :]
        elif check and looks_norm:
            raise KeypointError(f"coordinates look normalised to [0, 1]; multiply by the image size or pass "
                                f"--normalised (every coordinate lies within [{lo:.3g}, {hi:.3g}], not pixels)",
                                path)
    if raw.format == "h36m17" and present.all():
        poses, done = kp, present        # every joint given: the mapping is the identity (no copy)
    else:
        poses, done = _map(kp, present, raw.format)
    del kp
    complete = done.all(1)
    skipped = [ids[i] for i in np.nonzero(~complete)[0]]
    if skipped:
        detail = [f"{ids[i]} ({', '.join(sk.H36M_JOINTS[j] for j in np.nonzero(~done[i])[0])})"
                  for i in np.nonzero(~complete)[0]]
        _warn(f"{path}: skipped {len(skipped)} of {len(ids)} poses with joints missing or below "
              f"min score {min_score:g} that cannot be filled: {_list(detail)}")
    kept = poses if complete.all() else poses[complete]
    del poses
    sizes = None if raw.image_sizes is None else np.asarray(raw.image_sizes, float)[complete]
    if image_size is not None:
        sizes = np.broadcast_to(np.asarray(image_size, float), (len(kept), 2)).copy()
    if check and len(kept):
        check_pose_bounds(kept, [ids[i] for i in np.nonzero(complete)[0]], path, image_sizes=sizes, extent=True)
        if raw.format in _FACE:
            _check_face(kept, present[complete], raw.format, path)
        check_poses_2d(kept, path, image_size=image_size)
    info = dict(path=str(path), format=raw.format, detected=raw.detected, read=len(ids), kept=len(kept))
    return KeypointSet(kept, [ids[i] for i in np.nonzero(complete)[0]], skipped, sizes, [info])


def load_keypoints(paths, fmt: str = "auto", min_score: float = DEFAULT_MIN_SCORE, image_size=None,
                   normalised: bool = False, check: bool = True) -> KeypointSet:
    """Read, map and check one or several inputs (:func:`read_keypoints` + :func:`to_h36m`) and
    concatenate them (ids get a ``"<file name>: "`` prefix when there are several)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    sets = [to_h36m(read_keypoints(p, fmt), min_score, image_size, normalised, check) for p in paths]
    return KeypointSet.concatenate(sets)


# --- checks ---------------------------------------------------------------------------------------
def _torso_frame(poses):
    """Torso vector (pelvis -> thorax) (N, 2), its length (N,) and the unit normal pointing to the
    person's left for someone facing the camera upright in image coordinates (y down)."""
    t = poses[:, sk.JOINT_INDEX["thorax"]] - poses[:, sk.JOINT_INDEX["pelvis"]]
    length = np.linalg.norm(t, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = np.stack([-t[:, 1], t[:, 0]], -1) / length[:, None]
    return t, length, normal


def _widths(poses):
    """Signed left-minus-right shoulder and hip widths along the torso normal, and the torso length."""
    _, length, normal = _torso_frame(poses)
    J = sk.JOINT_INDEX
    sw = ((poses[:, J["left_shoulder"]] - poses[:, J["right_shoulder"]]) * normal).sum(-1)
    hw = ((poses[:, J["left_hip"]] - poses[:, J["right_hip"]]) * normal).sum(-1)
    return sw, hw, length


def _pct(k, n):
    return f"{k} of {n} poses"


def check_pose_bounds(poses, ids, source, present=None, names=sk.H36M_JOINTS, image_sizes=None,
                      extent: bool = False) -> None:
    """:class:`KeypointError` naming ``source`` and the pose ids for absurd coordinates (poses (N, J, 2) px):
    any (``present``) coordinate beyond +-:data:`MAX_ABS_PX`; with ``image_sizes`` ((N, 2) or (2,) W, H;
    NaN = unknown), a joint more than :data:`IMAGE_MARGIN` image sizes outside its image; with ``extent``
    (complete H36M poses), a joint farther than :data:`EXTENT_FACTOR` median bone lengths from the median of
    the pose's joints. Such poses are refused, not skipped: a coordinate that far off means the file or its
    conversion is broken (overflow, int64 junk, units, a corrupt record), which the file's other poses
    share, and skipping would silently drop frames of a sequence."""
    p = np.asarray(poses)                          # converted to float64 a block at a time below
    if not p.size:
        return
    size = None
    if image_sizes is not None:
        size = np.broadcast_to(np.asarray(image_sizes, float).reshape(-1, 2), (len(p), 2))
    bad, why = [], {}
    for start in range(0, len(p), _BOUNDS_CHUNK):  # bounded temporaries for inputs of millions of poses
        q = np.asarray(p[start:start + _BOUNDS_CHUNK], float)
        ok = (np.ones(q.shape[:2], bool) if present is None
              else np.asarray(present[start:start + _BOUNDS_CHUNK], bool))
        with np.errstate(invalid="ignore", over="ignore"):
            x, y = q[..., 0], q[..., 1]
            huge = ok & (np.maximum(np.abs(x), np.abs(y)) > MAX_ABS_PX)
            out = np.zeros_like(huge)
            if size is not None:
                sz = size[start:start + _BOUNDS_CHUNK]
                known = (np.isfinite(sz) & (sz > 0)).all(1)
                w, h = sz[:, :1], sz[:, 1:]
                out = ok & known[:, None] & ((x < -IMAGE_MARGIN * w) | (x > (1 + IMAGE_MARGIN) * w)
                                             | (y < -IMAGE_MARGIN * h) | (y > (1 + IMAGE_MARGIN) * h))
            far = np.zeros_like(huge)
            if extent and q.shape[1] == sk.NUM_JOINTS:
                bone = np.hypot(x[:, _BONE_CHILD] - x[:, _BONE_PARENT], y[:, _BONE_CHILD] - y[:, _BONE_PARENT])
                bone = np.partition(bone, (7, 8), axis=1)[:, 7:9].mean(1)          # median of the 16 bones
                d = np.hypot(x - np.partition(x, 8, axis=1)[:, 8:9],                 # from the median joint
                             y - np.partition(y, 8, axis=1)[:, 8:9])
                far = ok & (d > EXTENT_FACTOR * bone[:, None])
        flagged = huge | out | far
        rows = np.flatnonzero(flagged.any(1)) if flagged.any() else np.zeros(0, int)
        for r in rows[: max(0, 3 - len(why))]:
            j = int(np.flatnonzero(flagged[r])[0])
            i = start + int(r)
            if huge[r, j]:
                text = f"beyond +-{MAX_ABS_PX:g} px: not a pixel coordinate (overflow or junk)"
            elif out[r, j]:
                text = f"outside the {size[i, 0]:g} x {size[i, 1]:g} image by more than {IMAGE_MARGIN:g}x its size"
            else:
                text = (f"{d[r, j]:.3g} px from the pose's centre, {d[r, j] / max(bone[r], 1e-12):.3g}x its median "
                        f"bone length (at most {EXTENT_FACTOR:g}x)")
            why[i] = f"{ids[i]} ({names[j]} at ({p[i, j, 0]:.3g}, {p[i, j, 1]:.3g}): {text})"
        bad += (start + rows).tolist()
    if not bad:
        return
    more = f"; and {len(bad) - len(why)} more" if len(bad) > len(why) else ""
    raise KeypointError(f"{len(bad)} of {len(p)} poses have absurd coordinates: {'; '.join(why.values())}{more}; the "
                        "file or its conversion is broken (overflow, wrong units, a corrupt record?)", source)


def check_poses_2d(poses_2d, source="input", image_size=None) -> None:
    """Classic-mistake checks on (N, 17, 2) pixel poses in H36M order (see the module docstring):
    raises :class:`KeypointError` for left/right crossed between upper and lower body in most poses
    and for (y, x) order confirmed by ``image_size``; warns (:class:`KeypointWarning`) for a
    horizontal torso in most poses, upside-down poses, a minority of crossed poses and keypoints
    outside the image."""
    p = np.asarray(poses_2d)                   # float32 stays float32: no (N, 17, 2) float64 copy
    p = p if p.dtype in (np.float32, np.float64) else p.astype(np.float64)
    if p.ndim != 3 or p.shape[1:] != (sk.NUM_JOINTS, 2):
        raise KeypointError(f"expected poses of shape (N, 17, 2), got {p.shape}", source)
    if not np.isfinite(p).all():
        raise KeypointError("NaN/inf in the mapped poses", source)
    n = len(p)
    if n == 0:
        return
    sw, hw, length = _widths(p)
    with np.errstate(invalid="ignore"):
        decisive = (length > 0) & (np.abs(sw) > DECISIVE_WIDTH * length) & (np.abs(hw) > DECISIVE_WIDTH * length)
    crossed = decisive & (np.sign(sw) != np.sign(hw))
    nd, nc = int(decisive.sum()), int(crossed.sum())
    if nd and nc > nd / 2:
        raise KeypointError(
            f"left and right look swapped between upper and lower body in {_pct(nc, nd)} with a clear "
            f"torso (the 'left' shoulder lies on the other side of the 'right' shoulder than the 'left' "
            f"hip of the 'right' hip): check the keypoint order or --format", source)
    if nc:
        _warn(f"{source}: left and right are crossed between shoulders and hips in {_pct(nc, nd)} with a "
              f"clear torso (detector errors?)")
    # (y, x) order and upside down, from the torso direction
    t, length, _ = _torso_frame(p)
    valid = length > 0
    horizontal = valid & (np.abs(t[:, 0]) > np.abs(t[:, 1]))
    nv, nh = int(valid.sum()), int(horizontal.sum())
    looks_yx = nv > 0 and nh > nv / 2
    outside = swapped_outside = None
    if image_size is not None:
        w, h = (float(v) for v in image_size)
        tol = 0.02

        def share_out(ix, iy, ww, hh):            # a block of poses at a time: bounded temporaries
            out = 0
            for s in range(0, n, _BOUNDS_CHUNK):
                x, y = p[s:s + _BOUNDS_CHUNK, :, ix], p[s:s + _BOUNDS_CHUNK, :, iy]
                out += int(((x < -tol * ww) | (x > (1 + tol) * ww) | (y < -tol * hh) | (y > (1 + tol) * hh)).sum())
            return out / (n * sk.NUM_JOINTS)
        outside = share_out(0, 1, w, h)
        swapped_outside = share_out(1, 0, w, h)
    if looks_yx:
        msg = (f"the torso is horizontal in {_pct(nh, nv)}: coordinates look like (y, x); swap the two "
               f"columns")
        if outside is not None and outside > 0.05 and swapped_outside <= 0.005:
            raise KeypointError(f"{msg} ({100 * outside:.0f} % of the keypoints lie outside the "
                                f"{image_size[0]:g} x {image_size[1]:g} image, none once swapped)", source)
        _warn(f"{source}: {msg} (or are most people lying down?)")
    else:
        upright = valid & ~horizontal
        nu = int(upright.sum())
        down = int((upright & (t[:, 1] > 0)).sum())
        if nu and down > nu / 2:
            _warn(f"{source}: the head is below the hips in {_pct(down, nu)}: does the y axis point up? "
                  f"Image coordinates have y pointing down")
    if outside is not None and outside > 0.05 and not looks_yx:
        _warn(f"{source}: {100 * outside:.0f} % of the keypoints lie outside the {image_size[0]:g} x "
              f"{image_size[1]:g} image: is --image-size right?")


def _check_face(poses, present, fmt, source):
    """Whole-body left/right swap: a visible face means the person faces the camera, so their left
    shoulder must lie on the image's right (positive along the torso normal). Only upright poses
    count (thorax above the pelvis): (y, x) or y-up coordinates are reported by their own checks."""
    names = SOURCE_JOINTS[fmt]
    face = present[:, [names.index(j) for j in _FACE[fmt]]].all(1)
    sw, _, length = _widths(poses)
    t, _, _ = _torso_frame(poses)
    upright = (t[:, 1] < 0) & (np.abs(t[:, 1]) >= np.abs(t[:, 0]))
    with np.errstate(invalid="ignore"):
        decisive = face & upright & (length > 0) & (np.abs(sw) > DECISIVE_WIDTH * length)
    nd = int(decisive.sum())
    ns = int((decisive & (sw < 0)).sum())
    if nd and ns > nd / 2:
        _warn(f"{source}: left and right look swapped for the whole body in {_pct(ns, nd)} whose face is "
              f"visible (a person facing the camera has their left shoulder on the image's right): "
              f"mirrored coordinates or a wrong keypoint order?")


# --- camera ---------------------------------------------------------------------------------------
def default_intrinsics(image_size=None, poses=None) -> np.ndarray:
    """(4,) fx, fy, cx, cy for a :data:`DEFAULT_FOV_DEG` field of view across the larger side of
    ``image_size`` (W, H), principal point at the centre. Without ``image_size`` the image is the
    smallest one holding every keypoint of ``poses`` (..., 2) with the origin top-left
    (W = max u, H = max v)."""
    if image_size is not None:
        w, h = (float(v) for v in np.asarray(image_size, float).reshape(2))
        if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
            raise ValueError(f"image size must be two positive numbers, got {image_size!r}")
    else:
        if poses is None:
            raise ValueError("default_intrinsics needs image_size or poses")
        pts = np.asarray(poses, float).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(1)]
        if not len(pts):
            raise ValueError("default_intrinsics: no finite keypoints to estimate the image size from")
        w, h = float(pts[:, 0].max()), float(pts[:, 1].max())
        if w <= 0 or h <= 0:
            raise ValueError(f"default_intrinsics: keypoints do not reach positive coordinates "
                             f"(max u {w:g}, max v {h:g}); pass an image size")
    f = FOCAL_FACTOR * max(w, h)
    return np.array([f, f, w / 2, h / 2], dtype=float)


def _per_pose(K, X):
    return K[..., None, :] if K.ndim >= 2 and K.ndim == X.ndim - 1 else K


def _check_K(K):
    arr = np.asarray(K.detach().cpu() if hasattr(K, "detach") else K, float)
    if arr.shape[-1:] != (4,):
        raise ValueError(f"intrinsics: expected shape (4,) or (N, 4), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr[..., :2] <= 0).any():
        raise ValueError("intrinsics: fx, fy must be positive and every value finite")


def normalise(poses_2d, intrinsics):
    """Pixels (..., 2) -> camera-normalised ((u - cx) / fx, (v - cy) / fy); ``intrinsics`` (4,) or
    (N, 4) for (N, J, 2) poses. numpy arrays (or torch tensors when both are tensors)."""
    K = intrinsics if hasattr(intrinsics, "detach") else np.asarray(intrinsics, float)
    X = poses_2d if hasattr(poses_2d, "detach") else np.asarray(poses_2d, float)
    _check_K(K)
    K = _per_pose(K, X)
    return (X - K[..., 2:4]) / K[..., 0:2]


def denormalise(xy, intrinsics):
    """The inverse of :func:`normalise`: (..., 2) normalised -> pixels ``(x fx + cx, y fy + cy)``."""
    K = intrinsics if hasattr(intrinsics, "detach") else np.asarray(intrinsics, float)
    X = xy if hasattr(xy, "detach") else np.asarray(xy, float)
    _check_K(K)
    K = _per_pose(K, X)
    return X * K[..., 0:2] + K[..., 2:4]


# --- writing --------------------------------------------------------------------------------------
def check_output_path(path, force: bool = False, suffixes=None) -> Path:
    """Refuse an output in a missing folder, an existing file without ``force``, a folder, or an
    unexpected suffix; returns the path."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise KeypointError(f"unsupported output type {path.suffix or '(none)'!r}: expected "
                            f"{' or '.join(suffixes)}", path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise KeypointError(f"folder {str(parent)!r} does not exist", path)
    if path.is_dir():
        raise KeypointError("is a folder", path)
    if path.exists() and not force:
        raise KeypointError("already exists; pass --force to overwrite", path)
    return path


def _atomic_write(path: Path, write, binary: bool):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _novelty_array(novelty, n: int):
    """(N,) float novelty scores rounded to 1e-4, or None."""
    if novelty is None:
        return None
    v = np.asarray(novelty, float)
    if v.shape != (n,) or not np.isfinite(v).all():
        raise ValueError(f"novelty: expected {n} finite scores, got shape {v.shape}")
    return np.round(v, 4)


def _result_fields(poses_3d, ids, skipped, model, checkpoint_sha256, input_format, intrinsics, extra,
                   novelty=None, novelty_threshold=None, in_place: bool = False):
    P = np.asarray(poses_3d)
    if P.dtype not in (np.float32, np.float64):   # float32 stays float32: 10^6 poses are 0.2 GB, not 0.4
        P = P.astype(np.float64)
    if P.ndim != 3 or P.shape[1:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"poses_3d: expected shape (N, 17, 3), got {P.shape}")
    if not all(np.isfinite(P[i:i + 65536]).all() for i in range(0, len(P), 65536)):   # no (N, 17, 3) temporary
        raise ValueError("poses_3d: contains NaN/inf values")
    ids = [str(i) for i in ids]
    if len(ids) != len(P):
        raise ValueError(f"ids: got {len(ids)} ids for {len(P)} poses")
    K = None
    if intrinsics is not None:
        K = np.asarray(intrinsics, float)
        K = np.broadcast_to(K, (len(P), 4)).copy() if K.shape == (4,) else K
        if K.shape != (len(P), 4):
            raise ValueError(f"intrinsics: expected (4,) or ({len(P)}, 4), got {K.shape}")
    fields = {
        "format": RESULT_FORMAT, "joints": list(sk.H36M_JOINTS), "units": "mm",
        "frame": "camera, root-relative", "poses_3d": np.round(P, 1, out=P if in_place else None), "ids": ids,
        "skipped": [str(s) for s in skipped], "model": model, "checkpoint_sha256": checkpoint_sha256,
        "input_format": input_format, "intrinsics": None if K is None else np.round(K, 4),
        "novelty": _novelty_array(novelty, len(P)),
        "novelty_threshold": None if novelty_threshold is None else float(novelty_threshold),
    }
    for k, v in (extra or {}).items():
        if k in fields:
            raise ValueError(f"extra field {k!r} clashes with a standard field")
        fields[k] = v
    return fields


def json_fields(fields: dict) -> dict:
    """:func:`_result_fields` as JSON-ready values: arrays as nested lists, float32 poses through float64
    re-rounded to 0.1 mm (so 12.3 is written 12.3, not 12.300000190734863)."""
    out = {}
    for k, v in fields.items():
        if isinstance(v, np.ndarray):
            if v.dtype == np.float32:
                v = np.round(v.astype(np.float64), 1 if k == "poses_3d" else 4)
            v = v.tolist()
        out[k] = v
    return out


def write_result(path, poses_3d, ids, skipped=(), model=None, checkpoint_sha256=None,
                 input_format=None, intrinsics=None, force: bool = False, extra=None, novelty=None,
                 novelty_threshold=None, in_place: bool = False) -> Path:
    """Write lifted poses to ``path`` (``.json`` or ``.npz``):

    ``{"format": "posecore-lift-1", "joints": [17 names], "units": "mm", "frame": "camera,
    root-relative", "poses_3d": N x 17 x 3 (rounded to 0.1 mm), "ids": [N], "skipped": [...],
    "model", "checkpoint_sha256", "input_format", "intrinsics": N x 4 (fx, fy, cx, cy per pose),
    "novelty": N scores (:mod:`posecore.novelty`: distance to the lifter's training poses, rounded to
    1e-4) or None, "novelty_threshold": the lifter's threshold or None}`` plus ``extra`` fields. In
    ``.npz`` lists of strings are numpy unicode arrays, strings 0-d unicode arrays, None an empty
    string, missing intrinsics a (0, 4) array and missing novelty a (0,) array (loadable with
    ``allow_pickle=False``). Never overwrites an existing file unless ``force``; written atomically.
    ``in_place``: round a float ``poses_3d`` array in place instead of copying it (it is the caller's
    and changes; 10^6 poses save a 0.2-0.4 GB copy)."""
    path = check_output_path(path, force, (".json", ".npz"))
    if in_place and not (isinstance(poses_3d, np.ndarray) and poses_3d.dtype in (np.float32, np.float64)
                         and poses_3d.flags.writeable):
        in_place = False
    fields = _result_fields(poses_3d, ids, skipped, model, checkpoint_sha256, input_format, intrinsics, extra,
                            novelty, novelty_threshold, in_place)
    if path.suffix.lower() == ".json":
        doc = json_fields(fields)
        # json.dumps, not json.dump: dump streams through the pure-Python encoder (~10x slower)
        _atomic_write(path, lambda f: f.write(json.dumps(doc, separators=(",", ":")) + "\n"), binary=False)
    else:
        arrays = {}
        for k, v in fields.items():
            if isinstance(v, np.ndarray):
                arrays[k] = v
            elif isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v):
                arrays[k] = np.array(list(v), dtype=str) if v else np.zeros(0, dtype="<U1")
            elif v is None:
                arrays[k] = np.array("")
            else:
                arrays[k] = np.array(v)
        if arrays["intrinsics"].shape == ():
            arrays["intrinsics"] = np.zeros((0, 4))
        if arrays["novelty"].shape == ():
            arrays["novelty"] = np.zeros(0)
        _atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)
    return path


def read_result(path) -> dict:
    """Read a file of :func:`write_result` back into a dict (numpy arrays for the poses and
    intrinsics, lists of str for ids/joints/skipped, str or None for the rest)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["poses_3d"] = np.asarray(doc["poses_3d"], float).reshape(-1, sk.NUM_JOINTS, 3)
        if doc.get("intrinsics") is not None:
            doc["intrinsics"] = np.asarray(doc["intrinsics"], float).reshape(-1, 4)
        if doc.get("novelty") is not None:
            doc["novelty"] = np.asarray(doc["novelty"], float)
        return doc
    with np.load(path, allow_pickle=False) as z:
        out = {}
        for k in z.files:
            v = z[k]
            if v.dtype.kind == "U":
                out[k] = [str(s) for s in v] if v.ndim else (str(v) or None)
            else:
                out[k] = v
    if "novelty" in out and out["novelty"].size == 0 and len(out.get("poses_3d", ())):
        out["novelty"] = None
    if isinstance(out.get("novelty_threshold"), np.ndarray):
        out["novelty_threshold"] = float(out["novelty_threshold"])
    return out


def write_html(path, poses_3d, ids, force: bool = False, title: str = "posecore lift",
               max_poses: int = MAX_HTML_POSES, novelty=None, novelty_threshold=None) -> Path:
    """A standalone HTML page (plotly.js inlined: no network) with interactive 3D skeletons of
    (N, 17, 3) camera-frame poses in mm; a slider chooses the pose when N > 1. At most
    ``max_poses`` (the first ones) are shown, which the page says. With ``novelty`` (N,) each pose's
    title gives its score, marked "far from the training poses" above ``novelty_threshold``, and the
    page counts those poses."""
    import html as _html

    from . import viz

    path = check_output_path(path, force, (".html", ".htm"))
    P = np.asarray(poses_3d, float)
    if P.ndim != 3 or P.shape[1:] != (sk.NUM_JOINTS, 3) or not len(P):
        raise ValueError(f"poses_3d: expected a non-empty (N, 17, 3) array, got shape {P.shape}")
    ids = [str(i) for i in ids]
    if len(ids) != len(P):
        raise ValueError(f"ids: got {len(ids)} ids for {len(P)} poses")
    shown = min(len(P), int(max_poses))
    nov = _novelty_array(novelty, len(P))

    def label(i):
        if nov is None:
            return ids[i]
        far = novelty_threshold is not None and nov[i] > novelty_threshold
        return f"{ids[i]}, novelty {nov[i]:.3f}" + (": far from the training poses" if far else "")
    fig = viz.skeleton_figure(P[0], labels=[ids[0]], title=label(0), height=620)
    if shown > 1:
        steps = []
        for i in range(shown):
            traces = viz.skeleton_traces(P[i], name=ids[i], showlegend=False)
            restyle = {"x": [list(t.x) for t in traces], "y": [list(t.y) for t in traces],
                       "z": [list(t.z) for t in traces],
                       "customdata": [None] * (len(traces) - 1) + [traces[-1].customdata.tolist()]}
            steps.append(dict(label=str(i), method="update", args=[restyle, {"title.text": label(i)}]))
        pts = viz.to_display(P[:shown])
        fig.update_layout(
            sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="pose "), pad=dict(t=10),
                          x=0.05, len=0.9)],
            margin=dict(l=0, r=0, t=50, b=60))
        ranges = viz._cube_ranges([pts])
        fig.update_layout(scene=dict(xaxis=dict(range=ranges[0]), yaxis=dict(range=ranges[1]),
                                     zaxis=dict(range=ranges[2])))
    div = fig.to_html(full_html=False, include_plotlyjs=True, include_mathjax=False,
                      config=dict(displaylogo=False, responsive=True))
    note = (f"{len(P)} pose{'s' if len(P) != 1 else ''}"
            + (f"; showing the first {shown} of {len(P)} (all of them are in the JSON/npz output)"
               if shown < len(P) else "")
            + ". Camera frame, root-relative, mm; left limbs blue, right red.")
    if nov is not None and novelty_threshold is not None:
        note += (f" Novelty (distance to the lifter's training poses): {int((nov > novelty_threshold).sum())} of "
                 f"{len(P)} poses above the threshold {novelty_threshold:g}, whose 3D is less reliable.")
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_html.escape(title)}</title>\n</head>\n<body style=\"font-family: sans-serif\">\n"
            f"<h1>{_html.escape(title)}</h1>\n<p id=\"posecore-note\">{_html.escape(note)}</p>\n"
            f"{div}\n</body>\n</html>\n")
    _atomic_write(path, lambda f: f.write(page), binary=False)
    return path


# --- detector stand-ins: COCO-17 keypoints made from H36M-17 poses (tests, benchmark, chapter 10) -----
def face_from_h36m(poses_3d, intrinsics, poses_2d):
    """COCO's face keypoints (nose, left eye, right eye, left ear, right ear) made from H36M-17 poses,
    as a perfect detector would see them: the nose is H36M joint 9 ('neck/nose'); eyes and ears are
    placed on the 3D head -- the ear line 58 % of the way from the thorax to the head top and 30 mm
    behind it, the eyes at 62 % and 70 mm in front, ears 75 mm and eyes 32 mm to each side -- and
    projected. Eyes of a person facing away from the camera get score 0.1, the rest 0.9.
    ``poses_3d`` (N, 17, 3) camera mm, ``intrinsics`` (4,) or (N, 4), ``poses_2d`` (N, 17, 2) px.
    Returns (xy (N, 5, 2) px, scores (N, 5))."""
    from .camera import project
    J = sk.JOINT_INDEX
    P = np.asarray(poses_3d, np.float64)
    K = np.broadcast_to(np.asarray(intrinsics, np.float64), (len(P), 4))[:, None]    # (N, 1, 4)
    T, H = P[:, J["thorax"]], P[:, J["head"]]
    up = (H - T) / np.linalg.norm(H - T, axis=-1, keepdims=True)
    lat = P[:, J["left_shoulder"]] - P[:, J["right_shoulder"]]
    lat -= (lat * up).sum(-1, keepdims=True) * up
    lat /= np.linalg.norm(lat, axis=-1, keepdims=True)                 # the person's left
    fwd = np.cross(lat, up)                                            # where the person faces
    ear, eye = T + 0.58 * (H - T) - 30 * fwd, T + 0.62 * (H - T) + 70 * fwd
    face = project(np.stack([eye + 32 * lat, eye - 32 * lat, ear + 75 * lat, ear - 75 * lat], 1), K)  # (N, 4, 2)
    uv = np.asarray(poses_2d, np.float64)
    score = np.full((len(P), 5), 0.9)
    score[(fwd * eye).sum(-1) > 0, 1:3] = 0.1                          # facing away: the eyes are hidden
    return np.concatenate([uv[:, [J["neck"]]], face], 1), score


def coco17_from_h36m(poses_3d, intrinsics, poses_2d) -> np.ndarray:
    """COCO-17 keypoints (N, 17, 3) x, y, score: the face from :func:`face_from_h36m`, the twelve limb
    joints from the H36M 2D poses (score 0.9)."""
    uv = np.asarray(poses_2d, np.float64)
    face, face_score = face_from_h36m(poses_3d, intrinsics, uv)
    limbs = uv[:, [sk.JOINT_INDEX[n] for n in COCO17_JOINTS[5:]]]                 # (N, 12, 2)
    xy = np.concatenate([face, limbs], 1)                                          # (N, 17, 2)
    score = np.concatenate([face_score, np.full(limbs.shape[:2], 0.9)], 1)        # (N, 17)
    return np.concatenate([xy, score[..., None]], -1)


def coco_results(keypoints, image_ids=None, score: float = 0.9) -> list:
    """A COCO keypoint results list (one person per image) from (N, 17, 3) keypoints."""
    k = np.round(np.asarray(keypoints, np.float64), 2)
    ids = range(len(k)) if image_ids is None else image_ids
    return [{"image_id": int(i), "category_id": 1, "keypoints": c.ravel().tolist(), "score": score}
            for i, c in zip(ids, k)]
