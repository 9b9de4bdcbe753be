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
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .. import geometric_search as gs
from ..camera import project
from .martinez import MartinezConfig, MartinezNet, lifter_config

J2 = 17 * 2                                                          # a flattened 2D pose


@dataclass
class WangConfig:
    dx: float = 500.0                                                # baseline of the virtual stereo pair, mm
    net: MartinezConfig = field(default_factory=MartinezConfig)     # both subnetworks' size and schedule
    gs_method: str = "closed_form"                                   # or 'scan' (the paper's 1 mm search)

    @classmethod
    def for_profile(cls, profile: str) -> "WangConfig":
        return cls(net=lifter_config(profile))


def right_view(poses_3d, intrinsics, dx: float) -> np.ndarray:
    """Ground truth of the synthesis net (Eq. 1): (N, 17, 3) mm -> (N, 17, 2) px in a camera moved
    ``dx`` mm along its X axis (same intrinsics, no distortion)."""
    p = np.asarray(poses_3d, np.float64)
    assert p.ndim == 3 and p.shape[1:] == (17, 3), f"right_view: expected (N, 17, 3), got {p.shape}"
    return project(p - np.array([dx, 0.0, 0.0]), np.asarray(intrinsics, np.float64)).astype(np.float32)


class WangLifter:
    """The trained generator: ``synthesise``, ``reconstruct`` and ``generate`` (with geometric search)."""

    def __init__(self, cfg: WangConfig, synth=None, recon=None):
        from ..lifting import Standardised
        n = cfg.net
        self.cfg = cfg
        self.synth = synth or Standardised(MartinezNet(_sized(n, J2, J2)), J2, J2)
        self.recon = recon or Standardised(MartinezNet(_sized(n, 2 * J2, n.out_features)), 2 * J2, n.out_features)

    def synthesise(self, poses_2d) -> np.ndarray:
        """Left-view (N, 17, 2) px -> synthesised right view (N, 17, 2) px."""
        from ..lifting import check_2d, predict
        p = check_2d(poses_2d)
        return predict(self.synth, p.reshape(len(p), J2)).reshape(len(p), 17, 2)   # (N, 34) -> (N, 17, 2)

    def reconstruct(self, poses_2d, right_2d=None) -> np.ndarray:
        """Left view (+ right view, synthesised if None) -> root-relative 3D (N, 17, 3) mm."""
        from ..lifting import check_2d, from_output, predict
        p = check_2d(poses_2d)
        r = self.synthesise(p) if right_2d is None else check_2d(right_2d, "right_2d")
        x = np.concatenate([p.reshape(len(p), J2), r.reshape(len(p), J2)], 1)        # (N, 68)
        return from_output(predict(self.recon, x))

    def generate(self, poses_2d, intrinsics, method=None, **kw) -> np.ndarray:
        """The label generator: absolute camera-space 3D poses (N, 17, 3) mm by geometric search."""
        rel = self.reconstruct(poses_2d)
        return gs.geometric_search(rel, poses_2d, intrinsics, method or self.cfg.gs_method, **kw)[0]


def _sized(n: MartinezConfig, n_in: int, n_out: int) -> MartinezConfig:
    return MartinezConfig(**{**asdict(n), "in_features": n_in, "out_features": n_out})


def train_wang(train_set, cfg: WangConfig, *, seed: int = 0, name: str = "wang", progress: bool = True):
    """Train both subnetworks on the 3D-labelled samples of ``train_set``. Returns (WangLifter, histories)."""
    from ..lifting import check_2d, to_target, train_regressor
    s = train_set[train_set.has_3d]
    left = check_2d(s.poses_2d).reshape(len(s), J2)                                 # (N, 34)
    right = right_view(s.poses_3d, s.intrinsics, cfg.dx).reshape(len(s), J2)        # (N, 34)
    lifter = WangLifter(cfg)
    meta = {"dataset": s.meta.get("dataset", ""), "dx": cfg.dx}
    h_syn = train_regressor(lifter.synth, left, right, _sized(cfg.net, J2, J2), seed=seed, name=f"{name}-synth",
                            config=meta, progress=progress)
    x = np.concatenate([left, lifter.synthesise(s.poses_2d).reshape(len(s), J2)], 1)  # frozen synthesis
    y = to_target(s.poses_3d)
    h_rec = train_regressor(lifter.recon, x, y, _sized(cfg.net, 2 * J2, y.shape[1]), seed=seed + 1,
                            name=f"{name}-recon", config=meta, progress=progress)
    return lifter, {"synth": h_syn, "recon": h_rec}


def export_config(cfg: WangConfig) -> dict:
    return asdict(cfg)


def lift_from_export(blob: dict, poses_2d, intrinsics=None) -> np.ndarray:
    """For :func:`posecore.lifting.lift` (kind 'wang'): with intrinsics the absolute camera-space pose
    after geometric search, without them the root-relative reconstruction, (N, 17, 3) mm."""
    c = dict(blob["config"])
    cfg = WangConfig(dx=c["dx"], net=MartinezConfig(**c["net"]), gs_method=c["gs_method"])
    lifter = WangLifter(cfg)
    lifter.synth.load_state_dict(blob["models"]["synth"])
    lifter.recon.load_state_dict(blob["models"]["recon"])
    if intrinsics is None:
        return lifter.reconstruct(poses_2d)
    return lifter.generate(poses_2d, intrinsics).astype(np.float32)


def lift(poses_2d, intrinsics=None, checkpoint=None) -> np.ndarray:
    """2D poses (N, 17, 2) px (+ intrinsics for absolute depth) -> 3D (N, 17, 3) mm."""
    from .. import lifting
    return lifting.lift(poses_2d, intrinsics, checkpoint=checkpoint or lifting.default_export("wang"))
