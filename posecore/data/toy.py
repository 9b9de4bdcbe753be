"""A toy data source for tests and smoke runs: random plausible skeletons in front of a Human3.6M
camera (no files needed)."""
from __future__ import annotations

import numpy as np

from ..camera import H36M_INTRINSICS, project
from ..skeleton import NUM_JOINTS, PARENTS
from .dataset import PoseSet

ACTIONS = ("Walking", "Running", "Jumping", "Punching", "Bending", "Swordplay", "Washing", "WalkUneven")

_TEMPLATE = np.array([[0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0],
                      [130, 880, 0], [0, -230, 0], [0, -480, 0], [0, -580, -30], [0, -700, 0], [180, -470, 0],
                      [180, -200, 0], [180, 50, 0], [-180, -470, 0], [-180, -200, 0], [-180, 50, 0]], float)


def toy_poseset(n: int, seed: int = 0, depth=(3500.0, 6500.0), camera: str = "54138969", noise: float = 0.35):
    """``n`` random plausible skeletons (template bones with random directions and a random body scale,
    random heading) in front of a Human3.6M camera, projected without distortion: a tiny stand-in for
    the embedded benchmark in tests."""
    rng = np.random.default_rng(seed)
    bones = _TEMPLATE - _TEMPLATE[list(max(p, 0) for p in PARENTS)]           # (17, 3) parent -> child
    length = np.linalg.norm(bones, axis=1)
    d = bones[None] + noise * length[None, :, None] * rng.normal(size=(n, NUM_JOINTS, 3))
    d *= (length / np.maximum(np.linalg.norm(d, axis=2), 1e-9))[..., None] * rng.uniform(0.85, 1.15, (n, 1, 1))
    pose = np.zeros((n, NUM_JOINTS, 3))
    for j, p in enumerate(PARENTS):
        if p >= 0:
            pose[:, j] = pose[:, p] + d[:, j]
    a = rng.uniform(0, 2 * np.pi, n)
    Ry = np.stack([np.stack([np.cos(a), 0 * a, np.sin(a)], 1), np.stack([0 * a, 1 + 0 * a, 0 * a], 1),
                   np.stack([-np.sin(a), 0 * a, np.cos(a)], 1)], 1)           # (n, 3, 3) about camera y
    root = np.stack([rng.uniform(-400, 400, n), rng.uniform(-200, 200, n), rng.uniform(*depth, n)], 1)
    pose = pose @ Ry.transpose(0, 2, 1) + root[:, None]
    c = H36M_INTRINSICS[camera]
    K = np.array([*c["f"], *c["c"]], np.float32)
    return PoseSet.create(project(pose, K), pose, K, camera=camera, subject="toy",
                          action=np.array(ACTIONS)[rng.integers(0, len(ACTIONS), n)],
                          meta={"dataset": "posecore-toy", "split": "toy"})
