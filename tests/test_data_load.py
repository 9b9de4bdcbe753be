"""posecore.data.load / load_wild: the chapter splits of each dataset, wild data as separate parameters."""
import pytest

from posecore import data


def test_load_wild_defaults_to_the_lab_dataset_and_skips_when_absent(capsys):
    w = data.load_wild("wild_test", "synth")
    assert w is not None and w.meta["dataset"] == "posecore-synth-wild"
    assert data.load_wild("wild_test", "h36m", "/nonexistent") is None
    assert "no wild_test: dataset 'h36m' has none" in capsys.readouterr().out
    assert data.load_wild("wild_train", "h36m", "/x", wild_dataset="3dhp", wild_root="/y") is None
    assert "wild_dataset '3dhp' has none" in capsys.readouterr().out


@pytest.mark.parametrize("kw, match", [(dict(split="test"), "not a wild split"),
                                       (dict(split="wild_test", wild_dataset="coco"), "unknown wild_dataset")])
def test_load_wild_bad_arguments(kw, match):
    split = kw.pop("split")
    with pytest.raises(ValueError, match=match):
        data.load_wild(split, "synth", **kw)


def test_serves():
    assert data.serves("synth", "wild_train") and data.serves("h36m", "test")
    assert not data.serves("h36m", "wild_test") and data.serves("3dhp", "wild_test") and not data.serves("mpii", "test")
