"""Human3.6M reader: VideoPose3D's preprocessed npz pair and the original CDF release -> :class:`PoseSet`.

Two input formats are read faithfully:

* **VideoPose3D preprocessed** (``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``): ``positions_3d`` is a
  pickled dict ``subject -> action -> float32 (N, 32, 3)`` world coordinates in **metres** at 50 Hz;
  ``positions_2d`` the same dict with a list of 4 arrays ``(N, 17, 2)`` px, one per camera in the
  order of :data:`posecore.camera.H36M_CAMERA_IDS`; ``metadata`` a dict (``num_joints``,
  ``keypoints_symmetry``, optionally ``layout_name``).
* **Original release** (CDF files read with ``cdflib``): ``S1/MyPoseFeatures/D3_Positions_mono/
  Directions 1.54138969.cdf`` (variable ``Pose``, shape (1, N, 96): 32 joints x 3, camera frame, mm),
  ``D3_Positions/Directions 1.cdf`` (world frame, mm) and ``D2_Positions/Directions 1.54138969.cdf``
  ((1, N, 64): 32 joints x 2 px).

Output: one sample per (frame, camera view); ``poses_3d`` in mm, camera frame; 17 joints in
:data:`posecore.skeleton.H36M_JOINTS` order (raw indices :data:`RAW_TO_H36M17` of the 32);
``action`` holds the canonical action name (:func:`canonical_action`), ``sequence`` the raw key
(e.g. ``'Photo 1'``), ``frame`` the index at 50 Hz in the original sequence.

Extrinsics are the per-subject camera calibrations published with Human3.6M (as listed in
VideoPose3D's ``common/h36m_dataset.py``): orientation quaternion (w, x, y, z) of the camera and its
centre in world mm. A world point maps to the camera as ``X_cam = R(q)^T (X - t)`` -- VideoPose3D's
``world_to_camera`` (``qrot(qinverse(q), X - t)``).

Malformed input is refused with :class:`~posecore.data.safe_io.DataFormatError` naming the file and
the problem: the pickles of the npz files are read with a restricted unpickler (never executing code
from the file), every sequence must be a non-empty finite numeric array of a person-sized skeleton in
the format's unit, in front of every camera, and given 2D must match the projection of the 3D within
:data:`MAX_REPROJECTION_PX`. Without 2D to cross-check, :func:`check_world_skeleton` still refuses 3D in
the wrong axes (Y-up instead of Z-up), mirrored in x, or not the H36M-17 subset of the 32 joints.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..camera import H36M_CAMERA_IDS, Camera, h36m_camera, project
from ..skeleton import NUM_JOINTS
from .dataset import PoseSet
from .plausibility import check_bones, check_facing, check_up_axis, sample
from .safe_io import (
    DataFormatError,
    check_human_scale,
    load_npz,
    npz_names,
    require_file,
)

FPS = 50
SPLIT_SUBJECTS = {"train": ("S1", "S5", "S6", "S7", "S8"), "test": ("S9", "S11")}
ALL_SUBJECTS = SPLIT_SUBJECTS["train"] + SPLIT_SUBJECTS["test"]
# subjects of the release whose 3D labels / extrinsics are not public: skipped with a warning
UNLABELLED_SUBJECTS = ("S2", "S3", "S4", "S10")
DEFAULT_STRIDE = {"train": 5, "test": 1}
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "TakingPhoto", "Posing",
           "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkingDog", "Walking",
           "WalkTogether")
SUBACTIONS_PER_ACTION = 2
# raw indices (of the 32 mocap joints) of posecore's 17 H36M joints
RAW_TO_H36M17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
NUM_RAW_JOINTS = 32
# sequences whose *video* is known to be corrupt (the mocap is fine); flagged in meta['flagged']
CORRUPT_VIDEOS = {("S11", "Directions", "54138969"):
                  "video S11/Directions.54138969 is corrupt (VideoPose3D discards S11 'Directions')"}
# median distance (px) between given 2D and the projection of the 3D above which a view is refused
MAX_REPROJECTION_PX = 20.0
SOURCE = ("Human3.6M (Ionescu et al., TPAMI 2014), http://vision.imar.ro/human3.6m; academic licence "
          "(no redistribution of data or derived arrays)")

_ALIASES = {a.lower(): a for a in ACTIONS}
_ALIASES.update({"photo": "TakingPhoto", "walkdog": "WalkingDog", "walkingtogether": "WalkTogether"})


def canonical_action(name: str) -> str:
    """The canonical Human3.6M action of a raw sequence key: strips the subaction suffix and maps the
    variant spellings, e.g. ``'Directions 1'`` -> ``'Directions'``, ``'Photo'`` -> ``'TakingPhoto'``,
    ``'WalkDog 1'`` -> ``'WalkingDog'``, ``'WalkTogether 2'`` -> ``'WalkTogether'``. Raises
    ValueError for a name that is none of the 15 actions."""
    if not isinstance(name, str):
        raise ValueError(f"canonical_action: expected a string, got {type(name).__name__}")
    base = re.sub(r"[\s_\-]*\d+$", "", name.strip())
    key = re.sub(r"[\s_\-]", "", base).lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown Human3.6M action {name!r}; expected one of {ACTIONS} "
                         "(optionally with a subaction suffix such as ' 1', or 'Photo'/'WalkDog')")
    return _ALIASES[key]


# --- calibration ---------------------------------------------------------------------------------
# per subject, per camera (H36M_CAMERA_IDS order): orientation quaternion (w, x, y, z), centre (mm)
_EXTRINSICS = {
    "S1": (((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088),
            (1841.1070556640625, 4955.28466796875, 1563.4454345703125)),
           ((0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205),
            (1761.278564453125, -5078.0068359375, 1606.2650146484375)),
           ((0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696),
            (-1846.7777099609375, 5215.04638671875, 1491.972412109375)),
           ((0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435),
            (-1794.7896728515625, -3722.698974609375, 1574.8927001953125))),
    "S5": (((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332),
            (2097.3916015625, 4880.94482421875, 1605.732421875)),
           ((0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915),
            (2031.7008056640625, -5167.93310546875, 1612.923095703125)),
           ((0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576),
            (-1620.5948486328125, 5171.65869140625, 1496.43701171875)),
           ((0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092),
            (-1637.1737060546875, -3867.3173828125, 1547.033203125))),
    "S6": (((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938),
            (1935.4517822265625, 4950.24560546875, 1618.0838623046875)),
           ((0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428),
            (1969.803955078125, -5128.73876953125, 1632.77880859375)),
           ((0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334),
            (-1769.596435546875, 5185.361328125, 1476.993408203125)),
           ((0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802),
            (-1721.668701171875, -3884.13134765625, 1540.4879150390625))),
    "S7": (((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778),
            (1974.512939453125, 4926.3544921875, 1597.8326416015625)),
           ((0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508),
            (1937.0584716796875, -5119.7900390625, 1631.5665283203125)),
           ((0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278),
            (-1741.8111572265625, 5208.24951171875, 1464.8245849609375)),
           ((0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523),
            (-1734.7105712890625, -3832.42138671875, 1548.5830078125))),
    "S8": (((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773),
            (2150.65185546875, 4896.1611328125, 1611.9046630859375)),
           ((0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615),
            (2219.965576171875, -5148.453125, 1613.0440673828125)),
           ((0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755),
            (-1571.2215576171875, 5137.0185546875, 1498.1761474609375)),
           ((0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708),
            (-1476.913330078125, -3896.7412109375, 1547.97216796875))),
    "S9": (((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243),
            (2044.45849609375, 4935.1171875, 1481.2275390625)),
           ((0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801),
            (1990.959716796875, -5123.810546875, 1568.8048095703125)),
           ((0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915),
            (-1670.9921875, 5211.98583984375, 1528.387939453125)),
           ((0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822),
            (-1696.04345703125, -3827.099853515625, 1591.4127197265625))),
    "S11": (((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467),
             (2098.440185546875, 4926.5546875, 1500.278564453125)),
            ((0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085),
             (2083.182373046875, -4912.1728515625, 1561.07861328125)),
            ((0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407),
             (-1609.8153076171875, 5177.3359375, 1537.896728515625)),
            ((0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809),
             (-1590.738037109375, -3854.1689453125, 1578.017578125))),
}


def quaternion_to_matrix(q) -> np.ndarray:
    """(3, 3) rotation matrix of a unit quaternion (w, x, y, z) (normalised first)."""
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def h36m_cameras(subject: str) -> list[Camera]:
    """The four calibrated cameras of ``subject`` (H36M_CAMERA_IDS order) with ``R`` world->camera
    and ``t`` the camera centre in world mm."""
    if subject not in _EXTRINSICS:
        raise ValueError(f"no published extrinsics for Human3.6M subject {subject!r}; known: {ALL_SUBJECTS}")
    return [h36m_camera(cid, R=quaternion_to_matrix(q).T, t=np.asarray(t, float))
            for cid, (q, t) in zip(H36M_CAMERA_IDS, _EXTRINSICS[subject])]


# --- helpers -------------------------------------------------------------------------------------
def check_subjects(subjects, split: str) -> tuple:
    """Validate the split name and the subject list (defaults to the split's protocol subjects)."""
    if split not in SPLIT_SUBJECTS:
        raise ValueError(f"unknown Human3.6M split {split!r}; choose one of {tuple(SPLIT_SUBJECTS)}")
    if subjects is None:
        return SPLIT_SUBJECTS[split]
    subjects = tuple([subjects] if isinstance(subjects, str) else subjects)
    bad = [s for s in subjects if s not in ALL_SUBJECTS]
    if bad:
        raise ValueError(f"unknown Human3.6M subject(s) {bad}; labelled subjects are {ALL_SUBJECTS}")
    return subjects


def _stride(split, stride):
    s = DEFAULT_STRIDE[split] if stride is None else int(stride)
    if s < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return s


class _Builder:
    """Accumulates per-(sequence, camera) blocks, checks each against the camera (person-sized, in front
    of it, 2D = projection of 3D) and reports (absent / mismatched / flagged). ``unit_3d`` is the unit of
    the 3D in the file (for the wrong-units message)."""

    def __init__(self, split, stride, project_2d, unit_3d="mm"):
        self.split, self.stride, self.project_2d, self.unit_3d = split, stride, project_2d, unit_3d
        self.blocks = {k: [] for k in ("p2", "p3", "subject", "action", "sequence", "camera", "frame")}
        self.mismatches, self.flagged = [], []
        self.seen = {}  # subject -> canonical action -> set of raw keys
        self.checked = set()  # 3D sources whose skeleton passed check_world_skeleton

    def add(self, subject, raw, cam: Camera, p3_cam, p2=None, where="", src3=""):
        """p3_cam (N, 17, 3) mm camera frame (float64/32); p2 (M, 17, 2) px or None (projected).
        ``src3`` / ``where`` name the 3D / 2D source (file and key) in error messages."""
        act = canonical_action(raw)
        self.seen.setdefault(subject, {}).setdefault(act, set()).add(raw)
        flag = CORRUPT_VIDEOS.get((subject, raw, cam.name))
        if flag:
            self.flagged.append(f"{subject}/{raw}/{cam.name}: {flag}")
        n = len(p3_cam)
        if p2 is not None and len(p2) != n:
            m = min(n, len(p2))
            self.mismatches.append(dict(subject=subject, sequence=raw, camera=cam.name, frames_3d=n,
                                        frames_2d=len(p2), kept=m, source=where))
            n = m
        idx = np.arange(0, n, self.stride)
        check_human_scale(p3_cam[idx], src3, "mm", assumed=self.unit_3d)
        X = np.asarray(p3_cam[idx], np.float32)
        behind = int((X[..., 2] <= 0).any(-1).sum())
        if behind:
            raise DataFormatError(f"{src3}: joints at or behind camera {cam.name} (depth <= 0 mm in {behind} of "
                                  f"{len(X)} frames); wrong units, axes or subject calibration?")
        if src3 not in self.checked:  # once per 3D source, in the world frame: Xw = Xc R + t
            check_world_skeleton(np.asarray(X, np.float64) @ cam.R + cam.t, src3)
            self.checked.add(src3)
        if p2 is None:
            uv = project(X.astype(np.float64), cam.intrinsics.astype(np.float64),
                         cam.distortion.astype(np.float64) if self.project_2d == "distort" else None)
        else:
            uv = p2[idx]
            check_reprojection(uv, X, cam, f"{where} (camera {cam.name})")
        k = len(idx)
        b = self.blocks
        b["p3"].append(X)
        b["p2"].append(np.asarray(uv, np.float32))
        b["subject"].append(np.full(k, subject))
        b["action"].append(np.full(k, act))
        b["sequence"].append(np.full(k, raw))
        b["camera"].append(np.full(k, cam.name))
        b["frame"].append(idx.astype(np.int32))

    def absent(self, subjects) -> list[str]:
        out = []
        for s in subjects:
            if s not in self.seen:
                out.append(f"{s}: subject absent")
                continue
            for a in ACTIONS:
                got = len(self.seen[s].get(a, ()))
                if got < SUBACTIONS_PER_ACTION:
                    out.append(f"{s}/{a}: {got} of {SUBACTIONS_PER_ACTION} subactions")
        return out

    def build(self, meta) -> PoseSet:
        b = self.blocks
        if not b["p3"]:
            raise DataFormatError(f"{', '.join(meta.get('source_files', []))}: no Human3.6M sequences found for "
                                  f"split {self.split!r} (subjects {meta['subjects']})")
        cams = np.concatenate(b["camera"])
        intr = {c: h36m_camera(c) for c in H36M_CAMERA_IDS}
        ci = np.searchsorted(np.array(H36M_CAMERA_IDS), cams)
        K = np.stack([intr[c].intrinsics for c in H36M_CAMERA_IDS])[ci]
        D = np.stack([intr[c].distortion for c in H36M_CAMERA_IDS])[ci]
        S = np.array([intr[c].size for c in H36M_CAMERA_IDS], np.int32)[ci]
        if self.mismatches:
            total = sum(abs(m["frames_3d"] - m["frames_2d"]) for m in self.mismatches)
            warnings.warn(f"Human3.6M: {len(self.mismatches)} sequence views have different 2D and 3D "
                          f"lengths ({total} frames in all); truncated to the shorter "
                          "(see meta['length_mismatches'])", stacklevel=3)
        absent = self.absent(meta["subjects"])
        if absent:
            warnings.warn(f"Human3.6M: {len(absent)} subject/action entries absent or incomplete: "
                          f"{absent[:5]}{' ...' if len(absent) > 5 else ''} (see meta['absent'])", stacklevel=3)
        meta = dict(meta, absent=absent, length_mismatches=self.mismatches, flagged=self.flagged,
                    stride=self.stride, fps=FPS / self.stride)
        n = len(cams)
        ps = PoseSet(poses_2d=np.concatenate(b["p2"]), poses_3d=np.concatenate(b["p3"]),
                     intrinsics=K, distortion=D, image_size=S, has_3d=np.ones(n, bool),
                     visible=np.ones((n, NUM_JOINTS), bool), subject=np.concatenate(b["subject"]),
                     action=np.concatenate(b["action"]), sequence=np.concatenate(b["sequence"]),
                     camera=cams, frame=np.concatenate(b["frame"]), scene=np.full(n, "lab"), meta=meta)
        return ps.validate()


def check_world_skeleton(Xw, where: str) -> None:
    """Plausibility of Human3.6M world poses (N, 17, 3) mm (see :mod:`posecore.data.plausibility`), needed
    when no 2D file cross-checks the 3D: the joint subset (left/right bones about equal and of constant
    length: not raw joints 0-16 of the 32), the up axis (the legs point along world +Z: not a Y-up file) and
    the handedness (the face -- the neck/nose joint ahead of the thorax-head line -- is on the side
    ``left x up`` of the torso: not mirrored in x). DataFormatError naming ``where`` and the evidence."""
    P = sample(Xw)
    check_bones(P, where, "not the H36M-17 subset of the 32 mocap joints (raw indices "
                f"{', '.join(map(str, RAW_TO_H36M17))}) or not in H36M order?", unit=" mm")
    check_up_axis(P, where, "H36M 3D world coordinates are Z-up")
    check_facing(P, P[:, 9] - 0.5 * (P[:, 8] + P[:, 10]), where, "the face (neck/nose joint)",
                 "the x axis is mirrored (left-handed coordinates) or left and right joints are exchanged")


def check_reprojection(p2, X, cam: Camera, where: str, limit: float = MAX_REPROJECTION_PX) -> float:
    """Median distance (px) between 2D ``p2`` (N, 17, 2) and the projection (Human3.6M distortion model)
    of camera-frame ``X`` (N, 17, 3) mm; DataFormatError naming ``where`` above ``limit``."""
    if not len(X):
        return 0.0
    uv = project(np.asarray(X, np.float64), cam.intrinsics.astype(np.float64), cam.distortion.astype(np.float64))
    err = float(np.median(np.linalg.norm(np.asarray(p2, np.float64) - uv, axis=-1)))
    if not err <= limit:
        span = float(np.abs(p2).max())
        hint = ("the 2D lies within +-2: normalised coordinates instead of pixels?" if span <= 2.0 else
                "2D not in pixels, another camera order, or 2D of another sequence?")
        raise DataFormatError(f"{where}: 2D and 3D disagree: median reprojection error {err:.4g} px through the "
                              f"published calibration (at most {limit:g} px expected); {hint}")
    return err


def _load_pickled_npz(path: Path, key: str) -> tuple[dict, dict]:
    """Load ``key`` (a pickled dict) and the ``metadata`` entry (if any) of a VideoPose3D npz, with the restricted
    unpickler of :func:`posecore.data.safe_io.load_npz`; clear errors."""
    z = load_npz(path, "VideoPose3D npz file", keys=(key, "metadata"))  # other members are never read
    if key not in z:
        raise DataFormatError(f"{path}: missing key {key!r} (found {sorted(npz_names(path))}); expected a "
                              "VideoPose3D-format npz")
    obj = z.pop(key)
    data = obj.item() if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == () else obj
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: {key!r} must be a pickled dict subject -> action -> array, "
                              f"got {type(data).__name__}")
    return data, z


def _check_subject_keys(path, data: dict, subjects) -> None:
    keys = list(data)
    unknown = [k for k in keys if k not in ALL_SUBJECTS and k not in UNLABELLED_SUBJECTS]
    if unknown:
        raise DataFormatError(f"{path}: unknown subject keys {unknown}; expected Human3.6M names such as "
                              f"{ALL_SUBJECTS}")
    if not any(s in data for s in subjects):
        raise DataFormatError(f"{path}: none of the split's subjects {tuple(subjects)} present (found {keys})")


def _check_actions(path, what, actions) -> list:
    """The sorted action keys of ``actions`` (a dict of raw sequence name -> data), validated."""
    if not isinstance(actions, dict):
        raise DataFormatError(f"{path}: {what} must be a dict action -> array, got {type(actions).__name__}")
    if not actions:
        raise DataFormatError(f"{path}: {what} holds no sequences (empty dict)")
    for raw in actions:
        try:
            canonical_action(raw)
        except ValueError as e:
            raise DataFormatError(f"{path}: {what}: {e}") from None
    return sorted(actions)


def _check_array(path, what, a, shape_tail, ndim=3):
    if not isinstance(a, np.ndarray) or a.ndim != ndim or tuple(a.shape[1:]) not in shape_tail:
        shape = getattr(a, "shape", type(a).__name__)
        raise DataFormatError(f"{path}: {what} has shape {shape}, expected (N, " +
                              " or ".join(", ".join(map(str, t)) for t in shape_tail) + ")")
    if a.dtype.kind not in "fiu":
        raise DataFormatError(f"{path}: {what} has dtype {a.dtype}, expected floating-point numbers")
    if len(a) == 0:
        raise DataFormatError(f"{path}: {what} has 0 frames (empty sequence)")
    bad = ~np.isfinite(a)
    if bad.any():
        raise DataFormatError(f"{path}: {what} contains {int(bad.sum())} NaN/inf values (not finite: NaN, or "
                              "a number that overflows a float)")


def find_npz(data_root) -> tuple[Path, Path | None]:
    """(3D file, 2D file or None) of a VideoPose3D layout under ``data_root`` (a folder or the 3D npz)."""
    root = Path(data_root)
    p3 = root if root.is_file() else root / "data_3d_h36m.npz"
    p2 = p3.with_name("data_2d_h36m_gt.npz")
    return p3, (p2 if p2.exists() else None)


def load_h36m_npz(path_3d, path_2d=None, split: str = "train", *, subjects=None, stride=None,
                  drop_corrupt: bool = False, project_2d: str = "distort") -> PoseSet:
    """Convert VideoPose3D's ``data_3d_h36m.npz`` (+ optional ``data_2d_h36m_gt.npz``) to a PoseSet.

    ``split`` 'train' (S1, S5, S6, S7, S8; default every 5th frame) or 'test' (S9, S11; every
    frame); ``stride`` overrides the subsampling. Without a 2D file the 2D poses are the projection
    of the 3D ones (``project_2d='distort'``: the Human3.6M distortion model, as VideoPose3D made its
    ground-truth 2D; ``'pinhole'``: none). ``drop_corrupt`` removes views whose video is known to be
    corrupt (flagged in ``meta['flagged']`` either way). Processing is vectorised per
    (sequence, camera) and streams subject by subject (each subject's input is freed when done)."""
    subjects = check_subjects(subjects, split)
    stride = _stride(split, stride)
    path_3d = Path(path_3d)
    data3, _ = _load_pickled_npz(path_3d, "positions_3d")
    _check_subject_keys(path_3d, data3, subjects)
    data2, meta2 = None, {}
    if path_2d is not None:
        path_2d = Path(path_2d)
        data2, extra = _load_pickled_npz(path_2d, "positions_2d")
        _check_subject_keys(path_2d, data2, subjects)
        if "metadata" in extra:
            md = extra["metadata"]
            meta2 = md.item() if isinstance(md, np.ndarray) and md.dtype == object and md.shape == () else md
            if not isinstance(meta2, dict):
                raise DataFormatError(f"{path_2d}: 'metadata' must be a dict, got {type(meta2).__name__}")
            if meta2.get("num_joints", NUM_JOINTS) != NUM_JOINTS:
                raise DataFormatError(f"{path_2d}: metadata num_joints={meta2['num_joints']!r}, expected 17")
            if meta2.get("layout_name", "h36m") != "h36m":
                raise DataFormatError(f"{path_2d}: metadata layout_name={meta2['layout_name']!r}, expected 'h36m'")
    skipped = [k for k in data3 if k in UNLABELLED_SUBJECTS]
    for d in (data3, data2 or {}):  # free the other split's subjects at once
        for k in [k for k in d if k not in subjects]:
            del d[k]
    if skipped:
        warnings.warn(f"{path_3d}: skipping subjects without public calibration {skipped}", stacklevel=2)
    builder = _Builder(split, stride, project_2d, unit_3d="m")
    for subject in subjects:
        actions = data3.pop(subject, None)
        if actions is None:
            continue
        raws = _check_actions(path_3d, f"positions_3d[{subject!r}]", actions)
        acts2 = data2.pop(subject, {}) if data2 is not None else {}
        if data2 is not None and not isinstance(acts2, dict):
            raise DataFormatError(f"{path_2d}: positions_2d[{subject!r}] must be a dict action -> list of "
                                  f"arrays, got {type(acts2).__name__}")
        cams = h36m_cameras(subject)
        for raw in raws:
            pos = actions[raw]
            _check_array(path_3d, f"positions_3d[{subject!r}][{raw!r}]", pos, {(32, 3), (17, 3)})
            pos = pos[:, list(RAW_TO_H36M17)] if pos.shape[1] == NUM_RAW_JOINTS else pos
            Xw = pos.astype(np.float64) * 1000.0  # metres -> mm
            src3 = f"{path_3d}: positions_3d[{subject!r}][{raw!r}]"
            views2 = None
            if data2 is not None:
                views2 = acts2.get(raw)
                if views2 is None:
                    warnings.warn(f"{path_2d}: no 2D poses for {subject}/{raw}; projecting the 3D", stacklevel=2)
                elif not isinstance(views2, (list, tuple)) or len(views2) != len(cams):
                    raise DataFormatError(f"{path_2d}: positions_2d[{subject!r}][{raw!r}] must be a list of "
                                     f"{len(cams)} arrays (one per camera), got {type(views2).__name__}"
                                     f" of length {len(views2) if hasattr(views2, '__len__') else '?'}")
            for ci, cam in enumerate(cams):
                if drop_corrupt and (subject, raw, cam.name) in CORRUPT_VIDEOS:
                    continue
                p2, where2 = None, str(path_2d)
                if views2 is not None:
                    p2 = views2[ci]
                    where2 = f"positions_2d[{subject!r}][{raw!r}][{ci}]"
                    _check_array(path_2d, where2, p2, {(17, 2)})
                    where2 = f"{path_2d}: {where2}"
                Xc = (Xw - cam.t) @ cam.R.T
                builder.add(subject, raw, cam, Xc, p2, where=where2, src3=src3)
        del actions, acts2
    meta = dict(dataset="h36m", split=split, source=SOURCE, format="videopose3d-npz",
                source_files=[str(path_3d)] + ([str(path_2d)] if path_2d else []), subjects=list(subjects),
                poses_2d="data_2d_h36m_gt.npz" if path_2d else f"projected ({project_2d})")
    return builder.build(meta)


# --- original CDF release ------------------------------------------------------------------------
def read_cdf_pose(path, width: int) -> np.ndarray:
    """The ``Pose`` variable of a Human3.6M CDF as (N, 32, width/32) float64; clear errors."""
    import cdflib
    path = require_file(path, "Human3.6M CDF file")
    try:
        cdf = cdflib.CDF(str(path))
        pose = cdf.varget("Pose")
    except Exception as e:  # cdflib raises various errors on truncated / foreign files
        raise DataFormatError(f"{path}: unreadable CDF or no variable 'Pose' ({type(e).__name__}: {e})") from e
    pose = np.asarray(pose)
    if pose.dtype.kind not in "fiu":
        raise DataFormatError(f"{path}: 'Pose' has dtype {pose.dtype}, expected numbers")
    pose = pose.astype(np.float64)
    if pose.ndim == 3 and pose.shape[0] == 1:
        pose = pose[0]
    if pose.ndim != 2 or pose.shape[1] != width:
        raise DataFormatError(f"{path}: 'Pose' has shape {pose.shape}, expected (1, N, {width})")
    if len(pose) == 0:
        raise DataFormatError(f"{path}: 'Pose' has 0 frames (empty sequence)")
    if not np.isfinite(pose).all():
        raise DataFormatError(f"{path}: 'Pose' contains {int((~np.isfinite(pose)).sum())} NaN/inf values (not "
                              "finite: NaN, or a number that overflows a float)")
    return pose.reshape(len(pose), NUM_RAW_JOINTS, width // NUM_RAW_JOINTS)


def _cdf_name(path: Path) -> tuple[str, str | None]:
    """'Directions 1.54138969.cdf' -> ('Directions 1', '54138969'); 'Directions 1.cdf' -> (.., None)."""
    stem = path.name[:-4]
    if "." in stem:
        raw, cam = stem.rsplit(".", 1)
        return raw.replace("_", " "), cam
    return stem.replace("_", " "), None


def find_cdf(data_root, subjects) -> dict:
    """{subject: {'mono': [...], 'world': [...], '2d': [...]}} CDF paths of the original release."""
    root = Path(data_root)
    out = {}
    for s in subjects:
        feat = root / s / "MyPoseFeatures"
        out[s] = {k: sorted((feat / d).glob("*.cdf")) if (feat / d).is_dir() else []
                  for k, d in (("mono", "D3_Positions_mono"), ("world", "D3_Positions"), ("2d", "D2_Positions"))}
    return out


def load_h36m_cdf(data_root, split: str = "train", *, subjects=None, stride=None,
                  drop_corrupt: bool = False, project_2d: str = "distort") -> PoseSet:
    """Convert the original release (``<root>/S1/MyPoseFeatures/D3_Positions_mono/*.cdf``, or
    ``D3_Positions`` + the published extrinsics when the mono files are absent; 2D from
    ``D2_Positions`` when present, else projected) to a PoseSet. Arguments as :func:`load_h36m_npz`."""
    subjects = check_subjects(subjects, split)
    stride = _stride(split, stride)
    root = Path(data_root)
    files = find_cdf(root, subjects)
    if not any(v["mono"] or v["world"] for v in files.values()):
        raise FileNotFoundError(f"{root}: no Human3.6M CDF files for subjects {subjects} (looked for "
                                "<root>/S1/MyPoseFeatures/D3_Positions_mono/*.cdf and .../D3_Positions/*.cdf)")
    builder = _Builder(split, stride, project_2d, unit_3d="mm")
    for subject in subjects:
        f = files[subject]
        cams = {c.name: c for c in h36m_cameras(subject)}
        twod = {_cdf_name(p): p for p in f["2d"]}
        if f["mono"]:
            views = []
            for p in f["mono"]:
                raw, cid = _cdf_name(p)
                if cid not in cams:
                    raise DataFormatError(f"{p}: unknown camera id {cid!r} in the file name; "
                                          f"expected {H36M_CAMERA_IDS}")
                views.append((raw, cid, p, None))
        else:
            views = []
            for p in f["world"]:
                raw, _ = _cdf_name(p)
                views += [(raw, cid, None, p) for cid in H36M_CAMERA_IDS]
        world_cache = {}
        for raw, cid, pmono, pworld in sorted(views, key=lambda v: (v[0], v[1])):
            try:
                canonical_action(raw)
            except ValueError as e:
                raise DataFormatError(f"{pmono or pworld}: file name: {e}") from None
            cam = cams[cid]
            if drop_corrupt and (subject, raw, cid) in CORRUPT_VIDEOS:
                continue
            if pmono is not None:
                Xc = read_cdf_pose(pmono, 96)[:, list(RAW_TO_H36M17)]
            else:
                if pworld not in world_cache:
                    world_cache.clear()
                    world_cache[pworld] = read_cdf_pose(pworld, 96)[:, list(RAW_TO_H36M17)]
                Xc = (world_cache[pworld] - cam.t) @ cam.R.T
            p2path = twod.get((raw, cid))
            p2 = read_cdf_pose(p2path, 64)[:, list(RAW_TO_H36M17)] if p2path is not None else None
            builder.add(subject, raw, cam, Xc, p2, where=str(p2path), src3=f"{pmono or pworld}: 'Pose'")
    meta = dict(dataset="h36m", split=split, source=SOURCE, format="original-cdf", source_files=[str(root)],
                subjects=list(subjects), poses_2d="D2_Positions" if any(v["2d"] for v in files.values())
                else f"projected ({project_2d})")
    return builder.build(meta)


def source_files(data_root, split: str = "train", subjects=None) -> list[Path]:
    """The input files a conversion of ``data_root`` reads (for cache keys); raises FileNotFoundError
    naming what was looked for when there are none."""
    root = Path(data_root)
    if not root.exists():
        raise FileNotFoundError(f"Human3.6M data_root {root} does not exist")
    p3, p2 = find_npz(root)
    if p3.exists():
        return [p3] + ([p2] if p2 else [])
    subjects = check_subjects(subjects, split)
    files = [p for v in find_cdf(root, subjects).values() for k in ("mono", "world", "2d") for p in v[k]]
    if not files:
        raise FileNotFoundError(f"{root}: no Human3.6M files found: looked for data_3d_h36m.npz "
                                "(+ data_2d_h36m_gt.npz, VideoPose3D format) and for the original release "
                                "<root>/S*/MyPoseFeatures/D3_Positions_mono/*.cdf")
    return files


def load_h36m(data_root, split: str = "train", **options) -> PoseSet:
    """Convert whichever Human3.6M format is under ``data_root``: a VideoPose3D npz pair (a folder
    holding ``data_3d_h36m.npz`` or that file itself) or the original CDF release. ``options`` go to
    :func:`load_h36m_npz` / :func:`load_h36m_cdf`."""
    root = Path(data_root)
    source_files(root, split, options.get("subjects"))  # existence checks with clear errors
    p3, p2 = find_npz(root)
    if p3.exists():
        return load_h36m_npz(p3, p2, split, **options)
    return load_h36m_cdf(root, split, **options)
