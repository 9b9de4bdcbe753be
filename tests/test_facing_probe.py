"""The facing probe of chapter 00 (posecore.recipes.facing_probe, posecore.models.facing)."""
import numpy as np
import pytest
import torch

from posecore import data
from posecore.models.facing import FacingNet
from posecore.recipes import facing_probe


def test_facing_net_shapes():
    assert FacingNet()(torch.rand(3, 3, 64, 64)).shape == (3,)
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
