"""Generic BVH reader (pybvh forward kinematics + joint-name mapping) on a closed-form fixture."""
import json

import numpy as np
import pytest

from posecore.camera import camera_to_world, look_at_camera, project
from posecore.data import bvh_reader as br
from posecore.data import fixtures as fx
from posecore.data.real import load_dataset


@pytest.fixture()
def bvh_dir(tmp_path):
    d = tmp_path / "mocap"
    path, root_pos, yaw = fx.write_bvh(d / "07_02.bvh", n_frames=12, mapping_path=d / "mapping.json")
    return d, path, root_pos, yaw


def expected_world_mm(root_pos, yaw):
    """posecore joints from the closed-form fixture, cm Y-up -> mm Z-up: (x, y, z) -> (x, -z, y) * 10."""
    J, E = fx.bvh_fixture_positions(root_pos, yaw)
    names = [n for n, _, _ in fx._BVH_JOINTS]
    g = lambda n: J[:, names.index(n)]  # noqa: E731
    rows = [g("Hips"), g("RightUpLeg"), g("RightLeg"), g("RightFoot"), g("LeftUpLeg"), g("LeftLeg"), g("LeftFoot"),
            0.5 * (g("Spine") + g("Spine1")), g("Spine1"), g("Head") + np.array([0, 6, 0]), E["Head"],
            g("LeftArm"), g("LeftForeArm"), g("LeftHand"), g("RightArm"), g("RightForeArm"), g("RightHand")]
    P = np.stack(rows, 1)
    return np.stack([P[..., 0], -P[..., 2], P[..., 1]], -1) * 10.0


def test_positions_units_up_axis_and_mapping(bvh_dir):
    d, path, root_pos, yaw = bvh_dir
    P, fps = br.read_bvh(path, d / "mapping.json", units="cm", up="+y")
    np.testing.assert_allclose(P, expected_world_mm(root_pos, yaw), atol=1e-3)
    assert fps == pytest.approx(120.0)
    assert (P[:, 10, 2] > P[:, 0, 2]).all() and (P[:, 3, 2] < P[:, 0, 2]).all()  # Z-up: head above pelvis
    Pm, _ = br.read_bvh(path, d / "mapping.json", units="m", up="y", stride=3)
    np.testing.assert_allclose(Pm, P[::3] * 100.0, rtol=1e-9)  # m vs cm: x100, stride 3


def test_virtual_camera_and_projection(bvh_dir):
    d, path, root_pos, yaw = bvh_dir
    ps = load_dataset("bvh", "all", d, azimuths=(0.0, 90.0), elevation=15.0, distance=5000.0)
    assert ps.meta["dataset"] == "bvh" and ps.meta["units"] == "cm" and len(ps) == 24
    assert set(ps.camera) == {"virtual_az0", "virtual_az90"} and set(ps.subject) == {"07"}
    assert set(ps.sequence) == {"07_02.bvh"} and ps.has_3d.all()
    uv = project(ps.poses_3d.astype(float), ps.intrinsics.astype(float))
    assert np.abs(uv - ps.poses_2d).max() < 1e-2
    P = expected_world_mm(root_pos, yaw)
    cam = look_at_camera(P[:, 0].mean(0), 90.0, 15.0, 5000.0, (1145.0, 1145.0), (500.0, 500.0), (1000, 1000))
    sel = ps.where(camera="virtual_az90")
    np.testing.assert_allclose(camera_to_world(sel.poses_3d.astype(float), cam.R, cam.t), P, atol=0.05)
    assert (ps.poses_3d[..., 2] > 3000).all()


def test_up_rotation_is_proper():
    for up in ("+x", "-x", "+y", "-y", "+z", "-z"):
        R = br.up_rotation(up)
        u = np.zeros(3)
        u["xyz".index(up[1])] = 1 if up[0] == "+" else -1
        np.testing.assert_allclose(R @ u, [0, 0, 1], atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)


def test_splits_by_file(tmp_path):
    for i in range(6):
        fx.write_bvh(tmp_path / f"s_{i:02d}.bvh", n_frames=3)
    (tmp_path / "mapping.json").write_text(json.dumps(fx.BVH_FIXTURE_MAPPING))
    tr, te = br.load_bvh(tmp_path, "train"), br.load_bvh(tmp_path, "test")
    assert set(te.sequence) == {"s_04.bvh"} and len(set(tr.sequence)) == 5


def test_cache_and_data_untouched(bvh_dir, tmp_path):
    d = bvh_dir[0]
    before = {p: p.stat().st_mtime_ns for p in d.rglob("*")}
    a = load_dataset("bvh", "all", d, cache_dir=tmp_path / "c")
    b = load_dataset("bvh", "all", d, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1
    np.testing.assert_array_equal(a.poses_2d, b.poses_2d)
    assert {p: p.stat().st_mtime_ns for p in d.rglob("*")} == before


# --- malformed inputs ---------------------------------------------------------------------------------
def test_error_mapping_missing_joint(bvh_dir):
    d, path, *_ = bvh_dir
    bad = dict(fx.BVH_FIXTURE_MAPPING)
    del bad["left_wrist"]
    with pytest.raises(ValueError, match=r"missing \['left_wrist'\]"):
        br.read_bvh(path, bad)


def test_error_mapping_unknown_bvh_joint(bvh_dir):
    d, path, *_ = bvh_dir
    bad = dict(fx.BVH_FIXTURE_MAPPING, thorax="Chest2")
    with pytest.raises(ValueError, match="BVH joint 'Chest2' not in"):
        br.read_bvh(path, bad)
    with pytest.raises(ValueError, match="has no end site"):
        br.read_bvh(path, dict(fx.BVH_FIXTURE_MAPPING, head="end of Neck"))


def test_error_mapping_file(bvh_dir, tmp_path):
    d, path, *_ = bvh_dir
    (tmp_path / "m.json").write_text("{\"pelvis\": ")
    with pytest.raises(ValueError, match="m.json: not valid JSON"):
        br.read_bvh(path, tmp_path / "m.json")
    lone = tmp_path / "no_mapping"
    fx.write_bvh(lone / "a.bvh", n_frames=2)
    with pytest.raises(FileNotFoundError, match="mapping.json does not exist"):
        br.load_bvh(lone)


def test_error_truncated_bvh(bvh_dir, tmp_path):
    d, path, *_ = bvh_dir
    text = path.read_text()
    (tmp_path / "cut.bvh").write_text(text[: len(text) // 3])
    with pytest.raises(ValueError, match="cut.bvh: not a readable BVH file"):
        br.read_bvh(tmp_path / "cut.bvh", d / "mapping.json")


def test_error_nan_motion(bvh_dir, tmp_path):
    d, path, *_ = bvh_dir
    lines = path.read_text().splitlines()
    lines[-1] = " ".join(["nan"] + lines[-1].split()[1:])
    (tmp_path / "nan.bvh").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="nan.bvh: (non-finite|not a readable)"):
        br.read_bvh(tmp_path / "nan.bvh", d / "mapping.json")


def test_error_bad_parameters(bvh_dir):
    d, path, *_ = bvh_dir
    with pytest.raises(ValueError, match="unknown units 'furlong'"):
        br.read_bvh(path, d / "mapping.json", units="furlong")
    with pytest.raises(ValueError, match="up axis must be"):
        br.read_bvh(path, d / "mapping.json", up="sideways")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("bvh", "all", d / "nope")
