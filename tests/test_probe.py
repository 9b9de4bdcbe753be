"""The action probe's pure maths (posecore.models.probe): body-frame canonicalisation (hand-worked
frame, invariance to a rigid camera change, degenerate poses), windowing of clips, the MLP's shapes."""
import numpy as np
import pytest
import torch

from posecore.data.toy import toy_poseset
from posecore.models.probe import L_HIP, R_HIP, THORAX, ProbeConfig, ProbeMLP, body_frame, windows


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))                                  # a proper rotation


def test_body_frame_hand_worked():
    p = np.zeros((1, 17, 3))
    p[0, :, :] = [100.0, 200.0, 5000.0]                                   # every joint at the pelvis ...
    p[0, R_HIP] += [0.0, 0.0, 100.0]                                      # right hip 100 mm along camera z
    p[0, L_HIP] += [0.0, 0.0, -100.0]
    p[0, THORAX] += [0.0, -300.0, 50.0]                                   # thorax up (image y down), a bit forward
    b = body_frame(p)
    np.testing.assert_allclose(b[0, 0], 0, atol=1e-9)
    np.testing.assert_allclose(b[0, R_HIP], [100.0, 0, 0], atol=1e-4)    # x: left hip -> right hip
    np.testing.assert_allclose(b[0, L_HIP], [-100.0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(b[0, THORAX], [50.0, 300.0, 0], atol=1e-4)  # y towards the thorax, z = 0


def test_body_frame_invariant_to_rigid_camera_change():
    s = toy_poseset(20, seed=3)
    rng = np.random.default_rng(0)
    R, t = _rotation(rng), rng.normal(size=3) * 1000
    moved = s.poses_3d @ R.T + t
    np.testing.assert_allclose(body_frame(moved), body_frame(s.poses_3d), atol=1e-2)
    # bone lengths kept (a rotation), pelvis at the origin
    b = body_frame(s.poses_3d)
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), np.linalg.norm(s.poses_3d - s.poses_3d[:, :1], axis=-1),
                               atol=1e-2)


def test_body_frame_degenerate_and_bad_shape():
    p = toy_poseset(2, seed=1).poses_3d.copy()
    p[1, R_HIP] = p[1, L_HIP]
    with pytest.raises(ValueError, match="degenerate"):
        body_frame(p)
    b = body_frame(p, on_degenerate="camera")
    np.testing.assert_allclose(b[1], p[1] - p[1, :1], atol=1e-3)          # camera axes kept, pelvis-centred
    np.testing.assert_allclose(b[0], body_frame(p[:1])[0], atol=1e-4)
    with pytest.raises(AssertionError, match="17, 3"):
        body_frame(np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match="on_degenerate"):
        body_frame(p, on_degenerate="skip")


def test_windows_within_clips_in_frame_order():
    groups = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 7)
    frames = np.r_[np.arange(6)[::-1], np.arange(3), np.arange(7)]       # clip a stored in reverse order
    w = windows(groups, frames, length=4, stride=2)
    # a: frames 0..5 at indices 5..0 -> starts at frames 0, 2; b: too short; c: starts 0, 2
    assert w.tolist() == [[5, 4, 3, 2], [3, 2, 1, 0], [9, 10, 11, 12], [11, 12, 13, 14]]
    assert windows(groups, frames, length=8).shape == (0, 8)
    assert len(windows(groups, frames, length=1)) == 16
    with pytest.raises(ValueError, match="matching"):
        windows(groups, frames[:3])
    with pytest.raises(ValueError, match=">= 1"):
        windows(groups, frames, length=0)


def test_probe_mlp_shapes():
    net = ProbeMLP(ProbeConfig(n_in=25 * 17 * 3, n_classes=8))
    assert net(torch.zeros(4, 25 * 17 * 3)).shape == (4, 8)
    with pytest.raises(AssertionError, match="expected"):
        net(torch.zeros(4, 10))
