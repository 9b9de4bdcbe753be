"""Martinez baseline and the shared lifting utilities: shapes, max-norm, overfitting, lift() round trip, bad input."""
import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # 2 shared CPU cores: multi-threaded BatchNorm stalls under load

from posecore import api
from posecore.data.toy import toy_poseset
from posecore.models.lifter import check_2d, from_output, lift_with, to_target
from posecore.recipes import martinez as recipe
from posecore.models.martinez import MartinezConfig, MartinezNet, apply_max_norm, max_weight_norm


def test_shapes_and_root_relative_output():
    net = MartinezNet(MartinezConfig(width=32)).eval()
    assert net(torch.zeros(5, 34)).shape == (5, 48)
    y = to_target(toy_poseset(4).poses_3d)
    assert y.shape == (4, 48)
    back = from_output(y)
    assert back.shape == (4, 17, 3) and np.all(back[:, 0] == 0)


def test_max_norm_holds_after_a_step():
    torch.manual_seed(0)
    net = MartinezNet(MartinezConfig(width=32))
    assert max_weight_norm(net) <= 1.0 + 1e-5
    opt = torch.optim.SGD(net.parameters(), lr=100.0)               # a huge step breaks the constraint
    (net(torch.randn(8, 34)) ** 2).sum().backward()
    opt.step()
    assert max_weight_norm(net) > 1.0
    apply_max_norm(net, 1.0)
    assert max_weight_norm(net) <= 1.0 + 1e-5


def test_tiny_overfit_reduces_loss_and_lift_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    data = toy_poseset(64, seed=1)
    cfg = MartinezConfig(width=64, dropout=0.0, batch_size=32, num_steps=150, decay_steps=1000)
    model, hist = recipe.train_lifter(data, cfg, seed=0, progress=False)
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    assert max_weight_norm(model.net) <= 1.0 + 1e-5
    pred = lift_with(model, data.poses_2d)
    path = api.export(tmp_path / "m.pt", "martinez", {"model": model}, cfg)
    again = api.lift(data.poses_2d, checkpoint=path)
    np.testing.assert_allclose(again, pred, atol=1e-4)
    assert again.shape == (64, 17, 3) and np.all(again[:, 0] == 0)
    # a second call loads the finished checkpoint instead of training (same weights)
    model2, _ = recipe.train_lifter(data, cfg, seed=0, progress=False)
    np.testing.assert_allclose(lift_with(model2, data.poses_2d), pred, atol=1e-4)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 16, 2)), "expected shape"),
    (np.full((3, 17, 2), np.nan), "NaN"),
    (np.full((3, 17, 2), np.inf), "NaN/inf"),
    (np.zeros((17, 2)), "expected"),
])
def test_bad_input_is_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        check_2d(bad)


def test_lift_without_export_says_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        api.lift(np.zeros((1, 17, 2)), checkpoint=tmp_path / "missing.pt")
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    monkeypatch.setattr(api, "WEIGHTS", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="run its chapter"):
        api.lift(np.zeros((1, 17, 2)), model="drover")
