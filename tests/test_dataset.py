import numpy as np
import pytest

from posecore.data import PoseSet, concat, load


def _set(n=5):
    rng = np.random.default_rng(0)
    return PoseSet.create(rng.normal(0, 100, (n, 17, 2)), rng.normal(0, 100, (n, 17, 3)),
                          [1000, 1000, 500, 500], subject="A", action=["Walking"] * n, scene="lab",
                          meta={"dataset": "unit"})


def test_roundtrip_subset_concat(tmp_path):
    ps = _set()
    path = ps.save(tmp_path / "a.npz")
    back = PoseSet.load(path)
    assert np.array_equal(back.poses_3d, ps.poses_3d) and back.meta["dataset"] == "unit"
    assert len(ps[ps.frame > 1]) == 3 and len(ps.where(subject="A")) == 5
    assert len(concat([ps, ps])) == 10
    hidden = ps.hide_3d()
    assert not hidden.has_3d.any() and np.isnan(hidden.poses_3d).all() and ps.has_3d.all()


def test_validation_errors(tmp_path):
    with pytest.raises(ValueError, match="poses_2d"):
        PoseSet.create(np.zeros((3, 16, 2)))
    bad = np.zeros((3, 17, 2)); bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PoseSet.create(bad)
    with pytest.raises(FileNotFoundError, match="not found"):
        PoseSet.load(tmp_path / "missing.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="corrupt"):
        PoseSet.load(tmp_path / "corrupt.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a PoseSet"):
        PoseSet.load(tmp_path / "other.npz")


def test_load_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset 'h36'"):
        load("h36", "train")
    with pytest.raises(ValueError, match="unknown split"):
        load("synth", "validation")
    with pytest.raises(ValueError, match="data_root"):
        load("h36m", "train")


def test_load_maps_chapter_splits_to_real_readers(tmp_path):
    from posecore.data import fixtures
    fixtures.write_h36m_npz(tmp_path / "h36m", subjects=("S1", "S9"), n_frames=10)
    ps = load("h36m", "test", tmp_path / "h36m", cache_dir=tmp_path / "cache")
    assert set(ps.subject) == {"S9"} and ps.meta["dataset"] == "h36m"
    with pytest.raises(ValueError, match="no 'wild_test' split"):
        load("h36m", "wild_test", tmp_path / "h36m")
