"""Joint layouts: the 17-joint Human3.6M skeleton used everywhere in posecore, and the MPII (16) and
LSP (14) orders with index mappings from it.

Every pose array in posecore is ``(..., 17, C)`` in :data:`H36M_JOINTS` order unless a function says
otherwise; 3D poses are in millimetres, 2D poses in pixels.
"""
from __future__ import annotations

import numpy as np

# --- Human3.6M 17-joint layout (the order of VideoPose3D / Martinez et al.) -----------------------
H36M_JOINTS = (
    "pelvis",          # 0  root
    "right_hip",       # 1
    "right_knee",      # 2
    "right_ankle",     # 3
    "left_hip",        # 4
    "left_knee",       # 5
    "left_ankle",      # 6
    "spine",           # 7
    "thorax",          # 8
    "neck",            # 9  neck/nose
    "head",            # 10 head top
    "left_shoulder",   # 11
    "left_elbow",      # 12
    "left_wrist",      # 13
    "right_shoulder",  # 14
    "right_elbow",     # 15
    "right_wrist",     # 16
)
NUM_JOINTS = 17
ROOT = 0
JOINT_INDEX = {name: i for i, name in enumerate(H36M_JOINTS)}

# parent of every joint (-1 for the root); bones are (parent, child)
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONES = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)
LEFT_JOINTS = (4, 5, 6, 11, 12, 13)
RIGHT_JOINTS = (1, 2, 3, 14, 15, 16)
# index permutation that swaps left and right joints (for flip augmentation)
FLIP_PERMUTATION = tuple(
    RIGHT_JOINTS[LEFT_JOINTS.index(j)] if j in LEFT_JOINTS
    else LEFT_JOINTS[RIGHT_JOINTS.index(j)] if j in RIGHT_JOINTS else j
    for j in range(NUM_JOINTS)
)


def bone_side(bone: tuple[int, int]) -> str:
    """'left', 'right' or 'center' for a (parent, child) bone, by its child joint."""
    c = bone[1]
    return "left" if c in LEFT_JOINTS else "right" if c in RIGHT_JOINTS else "center"


# Named bones used by metrics and losses: (parent, child) in H36M order
NAMED_BONES = {
    "left_upper_arm": (11, 12), "left_lower_arm": (12, 13),
    "right_upper_arm": (14, 15), "right_lower_arm": (15, 16),
    "left_upper_leg": (4, 5), "left_lower_leg": (5, 6),
    "right_upper_leg": (1, 2), "right_lower_leg": (2, 3),
    "left_shoulder": (8, 11), "right_shoulder": (8, 14),
    "left_hip": (0, 4), "right_hip": (0, 1),
}
# left/right pairs of limbs for the symmetry error of Zhou et al. (Table 4)
SYMMETRIC_LIMBS = {
    "upper_arm": ("left_upper_arm", "right_upper_arm"),
    "lower_arm": ("left_lower_arm", "right_lower_arm"),
    "upper_leg": ("left_upper_leg", "right_upper_leg"),
    "lower_leg": ("left_lower_leg", "right_lower_leg"),
}
# bone groups of Zhou et al. ICCV'17 (Sec. 3.3): within a group the ratios l_e / l_bar_e are ~constant
ZHOU_BONE_GROUPS = {
    "arms": ("left_upper_arm", "left_lower_arm", "right_upper_arm", "right_lower_arm"),
    "legs": ("left_upper_leg", "left_lower_leg", "right_upper_leg", "right_lower_leg"),
    "shoulders": ("left_shoulder", "right_shoulder"),
    "hips": ("left_hip", "right_hip"),
}

# --- MPII (16 joints) and LSP (14 joints) -------------------------------------------------------
MPII_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
)
# H36M index of each MPII joint (MPII upper_neck ~ H36M neck, head_top ~ H36M head)
MPII_FROM_H36M = (3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13)
# MPII joints that H36M's spine (7) has no counterpart for: spine is the midpoint of pelvis and thorax
LSP_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
    "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top",
)
LSP_FROM_H36M = (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)


def h36m_to_mpii(poses: np.ndarray) -> np.ndarray:
    """(..., 17, C) H36M order -> (..., 16, C) MPII order."""
    assert poses.shape[-2] == NUM_JOINTS, f"expected 17 joints, got shape {poses.shape}"
    return poses[..., list(MPII_FROM_H36M), :]


def mpii_to_h36m(poses: np.ndarray) -> np.ndarray:
    """(..., 16, C) MPII order -> (..., 17, C) H36M order; the spine (7), which MPII lacks, is the
    midpoint of pelvis and thorax."""
    assert poses.shape[-2] == 16, f"expected 16 MPII joints, got shape {poses.shape}"
    out = np.zeros(poses.shape[:-2] + (NUM_JOINTS, poses.shape[-1]), dtype=poses.dtype)
    out[..., list(MPII_FROM_H36M), :] = poses
    out[..., 7, :] = 0.5 * (out[..., 0, :] + out[..., 8, :])
    return out


def h36m_to_lsp(poses: np.ndarray) -> np.ndarray:
    """(..., 17, C) H36M order -> (..., 14, C) LSP order."""
    assert poses.shape[-2] == NUM_JOINTS, f"expected 17 joints, got shape {poses.shape}"
    return poses[..., list(LSP_FROM_H36M), :]


def bone_lengths(poses, bones=BONES):
    """(..., 17, C) poses -> (..., len(bones)) bone lengths (same units; numpy or torch)."""
    p = [b[0] for b in bones]
    c = [b[1] for b in bones]
    d = poses[..., c, :] - poses[..., p, :]
    return (d ** 2).sum(-1) ** 0.5


def check_poses(poses, dims: int, name: str = "poses", joints: int = NUM_JOINTS):
    """Raise ValueError unless ``poses`` is a finite (..., joints, dims) array or tensor."""
    shape = tuple(poses.shape)
    if len(shape) < 2 or shape[-2] != joints or shape[-1] != dims:
        raise ValueError(f"{name}: expected shape (..., {joints}, {dims}), got {shape}")
    finite = np.isfinite(np.asarray(poses.detach().cpu() if hasattr(poses, "detach") else poses))
    if not finite.all():
        raise ValueError(f"{name}: contains {int((~finite).sum())} NaN/inf values")
    return poses
