"""Wang et al. 2019, "Generalizing Monocular 3D Human Pose Estimation in the Wild" (the lifting half:
stereoscopic view synthesis, 3D reconstruction and geometric search, used to generate 3D labels for
2D-only in-the-wild data).

1. View synthesis: a Martinez MLP maps the left-view 2D pose (17 x 2 px) to the right-view 2D pose of a
   virtual camera moved ``dx`` mm to the right (Eq. 1). Its ground truth: the 3D joints shifted by -dx
   along the camera X axis, projected with the same intrinsics.
2. Reconstruction: a second Martinez MLP maps [left, synthesised right] (68) to the root-relative 3D
   pose (16 x 3 mm); trained with the synthesis net frozen (its outputs are the inputs).
3. Geometric search (Eqs. 4-5, :mod:`posecore.geometric_search`): the root depth that makes the 3D pose
   reproject onto the given 2D pose, then x, y back-projected from the 2D pose.

``stereo='disparity'`` (ours, not the paper's): the synthesis net predicts the disparity left - right
instead of the right view, and the reconstruction net reads [left, disparity]. The depth signal is the
joints' disparity differences (a few px); with the paper's [left, right] input, per-coordinate
standardisation of two views that differ by a nearly constant shift whitens that signal away.

This file holds the networks and the pure maths; training is :mod:`posecore.recipes.wang`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .. import geometric_search as gs
from ..camera import project
from .lifter import Standardised, check_2d, from_output, lifter_input, predict
from .martinez import MartinezConfig, MartinezNet

J2 = 17 * 2                                                          # a flattened 2D pose


@dataclass
class WangConfig:
    dx: float = 500.0                                                # baseline of the virtual stereo pair, mm
    net: MartinezConfig = field(default_factory=MartinezConfig)     # both subnetworks' size and schedule
    gs_method: str = "closed_form"                                   # or 'scan' (the paper's 1 mm search)
    norm: str = "pixel"                                              # 2D inputs: 'pixel' (paper) or 'camera'
    stereo: str = "views"                                            # 'views' (paper) or 'disparity', below

    def __post_init__(self):
        if isinstance(self.net, dict):                               # from an exported file
            self.net = MartinezConfig(**self.net)
        if self.stereo not in ("views", "disparity"):
            raise ValueError(f"WangConfig.stereo must be 'views' or 'disparity', got {self.stereo!r}")


def right_view(poses_3d, intrinsics, dx: float) -> np.ndarray:
    """Ground truth of the synthesis net (Eq. 1): (N, 17, 3) mm -> (N, 17, 2) px in a camera moved
    ``dx`` mm along its X axis (same intrinsics, no distortion)."""
    p = np.asarray(poses_3d, np.float64)
    assert p.ndim == 3 and p.shape[1:] == (17, 3), f"right_view: expected (N, 17, 3), got {p.shape}"
    return project(p - np.array([dx, 0.0, 0.0]), np.asarray(intrinsics, np.float64)).astype(np.float32)


def sized(n: MartinezConfig, n_in: int, n_out: int) -> MartinezConfig:
    """The subnetwork config: ``n`` with other input / output sizes."""
    return MartinezConfig(**{**asdict(n), "in_features": n_in, "out_features": n_out})


class WangLifter:
    """The trained generator: ``synthesise``, ``reconstruct`` and ``generate`` (with geometric search).
    Inputs are 2D poses in px; with ``cfg.norm == 'camera'`` the networks see them normalised by the
    intrinsics (then every call needs ``intrinsics``) and the synthesised right view is returned in px."""

    def __init__(self, cfg: WangConfig, synth=None, recon=None):
        n = cfg.net
        self.cfg = cfg
        self.synth = synth or Standardised(MartinezNet(sized(n, J2, J2)), J2, J2)
        self.recon = recon or Standardised(MartinezNet(sized(n, 2 * J2, n.out_features)), 2 * J2, n.out_features)

    def _x(self, poses_2d, intrinsics):
        return lifter_input(poses_2d, intrinsics, self.cfg.norm)                     # (N, 34)

    def _to_px(self, r, intrinsics):
        if self.cfg.norm == "pixel":
            return r
        K = np.broadcast_to(np.asarray(intrinsics, np.float32), (len(r), 4))[:, None]  # (N, 1, 4)
        return (r * K[..., :2] + K[..., 2:]).astype(np.float32)

    def synthesise(self, poses_2d, intrinsics=None) -> np.ndarray:
        """Left-view (N, 17, 2) px -> synthesised right view (N, 17, 2) px."""
        x = self._x(poses_2d, intrinsics)
        out = predict(self.synth, x)                                                 # (N, 34)
        r = (x - out if self.cfg.stereo == "disparity" else out).reshape(len(x), 17, 2)  # (N, 34) -> (N, 17, 2)
        return self._to_px(r, intrinsics)

    def second_input(self, left, right):
        """The reconstruction net's second half from flattened (N, 34) left and right views (input units)."""
        return left - right if self.cfg.stereo == "disparity" else right

    def reconstruct(self, poses_2d, right_2d=None, intrinsics=None) -> np.ndarray:
        """Left view (+ right view in px, synthesised if None) -> root-relative 3D (N, 17, 3) mm."""
        left = self._x(poses_2d, intrinsics)
        if right_2d is None:
            second = predict(self.synth, left)                                        # (N, 34)
        else:
            second = self.second_input(left, self._x(check_2d(right_2d, "right_2d"), intrinsics))
        return from_output(predict(self.recon, np.concatenate([left, second], 1)))  # (N, 68) -> (N, 17, 3)

    def generate(self, poses_2d, intrinsics, method=None, **kw) -> np.ndarray:
        """The label generator: absolute camera-space 3D poses (N, 17, 3) mm by geometric search."""
        rel = self.reconstruct(poses_2d, intrinsics=intrinsics)
        return gs.geometric_search(rel, poses_2d, intrinsics, method or self.cfg.gs_method, **kw)[0]
