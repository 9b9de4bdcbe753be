"""MPI-INF-3DHP test-set reader on synthetic MATLAB v7.3 (HDF5) fixtures with MATLAB's transposed layout."""
import warnings

import h5py
import numpy as np
import pytest

from posecore.camera import project
from posecore.data import fixtures as fx
from posecore.data import mpi3dhp as m
from posecore.data.real import load_dataset


@pytest.fixture(scope="module")
def ts(tmp_path_factory):
    d = tmp_path_factory.mktemp("3dhp")
    truth = fx.write_3dhp_test(d, sequences=("TS1", "TS3", "TS5"), n_frames=21)
    return d, truth


def load(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.load_3dhp(*a, **k)


def test_fixture_is_matlab_v73_layout(ts):
    d, _ = ts
    path = d / "TS1" / "annot_data.mat"
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file" and h5py.is_hdf5(path)
    with h5py.File(path) as f:
        assert f["annot2"].shape == (21, 1, 17, 2) and f["univ_annot3"].shape == (21, 1, 17, 3)
        assert f["annot3"].attrs["MATLAB_class"] == b"double"


def test_joint_mapping_scenes_valid_frames(ts):
    d, truth = ts
    with pytest.warns(UserWarning, match=r"absent .*\['TS2', 'TS4', 'TS6'\]"):
        ps = m.load_3dhp(d)
    assert ps.meta["dataset"] == "3dhp" and ps.meta["split"] == "test" and ps.has_3d.all()
    for seq in ("TS1", "TS3", "TS5"):
        t = truth[seq]
        sel = ps.where(sequence=f"{seq}/imageSequence")
        keep = np.flatnonzero(t["valid"])
        assert len(sel) == len(keep) == 18 and (sel.frame == keep).all()
        # explicit spec mapping: pelvis<-14, thorax<-1 (neck), neck/nose<-16 (head), head top<-0, spine<-15
        for h36, hp in ((0, 14), (8, 1), (9, 16), (10, 0), (7, 15), (11, 5), (16, 4), (1, 8), (6, 13)):
            np.testing.assert_allclose(sel.poses_3d[:, h36], t["univ_annot3"][keep, hp], atol=1e-2)
            np.testing.assert_allclose(sel.poses_2d[:, h36], t["annot2"][keep, hp], atol=1e-3)
        assert set(sel.scene) == {{"TS1": "plain", "TS3": "studio", "TS5": "outdoor"}[seq]}
    assert m.image_path(ps, 0) == "TS1/imageSequence/img_000001.jpg"
    assert tuple(ps.where(subject="TS5").image_size[0]) == (1920, 1080)
    assert tuple(ps.where(subject="TS1").image_size[0]) == (2048, 2048)
    assert set(ps.action) <= set(m.ACTIVITIES.values())
    assert len(m.EVAL_JOINTS_14) == 14 and not {0, 7, 9} & set(m.EVAL_JOINTS_14)


def test_projection_consistency_and_intrinsics(ts):
    d, truth = ts
    ps = load(d, universal=False, valid_only=False)
    uv = project(ps.poses_3d.astype(float), ps.intrinsics.astype(float))
    assert np.abs(uv - ps.poses_2d).max() < 1.0
    assert all(v < 1e-3 for v in ps.meta["reprojection_px"].values())
    est = m.estimate_intrinsics(truth["TS3"]["annot2"], truth["TS3"]["annot3"])
    np.testing.assert_allclose(est, m.INTRINSICS["TS1-4"][0], rtol=1e-6)


def test_cache_and_data_untouched(ts, tmp_path):
    d, _ = ts
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = load_dataset("3dhp", "test", d, cache_dir=tmp_path)
        b = load_dataset("3dhp", "test", d, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("3dhp_test_*.npz"))) == 1
    np.testing.assert_array_equal(a.poses_3d, b.poses_3d)
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file()} == before


def test_matlab_v5_resave_is_read_too(tmp_path):
    from scipy.io import savemat
    t = fx.write_3dhp_test(tmp_path / "h5", sequences=("TS2",), n_frames=6)["TS2"]
    (tmp_path / "v5" / "TS2").mkdir(parents=True)
    # MATLAB-native order: 2x17x1xN
    savemat(tmp_path / "v5/TS2/annot_data.mat", {
        "annot2": t["annot2"][:, None].transpose(3, 2, 1, 0), "annot3": t["annot3"][:, None].transpose(3, 2, 1, 0),
        "univ_annot3": t["univ_annot3"][:, None].transpose(3, 2, 1, 0), "valid_frame": t["valid"][None].astype(float),
        "activity_annotation": t["activity"][None].astype(float)})
    a, b = load(tmp_path / "h5", sequences=["TS2"]), load(tmp_path / "v5", sequences=["TS2"])
    np.testing.assert_allclose(a.poses_3d, b.poses_3d)
    np.testing.assert_allclose(a.poses_2d, b.poses_2d)


# --- malformed inputs ---------------------------------------------------------------------------------
def _write(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def test_error_missing_variable(tmp_path):
    _write(tmp_path / "TS1/annot_data.mat", annot2=np.zeros((3, 1, 17, 2)), valid_frame=np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"TS1/annot_data.mat: missing variables \['annot3'\]"):
        load(tmp_path, sequences=["TS1"])


def test_error_wrong_shape(tmp_path):
    _write(tmp_path / "TS1/annot_data.mat", annot2=np.zeros((3, 1, 14, 2)), annot3=np.zeros((3, 1, 17, 3)),
           valid_frame=np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"'annot2' has shape \(3, 1, 14, 2\)"):
        load(tmp_path, sequences=["TS1"])


def test_error_length_mismatch_and_nan(tmp_path):
    _write(tmp_path / "TS1/annot_data.mat", annot2=np.zeros((3, 1, 17, 2)), annot3=np.ones((3, 1, 17, 3)),
           valid_frame=np.ones((4, 1)))
    with pytest.raises(ValueError, match="'valid_frame' has 4 frames but annot2 has 3"):
        load(tmp_path, sequences=["TS1"])
    a3 = np.ones((3, 1, 17, 3))
    a3[1, 0, 4, 2] = np.nan
    _write(tmp_path / "TS1/annot_data.mat", annot2=np.zeros((3, 1, 17, 2)), annot3=a3, valid_frame=np.ones((3, 1)))
    with pytest.raises(ValueError, match="TS1/annot_data.mat: 3D has 1 NaN"):
        load(tmp_path, sequences=["TS1"])


def test_error_truncated(ts, tmp_path):
    data = (ts[0] / "TS1/annot_data.mat").read_bytes()
    (tmp_path / "TS1").mkdir()
    (tmp_path / "TS1/annot_data.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="TS1/annot_data.mat: (unreadable|not a readable)"):
        load(tmp_path, sequences=["TS1"])


def test_error_names_and_root(tmp_path):
    with pytest.raises(ValueError, match="unknown MPI-INF-3DHP test sequence 'TS7'"):
        load(tmp_path, sequences=["TS7"])
    with pytest.raises(ValueError, match="only split 'test'"):
        m.load_3dhp(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("3dhp", "test", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no MPI-INF-3DHP test annotations"):
        load_dataset("3dhp", "test", tmp_path)
