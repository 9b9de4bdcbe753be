"""The facing probe of chapter 00 (posecore.recipes.facing_probe, posecore.models.facing)."""
import numpy as np
import pytest
import torch

from posecore import data
from posecore.models.facing import FacingNet
from posecore.recipes import facing_probe


def test_facing_net_shapes():
    assert FacingNet()(torch.rand(3, 3, 64, 64)).shape == (3,)
    assert FacingNet(depth=1)(torch.rand(2, 3, 32, 32)).shape == (2,)
    # depth = convolutions per stage: four stages of (stride-2 conv + depth - 1 stride-1 convs)
    convs = lambda n: sum(isinstance(m, torch.nn.Conv2d) for m in n.modules())  # noqa: E731
    assert convs(FacingNet(depth=1)) == 4 and convs(FacingNet(depth=2)) == 8
    with pytest.raises(AssertionError):
        FacingNet()(torch.rand(3, 64, 64))


def test_recolour_is_deterministic_and_keeps_shapes():
    x = torch.rand(6, 3, 8, 8)
    a, b = facing_probe.recolour(x, 3), facing_probe.recolour(x, 3)
    assert torch.equal(a, b) and not torch.equal(a, facing_probe.recolour(x, 4))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    # edges survive: where a pixel equals its neighbour in every channel, it still does
    flat = torch.zeros(1, 3, 4, 4)
    assert torch.equal(facing_probe.recolour(flat, 0)[..., 0, 0:1], facing_probe.recolour(flat, 0)[..., 1, 1:2])


def test_photometric_is_deterministic_in_range_and_greys_some():
    x = torch.rand(200, 3, 8, 8)
    a = facing_probe.photometric(x, 5)
    assert torch.equal(a, facing_probe.photometric(x, 5)) and not torch.equal(a, facing_probe.photometric(x, 6))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    grey = (a[:, 0] == a[:, 1]).all(-1).all(-1) & (a[:, 1] == a[:, 2]).all(-1).all(-1)
    assert 30 <= int(grey.sum()) <= 90          # 30 % of 200 expected


def test_erase_paints_one_flat_rectangle_in_some_crops():
    x = torch.zeros(400, 3, 24, 24) - 1         # no colour in [0, 1] equals -1: every painted pixel shows
    a = facing_probe.erase(x, 7)
    assert torch.equal(a, facing_probe.erase(x, 7))
    painted = (a != -1).any(1)                                        # (B, R, R)
    hit = painted.flatten(1).any(1)
    assert 100 <= int(hit.sum()) <= 180         # 35 % of 400 expected
    for i in torch.nonzero(hit)[:5, 0]:
        ys, xs = torch.nonzero(painted[i], as_tuple=True)
        h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        assert painted[i].sum() == h * w and 24 // 6 <= min(h, w) and max(h, w) < 24 // 2   # one rectangle
        assert (a[i][:, ys, xs] == a[i][:, ys[:1], xs[:1]]).all()                            # of one colour
    assert torch.equal(facing_probe.erase(x, 7, p=0.0), x)


def test_probe_runs_on_both_renderers_and_scores_clear_crops():
    splits = {s: data.load("synth", s) for s in ("train", "test", "wild_test")}
    cfg = facing_probe.config("smoke")
    out = facing_probe.run(cfg, splits, progress=False)
    assert set(out) == {False, True}
    for r in out.values():
        for split in ("lab_test", "wild_test"):
            assert 0 <= r[split]["accuracy"] <= 100 and r[split]["n"] == cfg.n_eval
            assert 0 < r[split]["n_clear"] <= r[split]["n"]
    assert facing_probe.config("quick").steps * facing_probe.config("quick").batch_size <= 80_000
