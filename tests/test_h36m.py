"""Human3.6M readers on synthetic fixtures written in the exact VideoPose3D-npz and CDF formats."""
import os
import warnings

import numpy as np
import pytest

from posecore.camera import H36M_CAMERA_IDS, camera_to_world, project
from posecore.data import fixtures as fx
from posecore.data import h36m
from posecore.data.real import load_dataset

RAW17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # the spec's raw indices


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@pytest.fixture(scope="module")
def npz_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("h36m_npz")
    p3, p2, pos3 = fx.write_h36m_npz(d, subjects=("S1", "S5", "S9", "S11"), n_frames=23)
    return d, p3, p2, pos3


def snapshot(folder):
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_canonical_action():
    ca = h36m.canonical_action
    assert ca("Directions 1") == "Directions" and ca("Eating 2") == "Eating"
    assert ca("Photo") == ca("Photo 1") == ca("TakingPhoto") == "TakingPhoto"
    assert ca("WalkDog 1") == ca("WalkingDog") == "WalkingDog"
    assert ca("WalkTogether 2") == "WalkTogether" and ca("Walking") == "Walking"
    assert ca("SittingDown 2") == "SittingDown" and ca("Sitting 1") == "Sitting"
    assert {ca(a) for a in fx.H36M_SEQUENCES} == set(h36m.ACTIONS) and len(h36m.ACTIONS) == 15
    with pytest.raises(ValueError, match="Dancing"):
        ca("Dancing 1")


def test_npz_joint_order_units_and_projection(npz_pair):
    d, p3, p2, pos3 = npz_pair
    ps = quiet(h36m.load_h36m_npz, p3, p2, "train", stride=1)
    assert ps.meta["dataset"] == "h36m" and ps.meta["split"] == "train" and "Human3.6M" in ps.meta["source"]
    assert set(ps.subject) == {"S1", "S5"} and set(ps.camera) == set(H36M_CAMERA_IDS)
    # 3D: back to world with the published extrinsics == the fixture's metres x 1000, spec joint order
    for cam in h36m.h36m_cameras("S5"):
        sel = ps.where(subject="S5", sequence="Eating 2", camera=cam.name)
        world = camera_to_world(sel.poses_3d.astype(float), cam.R, cam.t)
        np.testing.assert_allclose(world, pos3["S5"]["Eating 2"][:, RAW17] * 1000.0, atol=0.05)
        assert set(sel.action) == {"Eating"} and (sel.frame == np.arange(23)).all()
    # 2D from the file == projection (with distortion) of the converted 3D within 1 px
    uv = project(ps.poses_3d.astype(float), ps.intrinsics.astype(float), ps.distortion.astype(float))
    assert np.abs(uv - ps.poses_2d).max() < 1.0
    # the head top (10) is the highest joint, depth is positive and metric (mm, several metres)
    assert (ps.poses_3d[..., 2] > 2000).all()
    assert (ps.poses_2d[:, 10, 1] < ps.poses_2d[:, 0, 1]).all()


def test_npz_without_2d_projects_like_videopose3d(npz_pair):
    d, p3, p2, pos3 = npz_pair
    with_file = quiet(h36m.load_h36m_npz, p3, p2, "test", stride=1)
    projected = quiet(h36m.load_h36m_npz, p3, None, "test", stride=1)
    assert projected.meta["poses_2d"].startswith("projected")
    assert np.abs(with_file.poses_2d - projected.poses_2d).max() < 1.0
    np.testing.assert_array_equal(with_file.poses_3d, projected.poses_3d)


def test_splits_and_subsampling(npz_pair):
    d, p3, p2, _ = npz_pair
    tr = quiet(h36m.load_h36m_npz, p3, p2, "train")
    te = quiet(h36m.load_h36m_npz, p3, p2, "test")
    assert set(tr.subject) == {"S1", "S5"} and set(te.subject) == {"S9", "S11"}
    assert (tr.frame % 5 == 0).all() and tr.meta["stride"] == 5 and tr.meta["fps"] == 10
    assert len(tr) == 2 * 30 * 4 * 5  # 23 frames -> 0,5,10,15,20
    assert len(te) == 2 * 30 * 4 * 23 and te.meta["stride"] == 1
    assert (quiet(h36m.load_h36m_npz, p3, p2, "test", stride=10).frame % 10 == 0).all()
    assert h36m.SPLIT_SUBJECTS == {"train": ("S1", "S5", "S6", "S7", "S8"), "test": ("S9", "S11")}


def test_absent_actions_reported_and_corrupt_flagged(tmp_path):
    seqs = ("Directions", "Directions 1", "Photo 1", "WalkDog")
    p3, p2, _ = fx.write_h36m_npz(tmp_path, subjects=("S9", "S11"), sequences=seqs, n_frames=6)
    with pytest.warns(UserWarning, match="absent or incomplete"):
        ps = h36m.load_h36m_npz(p3, p2, "test")
    absent = ps.meta["absent"]
    assert "S11/Eating: 0 of 2 subactions" in absent and "S9/TakingPhoto: 1 of 2 subactions" in absent
    assert not any(a.startswith("S9/Directions") for a in absent)
    assert set(ps.action) == {"Directions", "TakingPhoto", "WalkingDog"}
    assert set(ps.sequence) == set(seqs)  # raw keys kept
    assert ps.meta["flagged"] and "S11/Directions/54138969" in ps.meta["flagged"][0]
    dropped = quiet(h36m.load_h36m_npz, p3, p2, "test", drop_corrupt=True)
    assert len(dropped.where(subject="S11", sequence="Directions", camera="54138969")) == 0
    assert len(dropped) == len(ps) - 6


@pytest.mark.filterwarnings("ignore:Human3.6M.*absent")
def test_length_mismatch_truncates_and_warns(tmp_path):
    p3, p2, _ = fx.write_h36m_npz(tmp_path, subjects=("S9",), sequences=("Walking 1", "Eating"), n_frames=10,
                                  length_delta=3)
    with pytest.warns(UserWarning, match=r"different 2D and 3D lengths \(24 frames"):
        ps = h36m.load_h36m_npz(p3, p2, "test")
    m = ps.meta["length_mismatches"]
    assert len(m) == 8 and m[0]["frames_3d"] == 10 and m[0]["frames_2d"] == 13 and m[0]["kept"] == 10
    assert len(ps) == 2 * 4 * 10


def test_cdf_release_mono_world_and_2d(tmp_path):
    truth = fx.write_h36m_cdf(tmp_path, subjects=("S1",), n_frames=12)
    ps = quiet(h36m.load_h36m_cdf, tmp_path, "train", subjects=["S1"], stride=1)
    assert ps.meta["format"] == "original-cdf" and ps.meta["poses_2d"] == "D2_Positions"
    assert set(ps.sequence) == {"Directions 1", "TakingPhoto", "WalkDog 1"}
    assert set(ps.action) == {"Directions", "TakingPhoto", "WalkingDog"}
    cam = h36m.h36m_cameras("S1")[2]
    sel = ps.where(sequence="WalkDog 1", camera=cam.name)
    np.testing.assert_allclose(camera_to_world(sel.poses_3d.astype(float), cam.R, cam.t),
                               truth[("S1", "WalkDog 1")], atol=0.05)
    uv = project(ps.poses_3d.astype(float), ps.intrinsics.astype(float), ps.distortion.astype(float))
    assert np.abs(uv - ps.poses_2d).max() < 1.0
    # without the mono files the world-frame D3_Positions + extrinsics give the same camera poses
    for p in (tmp_path / "S1/MyPoseFeatures/D3_Positions_mono").glob("*.cdf"):
        p.unlink()
    ps2 = quiet(h36m.load_h36m_cdf, tmp_path, "train", subjects=["S1"], stride=1)
    np.testing.assert_allclose(ps2.poses_3d, ps.poses_3d, atol=0.05)


def test_load_dataset_cache_idempotent_and_data_untouched(npz_pair, tmp_path):
    d = npz_pair[0]
    before = snapshot(d)
    cache = tmp_path / "cache"
    a = quiet(load_dataset, "h36m", "test", d, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("h36m_test_")
    stamp = files[0].stat().st_mtime_ns
    b = quiet(load_dataset, "h36m", "test", d, cache_dir=cache)  # served from the cache, not rewritten
    assert files[0].stat().st_mtime_ns == stamp and list(cache.glob("*.npz")) == files
    np.testing.assert_array_equal(a.poses_3d, b.poses_3d)
    assert (a.sequence == b.sequence).all() and b.meta["absent"] == a.meta["absent"]
    assert snapshot(d) == before  # data folder: same files, sizes and mtimes
    with pytest.raises(ValueError, match="inside data_root"):
        load_dataset("h36m", "test", d, cache_dir=d / "cache")
    assert snapshot(d) == before


# --- malformed inputs: one clear error each ---------------------------------------------------------
def test_error_missing_key(tmp_path):
    np.savez(tmp_path / "data_3d_h36m.npz", positions=np.zeros(3))
    with pytest.raises(ValueError, match=r"data_3d_h36m.npz: missing key 'positions_3d'"):
        h36m.load_h36m(tmp_path, "train")


def test_error_wrong_shape(tmp_path):
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Walking": np.zeros((5, 16, 3), np.float32)}})
    with pytest.raises(ValueError, match=r"data_3d_h36m.npz: positions_3d\['S1'\]\['Walking'\] has shape \(5, 16, 3\)"):
        h36m.load_h36m(tmp_path, "train")


def test_error_wrong_2d_shape(tmp_path):
    p3, p2, _ = fx.write_h36m_npz(tmp_path, subjects=("S9",), sequences=("Walking",), n_frames=4)
    pos2 = {"S9": {"Walking": [np.zeros((4, 17, 3), np.float32)] * 4}}
    np.savez(p2, positions_2d=pos2, metadata={"num_joints": 17})
    with pytest.raises(ValueError, match=r"data_2d_h36m_gt.npz: positions_2d\['S9'\]\['Walking'\]\[0\] has shape"):
        quiet(h36m.load_h36m, tmp_path, "test")


def test_error_nan(tmp_path):
    a = fx.to_raw32(fx.synthetic_motion(4)).astype(np.float32)
    a[2, 5, 1] = np.nan
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S9": {"Walking": a}})
    with pytest.raises(ValueError, match=r"positions_3d\['S9'\]\['Walking'\] contains 1 NaN"):
        h36m.load_h36m(tmp_path, "test")


def test_error_truncated_file(tmp_path):
    p3, _, _ = fx.write_h36m_npz(tmp_path, subjects=("S9",), sequences=("Walking",), n_frames=50, with_2d=False)
    data = p3.read_bytes()
    p3.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"data_3d_h36m.npz: truncated or unreadable"):
        h36m.load_h36m(tmp_path, "test")


def test_error_wrong_subject_names(tmp_path):
    a = fx.to_raw32(fx.synthetic_motion(4)).astype(np.float32)
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"Subject9": {"Walking": a}})
    with pytest.raises(ValueError, match=r"data_3d_h36m.npz: unknown subject keys \['Subject9'\]"):
        h36m.load_h36m(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown Human3.6M subject"):
        h36m.load_h36m(tmp_path, "test", subjects=["S12"])


def test_error_unknown_action_key(tmp_path):
    a = fx.to_raw32(fx.synthetic_motion(4)).astype(np.float32)
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S9": {"Juggling 1": a}})
    with pytest.raises(ValueError, match="unknown Human3.6M action 'Juggling 1'"):
        h36m.load_h36m(tmp_path, "test")


def test_error_data_root_missing_or_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("h36m", "train", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no Human3.6M files found"):
        load_dataset("h36m", "train", tmp_path)


def test_error_unknown_dataset_and_split(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'coco'"):
        load_dataset("coco", "train", tmp_path)
    with pytest.raises(ValueError, match="unknown split 'val' for h36m"):
        load_dataset("h36m", "val", tmp_path)
    with pytest.raises(ValueError, match="embedded benchmark"):
        load_dataset("synth", "train", tmp_path)


def test_error_corrupt_cdf(tmp_path):
    fx.write_h36m_cdf(tmp_path, subjects=("S1",), sequences=("Walking 1",), n_frames=5, world=False, two_d=False)
    bad = sorted((tmp_path / "S1/MyPoseFeatures/D3_Positions_mono").glob("*.cdf"))[0]
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(ValueError, match=rf"{bad.name}: unreadable CDF"):
        quiet(h36m.load_h36m_cdf, tmp_path, "train", subjects=["S1"])


def test_cameras_match_videopose3d_quaternion_maths():
    X = fx.synthetic_motion(3) * 1000
    for s in h36m.ALL_SUBJECTS:
        for cam, (q, t) in zip(h36m.h36m_cameras(s), h36m._EXTRINSICS[s]):
            np.testing.assert_allclose(cam.world_to_camera(X), fx.vp3d_world_to_camera(X, q, t), atol=1e-3)  # mm; VP3D does not renormalise q
    assert os.path.basename(h36m.__file__) == "h36m.py"


def test_prepare_cli_writes_only_to_cache(npz_pair, tmp_path, capsys):
    from posecore.data.real import prepare_cli
    d = npz_pair[0]
    before = snapshot(d)
    paths = quiet(prepare_cli, "h36m", "test", None, ["--data-root", str(d), "--cache-dir", str(tmp_path),
                                                       "--split", "test"])
    assert len(paths) == 1 and paths[0].exists() and paths[0].parent == tmp_path
    assert "h36m/test: 5520 samples" in capsys.readouterr().out
    assert snapshot(d) == before
