import numpy as np
import pytest
import torch

from posecore import camera


def test_h36m_intrinsics_and_unknown_id():
    cam = camera.h36m_camera("54138969")
    assert cam.intrinsics[0] == pytest.approx(1145.0494384765625)
    with pytest.raises(ValueError, match="unknown Human3.6M camera"):
        camera.h36m_camera("123")


def test_project_pinhole_hand_worked():
    X = np.array([[100.0, -50.0, 2000.0]])
    uv = camera.project(X, np.array([1000.0, 1000.0, 500.0, 400.0]))
    assert np.allclose(uv, [[550.0, 375.0]])


def test_world_camera_roundtrip_and_torch():
    cam = camera.look_at_camera([0, 0, 1000], 30, 20, 4000, (1000, 1000), (500, 500), (1000, 1000))
    X = np.random.default_rng(0).normal(0, 500, (10, 3))
    Xc = cam.world_to_camera(X)
    assert np.allclose(camera.camera_to_world(Xc, cam.R, cam.t), X)
    assert np.allclose(camera.world_to_camera(torch.tensor(X), cam.R, cam.t).numpy(), Xc)
    # the target is on the optical axis at the given distance
    assert np.allclose(cam.world_to_camera(np.array([0.0, 0, 1000])), [0, 0, 4000], atol=1e-9)
    assert np.linalg.det(cam.R) == pytest.approx(1.0)


def test_elevation_looks_down():
    cam = camera.look_at_camera([0, 0, 0], 0, 30, 1000, (1, 1), (0, 0), (1, 1))
    centre_world = cam.t
    assert centre_world[2] == pytest.approx(500.0)     # 1000 * sin(30 deg) above the target


def test_back_project_inverts_project():
    rng = np.random.default_rng(1)
    X = rng.normal(0, 300, (5, 17, 3)) + np.array([0, 0, 4000.0])
    K = np.tile([1145.0, 1143.0, 512.0, 515.0], (5, 1))
    uv = camera.project(X, K)
    assert np.allclose(camera.back_project(uv, X[..., 2], K), X)


def test_distortion_zero_is_identity_and_nonzero_moves():
    X = np.array([[[300.0, 200.0, 2000.0]]])
    K = np.array([[1000.0, 1000.0, 500.0, 500.0]])
    assert np.allclose(camera.project(X, K, np.zeros((1, 5))), camera.project(X, K))
    d = camera.H36M_INTRINSICS["54138969"]
    D = np.array([[*d["k"], *d["p"]]])
    assert not np.allclose(camera.project(X, K, D), camera.project(X, K))


def test_random_rotation_is_rotation():
    R = camera.random_rotation(8, (0, 360), (0, 20), rng=0)
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
