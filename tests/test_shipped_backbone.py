"""The 2D backbone shipped in the package (posecore/weights/backbone.pt, made by `make checkpoints`):
it is the quick profile's, it loads with weights_only, and its recorded metrics are what it scores."""
from dataclasses import asdict

import pytest
import torch

from posecore.recipes import backbone


@pytest.fixture(scope="module")
def blob():
    assert backbone.SHIPPED.is_file(), "posecore/weights/backbone.pt is missing: run `make checkpoints`"
    return torch.load(backbone.SHIPPED, map_location="cpu", weights_only=True)


def test_shipped_backbone_is_the_quick_profile(blob):
    assert blob["kind"] == "backbone"
    assert blob["config"] == asdict(backbone.config("quick")), \
        "the quick backbone configuration changed: regenerate posecore/weights/backbone.pt with `make checkpoints`"
    assert backbone.SHIPPED.stat().st_size <= 5_000_000
    assert blob["history"][-1]["step"] == blob["config"]["steps"]


def test_shipped_backbone_scores_its_recorded_metrics(blob):
    cfg = backbone.config("quick")
    r = backbone.get(cfg, progress=False)                 # loads the shipped file: no training
    assert r["source"].startswith("shipped")
    for k in ("lab", "wild"):
        assert r["eval"][k]["pckh"] == pytest.approx(blob["eval"][k]["pckh"], abs=0.5)
        assert r["eval"][k]["pair_ratio"] == pytest.approx(blob["eval"][k]["pair_ratio"], abs=0.02)


def test_shipped_backbone_carries_the_current_key(blob):
    """Its key is that of the quick configuration on today's data at today's stage versions: a bumped
    backbone or renderer version, other data or another torch minor makes it stale."""
    cfg = backbone.config("quick")
    d = backbone.load_data(cfg)
    assert blob["versions"] == backbone.STAGE.versions(), \
        "the backbone's stage version changed: regenerate posecore/weights/backbone.pt with `make checkpoints`"
    assert blob["data_id"] == d["data_id"], \
        "the rendered data changed (poses or renderer version): regenerate it with `make checkpoints`"
    assert blob["key"] == backbone.shipped_key(cfg, d["data_id"], blob["identity"]["precision"])
    assert backbone.shipped(cfg, d["data_id"]) is not None


def test_a_different_config_is_not_served_the_shipped_file(blob):
    cfg = backbone.config("quick", steps=blob["config"]["steps"] + 1)
    d = backbone.load_data(cfg)
    assert backbone.shipped(cfg, d["data_id"]) is None
    assert backbone.shipped(backbone.config("quick"), d["data_id"] + "x") is None
