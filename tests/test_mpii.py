"""MPII readers on synthetic fixtures in the official .mat (v5 struct RELEASE) and HRNet JSON formats."""
import json
import warnings

import numpy as np
import pytest

from posecore.data import fixtures as fx
from posecore.data import mpii
from posecore.data.real import load_dataset
from posecore.skeleton import MPII_FROM_H36M


@pytest.fixture(scope="module")
def mat_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpii")
    path, images = fx.write_mpii_mat(d / mpii.MAT_NAME)
    return d, path, images


def test_mat_joint_order_visibility_and_head_size(mat_file):
    d, path, images = mat_file
    ps = mpii.load_mpii_mat(path)
    people = [p for im in images for p in im]
    assert len(ps) == len(people)  # the unannotated test-image rect is skipped
    assert ps.meta["dataset"] == "mpii" and not ps.has_3d.any() and np.isnan(ps.poses_3d).all()
    for i, p in enumerate(people):
        ann = p["annotated"]
        # posecore joint MPII_FROM_H36M[k] holds MPII joint k, 0-based px (MATLAB 1-based minus 1)
        np.testing.assert_allclose(ps.poses_2d[i, list(MPII_FROM_H36M)][ann], p["joints"][ann] - 1, atol=1e-3)
        assert (ps.visible[i, list(MPII_FROM_H36M)] == ann).all()
        assert ps.visible[i, 7] == (ann[6] and ann[7])  # spine only if pelvis and thorax are annotated
        if ps.visible[i, 7]:
            np.testing.assert_allclose(ps.poses_2d[i, 7], (ps.poses_2d[i, 0] + ps.poses_2d[i, 8]) / 2, atol=1e-3)
        x1, y1, x2, y2 = p["head"]
        assert mpii.load_mpii_head_sizes(ps)[i] == pytest.approx(0.6 * np.hypot(x2 - x1, y2 - y1), abs=1e-3)
    assert (~ps.visible).sum() > 0 and ps.sequence[0] == "100000000.jpg" and ps.frame[2] == 1
    assert set(ps.action) == {"running"}


def test_json_matches_mat_and_reads_gt_valid(mat_file, tmp_path):
    _, path, images = mat_file
    ref = mpii.load_mpii_mat(path)
    fx.write_mpii_json(tmp_path / "annot", images, "valid")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    ps = load_dataset("mpii", "valid", tmp_path, cache_dir=tmp_path.parent / (tmp_path.name + "_cache"))
    np.testing.assert_allclose(ps.poses_2d, ref.poses_2d, atol=1e-2)
    assert (ps.visible == ref.visible).all() and (ps.sequence == ref.sequence).all()
    np.testing.assert_allclose(mpii.mpii_extras(ps)["head_size"], mpii.mpii_extras(ref)["head_size"], atol=1e-3)
    np.testing.assert_allclose(mpii.mpii_extras(ps)["center"], mpii.mpii_extras(ref)["center"], atol=1e-2)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_json_without_head_boxes_warns(tmp_path):
    fx.write_mpii_json(tmp_path, split="train")
    with pytest.warns(UserWarning, match="no head boxes"):
        ps = mpii.load_mpii(tmp_path, "train")
    assert np.isnan(mpii.load_mpii_head_sizes(ps)).all() and ps.meta["head_size_missing"] == len(ps)


def test_pose_set_roundtrip_keeps_extras(mat_file, tmp_path):
    ps = mpii.load_mpii_mat(mat_file[1])
    back = type(ps).load(ps.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(mpii.load_mpii_head_sizes(back), mpii.load_mpii_head_sizes(ps))


# --- malformed inputs ---------------------------------------------------------------------------------
def test_error_json_missing_key(tmp_path):
    (tmp_path / "valid.json").write_text(json.dumps([{"image": "a.jpg", "joints": [[0, 0]] * 16}]))
    with pytest.raises(ValueError, match=r"valid.json: entry 0 lacks keys \['joints_vis', 'center', 'scale'\]"):
        mpii.load_mpii(tmp_path, "valid")


def test_error_json_wrong_shape(tmp_path):
    e = dict(image="a.jpg", joints=[[0, 0]] * 14, joints_vis=[1] * 14, center=[1, 1], scale=1.0)
    (tmp_path / "train.json").write_text(json.dumps([e]))
    with pytest.raises(ValueError, match=r"train.json: entry 0 \(a.jpg\): joints has shape \(14, 2\)"):
        mpii.load_mpii(tmp_path, "train")


def test_error_json_nan(tmp_path):
    e = dict(image="a.jpg", joints=[[0, 0]] * 15 + [[float("nan"), 1]], joints_vis=[1] * 16, center=[1, 1], scale=1.0)
    (tmp_path / "train.json").write_text(json.dumps([e]))
    with pytest.raises(ValueError, match="entry 0 .*NaN"):
        mpii.load_mpii(tmp_path, "train")


def test_error_truncated_files(mat_file, tmp_path):
    data = mat_file[1].read_bytes()
    (tmp_path / mpii.MAT_NAME).write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=rf"{mpii.MAT_NAME}: unreadable or truncated"):
        mpii.load_mpii(tmp_path, "train")
    (tmp_path / "valid.json").write_text('[{"image": "a.jpg", "joi')
    with pytest.raises(ValueError, match=r"valid.json: not valid JSON"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mpii.load_mpii(tmp_path, "valid")


def test_error_mat_without_release_and_bad_split(tmp_path):
    from scipy.io import savemat
    savemat(tmp_path / mpii.MAT_NAME, {"something": np.zeros(3)})
    with pytest.raises(ValueError, match="no struct 'RELEASE'"):
        mpii.load_mpii(tmp_path, "train")
    with pytest.raises(ValueError, match="split 'train'"):
        mpii.load_mpii_mat(tmp_path / mpii.MAT_NAME, "valid")
    with pytest.raises(ValueError, match="unknown split 'test' for mpii"):
        load_dataset("mpii", "test", tmp_path)


def test_error_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("mpii", "train", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no MPII annotations found"):
        load_dataset("mpii", "train", tmp_path)
