"""Metrics on hand-worked values and degenerate cases; P-MPJPE against SciPy's Procrustes."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from posecore import metrics


def _pose(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 300, (n, 17, 3))


def test_mpjpe_hand_worked():
    gt = np.zeros((1, 17, 3))
    pred = np.zeros((1, 17, 3))
    pred[0, 1:, 0] = 10.0          # every non-root joint 10 mm off along x; root exact
    assert metrics.mpjpe(pred, gt) == pytest.approx(16 * 10 / 17)
    pred2 = pred + 1000.0          # a global translation is removed by root alignment
    assert metrics.mpjpe(pred2, gt) == pytest.approx(16 * 10 / 17)
    assert metrics.mpjpe(pred2, gt, root=None) == pytest.approx(np.mean(np.linalg.norm(pred2[0], axis=-1)))


def test_mpjpe_identical_and_per_sample():
    p = _pose()
    assert metrics.mpjpe(p, p) == 0.0
    e = metrics.mpjpe(p, p + np.array([0, 0, 5.0]) * (np.arange(17)[:, None] > 0), reduction="none")
    assert e.shape == (4,) and np.allclose(e, 5 * 16 / 17)


def test_p_mpjpe_invariances():
    p = _pose(1)
    R = Rotation.from_euler("xyz", [30, -50, 120], degrees=True).as_matrix()
    moved = 1.7 * p @ R.T + np.array([100.0, -20, 3000])
    assert metrics.p_mpjpe(moved, p) == pytest.approx(0.0, abs=1e-6)
    # a reflection is not a rotation: the mirrored pose must keep a positive error
    mirrored = p * np.array([-1.0, 1, 1])
    assert metrics.p_mpjpe(mirrored, p) > 10.0


def test_p_mpjpe_matches_scipy():
    from scipy.linalg import orthogonal_procrustes
    rng = np.random.default_rng(3)
    gt = rng.normal(0, 300, (5, 17, 3))
    pred = gt + rng.normal(0, 40, gt.shape)
    ours = metrics.p_mpjpe(pred, gt, reduction="none")
    for i in range(5):
        a, b = pred[i] - pred[i].mean(0), gt[i] - gt[i].mean(0)
        R, s = orthogonal_procrustes(a, b)          # a @ R ~ b; det(R) = +1 for this noise level
        assert np.linalg.det(R) > 0
        scale = s / (a ** 2).sum()
        ref = np.linalg.norm(scale * a @ R - b, axis=-1).mean()
        assert ours[i] == pytest.approx(ref, rel=1e-9)


def test_n_mpjpe_removes_scale_only():
    p = _pose(2)
    assert metrics.n_mpjpe(2.5 * p, p) == pytest.approx(0.0, abs=1e-9)
    R = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    assert metrics.n_mpjpe(p @ R.T, p) > 1.0


def test_torch_path_is_differentiable():
    p = torch.tensor(_pose(4), requires_grad=True)
    loss = metrics.mpjpe(p, torch.zeros_like(p))
    loss.backward()
    assert isinstance(loss, torch.Tensor) and p.grad is not None


def test_per_action_merges_subactions():
    errors = np.array([10.0, 20.0, 30.0, 50.0])
    actions = np.array(["Directions 1", "Directions 2", "Eating", "Eating 2"])
    out = metrics.per_action(errors, actions)
    assert out == {"Directions": 15.0, "Eating": 40.0, "Average": 27.5}


def test_pck_auc_hand_worked():
    gt = np.zeros((1, 17, 3))
    pred = gt.copy()
    pred[0, 1:8, 0] = 100.0        # joints 1..7 off by 100 mm (7 is not an evaluation joint)
    pred[0, 8:, 0] = 200.0         # joints 8..16 off by 200 mm
    # evaluation joints: 1-6 (6 at 100 mm), 8, 10-16 (8 at 200 mm) -> 6/14 within 150 mm
    assert metrics.pck3d(pred, gt) == pytest.approx(100 * 6 / 14)
    # AUC: thresholds 0..150 step 5; 100 mm joints count from 100 on (11 of 31 thresholds)
    assert metrics.auc3d(pred, gt) == pytest.approx(100 * 6 / 14 * 11 / 31)
    assert metrics.auc3d(gt, gt) == pytest.approx(100.0)


def test_pckh_hand_worked():
    gt = np.zeros((2, 17, 2))
    pred = gt.copy()
    pred[0, :, 0] = 4.0            # sample 0: error 4 px, head 10 -> threshold 5 -> all hit
    pred[1, :, 0] = 6.0            # sample 1: error 6 px -> miss
    vis = np.ones((2, 17), bool)
    vis[1, :10] = False
    assert metrics.pckh(pred, gt, np.array([10.0, 10.0]), vis) == pytest.approx(100 * 17 / 24)
    with pytest.raises(ValueError, match="head_size"):
        metrics.pckh(pred, gt, np.array([10.0, 0.0]))


def test_symmetry_error():
    p = np.zeros((1, 17, 3))
    p[0, 12] = [0, 300, 0]; p[0, 11] = [0, 0, 0]      # left upper arm 300
    p[0, 14] = [0, 0, 0]; p[0, 15] = [0, 280, 0]      # right upper arm 280
    out = metrics.symmetry_error(p)
    assert out["upper_arm"] == pytest.approx(20.0)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        metrics.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    bad = np.zeros((2, 17, 3)); bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.p_mpjpe(bad, np.zeros((2, 17, 3)))
    with pytest.raises(ValueError, match="reduction"):
        metrics.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), reduction="sum")
