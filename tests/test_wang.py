"""Wang et al.: right-view ground truth (Eq. 1), the trained pipeline with geometric search, lift()."""
import numpy as np
import pytest
import torch

from posecore import api
from posecore.data.toy import toy_poseset
from posecore.models import wang
from posecore.recipes import wang as recipe
from posecore.models.martinez import MartinezConfig

torch.set_num_threads(1)  # 2 shared CPU cores: multi-threaded BatchNorm stalls under load


def test_right_view_is_a_horizontal_disparity():
    data = toy_poseset(20, seed=5)
    r = wang.right_view(data.poses_3d, data.intrinsics, 500.0)
    disparity = data.poses_2d[..., 0] - r[..., 0]
    expected = data.intrinsics[:, None, 0] * 500.0 / data.poses_3d[..., 2]    # f dx / Z
    np.testing.assert_allclose(disparity, expected, rtol=1e-4)
    np.testing.assert_allclose(r[..., 1], data.poses_2d[..., 1], atol=1e-3)
    assert np.allclose(wang.right_view(data.poses_3d, data.intrinsics, 0.0), data.poses_2d, atol=1e-3)


def test_pipeline_trains_generates_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    data = toy_poseset(64, seed=4)
    cfg = wang.WangConfig(net=MartinezConfig(width=32, dropout=0.0, batch_size=32, num_steps=40, decay_steps=1000))
    lifter, hist = recipe.train_wang(data, cfg, seed=0, progress=False)
    for h in hist.values():
        assert h[-1]["loss"] < h[0]["loss"]
    right = lifter.synthesise(data.poses_2d)
    assert right.shape == (64, 17, 2)
    rel = lifter.reconstruct(data.poses_2d)
    assert rel.shape == (64, 17, 3) and np.all(rel[:, 0] == 0)
    absolute = lifter.generate(data.poses_2d, data.intrinsics)
    assert absolute.shape == (64, 17, 3) and (absolute[..., 2] > 0).all()
    path = api.export(tmp_path / "w.pt", "wang", {"synth": lifter.synth, "recon": lifter.recon}, cfg)
    np.testing.assert_allclose(api.lift(data.poses_2d, data.intrinsics, checkpoint=path), absolute, atol=1e-2)
    np.testing.assert_allclose(api.lift(data.poses_2d, checkpoint=path), rel, atol=1e-3)
    with pytest.raises(ValueError, match="intrinsics"):
        api.lift(data.poses_2d, np.full(4, np.nan), checkpoint=path)
    with pytest.raises(ValueError, match="NaN"):
        bad = data.poses_2d.copy(); bad[1, 2, 1] = np.inf
        api.lift(bad, checkpoint=path)


@pytest.mark.parametrize("stereo, norm", [("disparity", "pixel"), ("views", "camera"), ("disparity", "camera")])
def test_disparity_and_camera_variants_train_and_round_trip(tmp_path, monkeypatch, stereo, norm):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    data = toy_poseset(64, seed=4)
    cfg = wang.WangConfig(net=MartinezConfig(width=32, dropout=0.0, batch_size=32, num_steps=30, decay_steps=1000),
                          stereo=stereo, norm=norm)
    lifter, hist = recipe.train_wang(data, cfg, seed=0, progress=False)
    assert hist["synth"][-1]["loss"] < hist["synth"][0]["loss"]
    K = data.intrinsics
    right = lifter.synthesise(data.poses_2d, K)                        # always px, whatever the parameterisation
    true_right = wang.right_view(data.poses_3d, K, cfg.dx)
    assert right.shape == (64, 17, 2)
    assert np.abs(right - true_right).mean() < np.abs(data.poses_2d - true_right).mean()  # learnt the shift
    oracle, _ = recipe.train_wang(data, cfg, seed=0, oracle=True, progress=False)
    rel = oracle.reconstruct(data.poses_2d, right_2d=true_right, intrinsics=K)
    assert rel.shape == (64, 17, 3) and np.all(rel[:, 0] == 0)
    path = api.export(tmp_path / "w.pt", "wang", {"synth": lifter.synth, "recon": lifter.recon}, cfg, norm=norm)
    np.testing.assert_allclose(api.lift(data.poses_2d, K, checkpoint=path), lifter.generate(data.poses_2d, K), atol=1e-2)
