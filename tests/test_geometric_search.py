"""Geometric search: closed form vs the 1 mm scan, exact recovery, invalid depths, bad input."""
import numpy as np
import pytest

from posecore import geometric_search as gs
from posecore.data.toy import toy_poseset


@pytest.fixture(scope="module")
def toy():
    return toy_poseset(40, seed=3)


def test_exact_pose_recovers_the_root_depth(toy):
    Z = gs.closed_form(toy.root_relative_3d, toy.poses_2d, toy.intrinsics, polish_steps=0)
    np.testing.assert_allclose(Z, toy.poses_3d[:, 0, 2], atol=0.1)
    poses, _ = gs.geometric_search(toy.root_relative_3d, toy.poses_2d, toy.intrinsics)
    np.testing.assert_allclose(poses, toy.poses_3d, atol=0.5)


def test_closed_form_matches_scan_within_1mm(toy):
    rng = np.random.default_rng(0)
    noisy = toy.root_relative_3d + rng.normal(0, 15, toy.poses_3d.shape)
    noisy[:, 0] = 0
    Zs = gs.scan(noisy, toy.poses_2d, toy.intrinsics, z_range=(2000, 8000))
    Zc = gs.closed_form(noisy, toy.poses_2d, toy.intrinsics)            # with the Gauss-Newton polish
    assert np.abs(Zc - Zs).max() <= 1.0
    e_c = gs.reprojection_error(noisy, toy.poses_2d, toy.intrinsics, Zc, squared=True)
    e_s = gs.reprojection_error(noisy, toy.poses_2d, toy.intrinsics, Zs, squared=True)
    assert np.all(e_c <= e_s + 1e-3)
    # the pure algebraic solution is close to, not exactly, the reprojection minimiser
    Za = gs.closed_form(noisy, toy.poses_2d, toy.intrinsics, polish_steps=0)
    assert np.abs(Za - Zs).max() < 200


def test_refine_uses_the_2d_pose(toy):
    rng = np.random.default_rng(1)
    noisy = toy.root_relative_3d + rng.normal(0, 30, toy.poses_3d.shape)
    noisy[:, 0] = 0
    poses, Z = gs.geometric_search(noisy, toy.poses_2d, toy.intrinsics)
    from posecore.camera import project
    np.testing.assert_allclose(project(poses, toy.intrinsics), toy.poses_2d, atol=1e-2)


def test_pose_behind_the_camera_raises(toy):
    with pytest.raises(gs.NoValidDepthError, match="behind the camera"):
        gs.closed_form(-toy.root_relative_3d, toy.poses_2d, toy.intrinsics)
    with pytest.raises(gs.NoValidDepthError):
        gs.scan(-toy.root_relative_3d[:2], toy.poses_2d[:2], toy.intrinsics[:2])
    Z = gs.closed_form(-toy.root_relative_3d, toy.poses_2d, toy.intrinsics, on_invalid="nan")
    assert np.isnan(Z).all()


def test_degenerate_2d_raises(toy):
    flat = np.repeat(toy.poses_2d[:1, :1], 17, axis=1)                # every joint on the root's pixel
    with pytest.raises(gs.NoValidDepthError):
        gs.closed_form(toy.root_relative_3d[:1], flat, toy.intrinsics[:1])


def test_bad_input(toy):
    with pytest.raises(ValueError, match="NaN"):
        p = toy.poses_2d.copy(); p[0, 3, 0] = np.nan
        gs.closed_form(toy.root_relative_3d, p, toy.intrinsics)
    with pytest.raises(ValueError, match="expected shape"):
        gs.closed_form(toy.root_relative_3d[:, :14], toy.poses_2d, toy.intrinsics)
    with pytest.raises(ValueError, match="focal"):
        gs.closed_form(toy.root_relative_3d, toy.poses_2d, np.zeros(4))
