"""Conversion of the CMU motion-capture clips (BVH, "IClone-CMU-Mocap" rig, see
``../shared/data/cmu_mocap_bvh/README.md``) to posecore's 17-joint skeleton.

Motion data from the CMU Graphics Lab Motion Capture Database, mocap.cs.cmu.edu; the database was
created with funding from NSF EIA-0196217.

Forward kinematics is done by the maintained PyPI library ``pybvh`` (it applies the BVH channel order,
here intrinsic Z-Y-X, and the ``RL_BoneRoot`` Y-up rotation of some clips). Choices, checked on plots
and bone lengths of the data:

* pelvis ``CC_Base_Hip``; hips ``*_Thigh``; knees ``*_Calf``; ankles ``*_Foot``;
* spine ``CC_Base_Spine02``: it lies half-way between pelvis and thorax (26.6 of 53.9 cm), as the
  Human3.6M spine joint does (``Spine01`` is only 12 cm above the pelvis);
* thorax ``CC_Base_NeckTwist01`` (shoulder level); neck/nose: the midpoint of the eyes;
* head top: 18 cm from ``CC_Base_Head`` (skull base) along the head's up axis, which is recovered
  from the eye positions (the eyes sit 8.2 cm forward and 8.2 cm up in the head's frame);
* shoulders/elbows/wrists ``*_Upperarm`` / ``*_Forearm`` / ``*_Hand``.

Output world frame: Z up, millimetres, floor at z = 0 (the lowest ankle of the clip, less the
ankle height of the rig).
"""
from __future__ import annotations

import numpy as np

from .plausibility import check_body_units, check_facing, check_up_axis
from .safe_io import DataFormatError, require_file

CMU_JOINT_MAP = {
    0: "CC_Base_Hip", 1: "CC_Base_R_Thigh", 2: "CC_Base_R_Calf", 3: "CC_Base_R_Foot",
    4: "CC_Base_L_Thigh", 5: "CC_Base_L_Calf", 6: "CC_Base_L_Foot", 7: "CC_Base_Spine02",
    8: "CC_Base_NeckTwist01", 11: "CC_Base_L_Upperarm", 12: "CC_Base_L_Forearm", 13: "CC_Base_L_Hand",
    14: "CC_Base_R_Upperarm", 15: "CC_Base_R_Forearm", 16: "CC_Base_R_Hand",
}
HEAD_TOP_CM = 18.0       # skull base -> head top
EYE_FORWARD_UP = (8.19, 8.22)  # eye offset in the head's frame (forward, up), cm, from the rig
ANKLE_HEIGHT_MM = 80.0   # ankle joint above the floor when standing
YUP_TO_ZUP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # (x, y, z)_Yup -> (x, -z, y)


def read_bvh_positions(path) -> tuple[np.ndarray, dict, float]:
    """World positions of every joint of a BVH file: ((F, J, 3) in file units, joint index, frame time s).
    Raises DataFormatError (a ValueError) naming the file on a malformed BVH, FileNotFoundError if absent."""
    import pybvh
    path = require_file(path, "BVH file")
    try:
        b = pybvh.read_bvh_file(str(path))
        P = b.joint_positions()
    except Exception as e:
        raise DataFormatError(f"{path}: malformed BVH ({type(e).__name__}: {e})") from e
    if P.ndim != 3 or P.shape[0] == 0 or not np.isfinite(P).all():
        raise DataFormatError(f"{path}: BVH has no frames or non-finite positions (shape {P.shape})")
    if not (np.isfinite(b.frame_time) and b.frame_time > 0):
        raise DataFormatError(f"{path}: 'Frame Time' must be a positive number of seconds, got {b.frame_time}")
    return P, dict(b.joint_index), float(b.frame_time)


def cmu_to_h36m17(P: np.ndarray, index: dict, source: str = "") -> np.ndarray:
    """(F, J, 3) Y-up cm positions of the CMU rig -> (F, 17, 3) Z-up mm posecore poses."""
    missing = [n for n in list(CMU_JOINT_MAP.values()) + ["CC_Base_Head", "CC_Base_L_Eye", "CC_Base_R_Eye",
                                                           "CC_Base_NeckTwist02"] if n not in index]
    if missing:
        raise DataFormatError(f"{source}: unknown rig, joints not found: {missing}")
    out = np.zeros((P.shape[0], 17, 3))
    for j, name in CMU_JOINT_MAP.items():
        out[:, j] = P[:, index[name]]
    head, neck2 = P[:, index["CC_Base_Head"]], P[:, index["CC_Base_NeckTwist02"]]
    l_eye, r_eye = P[:, index["CC_Base_L_Eye"]], P[:, index["CC_Base_R_Eye"]]
    eyes = 0.5 * (l_eye + r_eye)
    # head up axis u: v = eyes - head = a f + b u with f, u orthonormal and normal to the eye axis l
    a, b = EYE_FORWARD_UP
    lat = (l_eye - r_eye) / np.linalg.norm(l_eye - r_eye, axis=-1, keepdims=True)
    v = eyes - head
    cands = [(b * v + s * a * np.cross(lat, v)) / (a * a + b * b) for s in (1.0, -1.0)]
    up_ref = head - neck2
    score = [np.sum(c * up_ref, -1).mean() for c in cands]
    u = cands[int(np.argmax(score))]
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    out[:, 9] = eyes
    out[:, 10] = head + HEAD_TOP_CM * u
    out = out @ YUP_TO_ZUP.T * 10.0                       # cm, Y-up -> mm, Z-up
    floor = np.percentile(out[:, [3, 6], 2].min(1), 1) - ANKLE_HEIGHT_MM
    out[:, :, 2] -= floor
    if not np.isfinite(out).all():
        raise DataFormatError(f"{source}: non-finite joint positions after conversion (coincident eye joints?)")
    check_cmu_body(out, source)
    return out.astype(np.float32)


def check_cmu_body(poses, source: str = "") -> None:
    """Plausibility of converted CMU poses (F, 17, 3) mm Z-up (:mod:`posecore.data.plausibility`): the
    legs point up (the clip is Y-up, as the rig's files are), the eyes are on the side ``left x up`` of
    the hips and shoulders (not mirrored), and the bones make an adult's height in cm."""
    check_up_axis(poses, source, "CMU rig clips are Y-up, read as Y-up")
    check_facing(poses, poses[:, 9] - 0.5 * (poses[:, 8] + poses[:, 10]), source, "the eyes",
                 "the file is mirrored or its left and right joints are exchanged")
    check_body_units(poses, source, "cm", advice=" (the CMU rig's files are in cm)")


def convert_cmu_clip(path, step: int = 3) -> tuple[np.ndarray, float]:
    """One CMU BVH clip -> ((F', 17, 3) float32 mm Z-up poses, fps) keeping every ``step``-th frame."""
    if int(step) < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    P, index, frame_time = read_bvh_positions(path)
    poses = cmu_to_h36m17(P[::step], index, source=str(path))
    return poses, 1.0 / (frame_time * step)
