"""posecore.keypoints: the joint mapping, every reader (round trips from known H36M-17 poses),
auto-detection, the classic-mistake checks, missing joints, the default camera, normalisation and
its invariances, and the result / HTML writers.

Synthetic data: upright people facing the camera (their left on the image's right), projected with
a 1280 x 720 camera; pelvis, thorax and spine are set to the 2D midpoints the mapping derives, so
every joint except the head top must come back exactly. The head top is extrapolated from the face
(see the module docstring); with the realistic ears/eyes built here it is within
``HEAD_TOL = 0.25`` of the thorax-to-head-top distance.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from posecore import camera as cam
from posecore import keypoints as kp
from posecore import skeleton as sk

K0 = np.array([1000.0, 1000.0, 640.0, 360.0])
IMAGE = (1280, 720)
HEAD_TOL = 0.25
J = sk.JOINT_INDEX
_BASE = {0: (0, 0), 1: (-130, 0), 2: (-130, 450), 3: (-130, 880), 4: (130, 0), 5: (130, 450),
         6: (130, 880), 7: (0, -230), 8: (0, -480), 9: (0, -580), 10: (0, -700), 11: (180, -470),
         12: (200, -200), 13: (210, 40), 14: (-180, -470), 15: (-200, -200), 16: (-210, 40)}


def h36m_2d(n=5, seed=0, K=K0):
    """(n, 17, 2) pixel poses in H36M order: perturbed standing people facing the camera."""
    rng = np.random.default_rng(seed)
    P = np.zeros((n, 17, 3))
    for j, (x, y) in _BASE.items():
        P[:, j, :2] = (x, y)
    P[..., :2] += rng.normal(0, 25, (n, 17, 2))
    P[..., 2] += rng.normal(0, 40, (n, 17))
    P += np.stack([rng.uniform(-800, 800, n), rng.uniform(-150, 150, n), rng.uniform(3500, 6000, n)], -1)[:, None]
    uv = cam.project(P, K)
    uv[:, 0] = 0.5 * (uv[:, 1] + uv[:, 4])
    uv[:, 8] = 0.5 * (uv[:, 11] + uv[:, 14])
    uv[:, 7] = 0.5 * (uv[:, 0] + uv[:, 8])
    return uv


def _face(uv):
    """Nose, eyes (left, right), ears (left, right) for H36M poses of people facing the camera."""
    T, H = uv[:, 8], uv[:, 10]
    u = H - T
    n = np.linalg.norm(u, axis=-1, keepdims=True)
    lateral = np.stack([-u[:, 1], u[:, 0]], -1) / n   # the person's left (image +x when upright)
    eye, ear = T + 0.57 * u, T + 0.58 * u
    return (uv[:, 9], eye + 0.15 * n * lateral, eye - 0.15 * n * lateral,
            ear + 0.35 * n * lateral, ear - 0.35 * n * lateral)


def to_coco(uv):
    """(n, 17, 2) H36M -> (n, 17, 2) COCO order."""
    nose, leye, reye, lear, rear = _face(uv)
    body = [uv[:, J[name]] for name in kp.COCO17_JOINTS[5:]]
    return np.stack([nose, leye, reye, lear, rear, *body], 1)


def to_openpose(uv):
    """(n, 17, 2) H36M -> (n, 25, 2) BODY_25 order (neck = thorax, mid_hip = pelvis, feet added)."""
    nose, leye, reye, lear, rear = _face(uv)
    named = {"nose": nose, "neck": uv[:, 8], "mid_hip": uv[:, 0], "left_eye": leye, "right_eye": reye,
             "left_ear": lear, "right_ear": rear}
    for side in ("left", "right"):
        a = uv[:, J[f"{side}_ankle"]]
        named.update({f"{side}_heel": a + (0, 6), f"{side}_big_toe": a + (8, 12), f"{side}_small_toe": a + (14, 12)})
    return np.stack([named[j] if j in named else uv[:, J[j]] for j in kp.OPENPOSE25_JOINTS], 1)


def with_score(xy, score=0.9):
    return np.concatenate([xy, np.full(xy.shape[:-1] + (1,), float(score))], -1)


def coco_results(uv, per_image=2, score=0.9):
    c = with_score(to_coco(uv), score)
    return [{"image_id": 100 + i // per_image, "category_id": 1, "keypoints": c[i].ravel().tolist(),
             "score": 0.95} for i in range(len(c))]


def coco_annotations(uv):
    c = with_score(to_coco(uv), 2)
    return {"images": [{"id": 7 + i, "width": IMAGE[0], "height": IMAGE[1], "file_name": f"{i}.jpg"}
                       for i in range(len(c))],
            "annotations": [{"id": 50 + i, "image_id": 7 + i, "category_id": 1, "num_keypoints": 17,
                             "keypoints": c[i].ravel().astype(float).tolist()} for i in range(len(c))],
            "categories": [{"id": 1, "name": "person"}]}


def openpose_doc(poses25):
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()}
                                       for p in with_score(poses25)]}


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def assert_mapped(got, uv, head_tol=HEAD_TOL):
    """Every joint but the head top exactly; the head top within head_tol of |head - thorax|."""
    assert got.shape == uv.shape
    body = [j for j in range(17) if j != J["head"]]
    np.testing.assert_allclose(got[:, body], uv[:, body], atol=1e-6)
    err = np.linalg.norm(got[:, J["head"]] - uv[:, J["head"]], axis=-1)
    ref = np.linalg.norm(uv[:, J["head"]] - uv[:, J["thorax"]], axis=-1)
    assert (err <= head_tol * ref).all(), (err / ref)


@pytest.fixture
def no_keypoint_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", kp.KeypointWarning)
        yield


# --- the mapping ------------------------------------------------------------------------------------
def test_mapping_tables_cover_every_joint_and_name_real_joints():
    for fmt, table in kp.MAPPINGS.items():
        assert tuple(table) == sk.H36M_JOINTS
        names = kp.SOURCE_JOINTS[fmt]

        def check(rule):
            if rule[0] in ("copy", "mid"):
                assert all(r in names for r in rule[1:]), (fmt, rule)
            elif rule[0] == "mid_h36m":
                assert all(r in sk.JOINT_INDEX for r in rule[1:])
            else:
                assert rule[0] == "extrapolate" and rule[2] > 0
                check(rule[1])
        for rules in table.values():
            assert rules
            for rule in rules:
                check(rule)
    assert len(kp.COCO17_JOINTS) == 17 and len(kp.OPENPOSE25_JOINTS) == 25


def _raw(fmt, xy, scores=None, ids=None):
    xy = np.asarray(xy, float)[None] if np.ndim(xy) == 2 else np.asarray(xy, float)
    scores = np.ones(xy.shape[:2]) if scores is None else np.asarray(scores, float).reshape(xy.shape[:2])
    return kp.RawKeypoints("hand.json", fmt, False, xy, scores, ids or [f"row {i}" for i in range(len(xy))])


def _hand_coco():
    pts = {"nose": (100, 40), "left_eye": (104, 36), "right_eye": (96, 36), "left_ear": (110, 38),
           "right_ear": (90, 38), "left_shoulder": (120, 70), "right_shoulder": (80, 74),
           "left_elbow": (125, 100), "right_elbow": (75, 100), "left_wrist": (128, 130),
           "right_wrist": (72, 130), "left_hip": (112, 150), "right_hip": (88, 154),
           "left_knee": (113, 200), "right_knee": (87, 200), "left_ankle": (114, 250), "right_ankle": (86, 250)}
    return pts, np.array([pts[n] for n in kp.COCO17_JOINTS], float)


def test_coco_mapping_on_a_hand_made_pose(no_keypoint_warnings):
    pts, xy = _hand_coco()
    p = kp.to_h36m(_raw("coco17", xy)).poses_2d[0]
    a = {k: np.array(v, float) for k, v in pts.items()}
    np.testing.assert_allclose(p[J["pelvis"]], (a["left_hip"] + a["right_hip"]) / 2)
    np.testing.assert_allclose(p[J["thorax"]], (a["left_shoulder"] + a["right_shoulder"]) / 2)
    np.testing.assert_allclose(p[J["spine"]], (p[J["pelvis"]] + p[J["thorax"]]) / 2)
    np.testing.assert_allclose(p[J["neck"]], a["nose"])
    ears = (a["left_ear"] + a["right_ear"]) / 2
    np.testing.assert_allclose(p[J["head"]], ears + 0.7 * (ears - p[J["thorax"]]))
    for name in ("left_wrist", "right_knee", "left_ankle", "right_shoulder"):
        np.testing.assert_allclose(p[J[name]], a[name])


def test_head_top_falls_back_from_ears_to_eyes_to_nose(no_keypoint_warnings):
    pts, xy = _hand_coco()
    thorax = (np.array(pts["left_shoulder"]) + pts["right_shoulder"]) / 2
    s = np.ones(17)
    s[kp.COCO17_JOINTS.index("left_ear")] = 0.1                        # one ear below min score
    head = kp.to_h36m(_raw("coco17", xy, s)).poses_2d[0, J["head"]]
    eyes = (np.array(pts["left_eye"]) + pts["right_eye"]) / 2
    np.testing.assert_allclose(head, eyes + 0.75 * (eyes - thorax))
    s[kp.COCO17_JOINTS.index("right_eye")] = 0.0
    head = kp.to_h36m(_raw("coco17", xy, s)).poses_2d[0, J["head"]]
    np.testing.assert_allclose(head, np.array(pts["nose"]) + 1.0 * (np.array(pts["nose"]) - thorax))


def test_openpose_uses_its_own_neck_and_mid_hip_else_midpoints(no_keypoint_warnings):
    uv = h36m_2d(1)
    op = to_openpose(uv)
    op[:, kp.OPENPOSE25_JOINTS.index("neck")] += (3, -2)      # its own neck differs from the midpoint
    op[:, kp.OPENPOSE25_JOINTS.index("mid_hip")] += (-2, 4)
    p = kp.to_h36m(_raw("openpose25", op)).poses_2d
    np.testing.assert_allclose(p[:, J["thorax"]], op[:, 1])
    np.testing.assert_allclose(p[:, J["pelvis"]], op[:, 8])
    s = np.ones((1, 25))
    s[0, [1, 8]] = 0.0                                         # neck and mid hip missing: midpoints
    p = kp.to_h36m(_raw("openpose25", op, s)).poses_2d
    np.testing.assert_allclose(p[:, J["thorax"]], uv[:, J["thorax"]])
    np.testing.assert_allclose(p[:, J["pelvis"]], uv[:, J["pelvis"]])


def test_mpii_mapping_keeps_its_pelvis_thorax_and_head_top(no_keypoint_warnings):
    uv = h36m_2d(3)
    p = kp.to_h36m(_raw("mpii16", sk.h36m_to_mpii(uv))).poses_2d
    np.testing.assert_allclose(p, uv, atol=1e-9)  # spine is the pelvis-thorax midpoint in both


# --- readers: round trips ----------------------------------------------------------------------------
def test_coco_results_round_trip(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(6)
    path = write_json(tmp_path / "dets.json", coco_results(uv))
    raw = kp.read_keypoints(path)
    assert (raw.format, raw.detected) == ("coco17", True)
    s = kp.to_h36m(raw)
    assert s.ids[:3] == ["image 100, person 0", "image 100, person 1", "image 101, person 0"]
    assert s.skipped == []
    assert_mapped(s.poses_2d, uv)


def test_coco_annotations_round_trip_with_image_sizes(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(4, seed=1)
    path = write_json(tmp_path / "person_keypoints_val.json", coco_annotations(uv))
    s = kp.load_keypoints(path)
    assert s.inputs[0]["format"] == "coco17" and s.inputs[0]["detected"]
    assert s.ids[0] == "image 7, person 0"
    np.testing.assert_array_equal(s.image_sizes, np.tile(IMAGE, (4, 1)))
    assert_mapped(s.poses_2d, uv)


def test_openpose_folder_round_trip_sorted_with_frame_ids(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(5, seed=2)
    op = to_openpose(uv)
    folder = tmp_path / "op"
    folder.mkdir()
    # frame 1 holds poses 2..4, frame 0 poses 0..1, frame 2 nobody: written out of order
    write_json(folder / "clip_000000000001_keypoints.json", openpose_doc(op[2:]))
    write_json(folder / "clip_000000000002_keypoints.json", {"version": 1.3, "people": []})
    write_json(folder / "clip_000000000000_keypoints.json", openpose_doc(op[:2]))
    (folder / "notes.txt").write_text("not a frame")
    raw = kp.read_keypoints(folder)
    assert (raw.format, raw.detected) == ("openpose25", True)
    s = kp.to_h36m(raw)
    assert s.ids[0] == "clip_000000000000_keypoints.json, person 0"
    assert s.ids[2] == "clip_000000000001_keypoints.json, person 0"
    assert_mapped(s.poses_2d, uv)


def test_openpose_single_file(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(2, seed=3)
    path = write_json(tmp_path / "frame_000012_keypoints.json", openpose_doc(to_openpose(uv)))
    s = kp.load_keypoints(path)
    assert s.ids == ["frame_000012_keypoints.json, person 0", "frame_000012_keypoints.json, person 1"]
    assert_mapped(s.poses_2d, uv)


@pytest.mark.parametrize("container", ["npy", "npz_single", "npz_key", "json", "json_key"])
def test_h36m_array_round_trip_every_container(tmp_path, container, no_keypoint_warnings):
    uv = h36m_2d(4, seed=4)
    arr = with_score(uv, 0.8)
    if container == "npy":
        path = tmp_path / "p.npy"
        np.save(path, arr)
    elif container == "npz_single":
        path = tmp_path / "p.npz"
        np.savez(path, whatever=uv)
    elif container == "npz_key":
        path = tmp_path / "p.npz"
        np.savez(path, poses_2d=uv, other=np.zeros(3))
    elif container == "json":
        path = write_json(tmp_path / "p.json", arr.tolist())
    else:
        path = write_json(tmp_path / "p.json", {"keypoints": uv.tolist(), "fps": 25})
    raw = kp.read_keypoints(path)
    assert (raw.format, raw.detected) == ("h36m17", True)
    s = kp.to_h36m(raw)
    assert s.ids == [f"row {i}" for i in range(4)]
    np.testing.assert_allclose(s.poses_2d, uv, atol=1e-9)


def test_mpii_and_coco_arrays_and_single_pose(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(3, seed=5)
    np.save(tmp_path / "m.npy", sk.h36m_to_mpii(uv))
    raw = kp.read_keypoints(tmp_path / "m.npy")
    assert raw.format == "mpii16"
    np.testing.assert_allclose(kp.to_h36m(raw).poses_2d, uv, atol=1e-9)
    np.save(tmp_path / "c.npy", with_score(to_coco(uv)))
    raw = kp.read_keypoints(tmp_path / "c.npy")
    assert (raw.format, raw.detected) == ("coco17", True)   # told apart from h36m17 by structure
    assert_mapped(kp.to_h36m(raw).poses_2d, uv)
    np.save(tmp_path / "one.npy", uv[0])                      # a single (17, 2) pose
    s = kp.load_keypoints(tmp_path / "one.npy", fmt="h36m17")
    assert s.ids == ["row 0"] and not s.inputs[0]["detected"]
    np.testing.assert_allclose(s.poses_2d[0], uv[0])


def test_explicit_format_and_detect_format(tmp_path):
    uv = h36m_2d(2)
    path = write_json(tmp_path / "d.json", coco_results(uv))
    assert kp.detect_format(path) == "coco17"
    raw = kp.read_keypoints(path, "coco17")
    assert (raw.format, raw.detected) == ("coco17", False)
    with pytest.raises(kp.KeypointError, match="unknown format"):
        kp.read_keypoints(path, "coco18")


def test_several_inputs_are_concatenated_with_prefixed_ids(tmp_path):
    uv = h36m_2d(4)
    a = write_json(tmp_path / "a.json", coco_results(uv[:2]))
    np.save(tmp_path / "b.npy", uv[2:])
    s = kp.load_keypoints([a, tmp_path / "b.npy"])
    assert len(s) == 4 and s.ids[0] == "a.json: image 100, person 0" and s.ids[3] == "b.npy: row 1"
    assert s.input_format == "coco17+h36m17"
    assert_mapped(s.poses_2d, uv)


# --- classic mistakes ---------------------------------------------------------------------------------
def test_left_right_crossed_between_upper_and_lower_body_is_an_error(tmp_path):
    uv = h36m_2d(6)
    bad = uv.copy()
    bad[:, [1, 2, 3, 4, 5, 6]] = uv[:, [4, 5, 6, 1, 2, 3]]   # legs swapped, arms not
    np.save(tmp_path / "crossed.npy", bad)
    with pytest.raises(kp.KeypointError, match=r"crossed\.npy: left and right look swapped") as e:
        kp.load_keypoints(tmp_path / "crossed.npy")
    assert "6 of 6 poses" in str(e.value)
    few = uv.copy()
    few[:2] = bad[:2]                                          # a minority: only a warning
    np.save(tmp_path / "few.npy", few)
    with pytest.warns(kp.KeypointWarning, match="crossed between shoulders and hips in 2 of 6"):
        assert len(kp.load_keypoints(tmp_path / "few.npy")) == 6


def test_whole_body_left_right_swap_warns_when_the_face_is_visible(tmp_path):
    uv = h36m_2d(4)
    c = to_coco(uv)
    swapped = c.copy()
    for i, name in enumerate(kp.COCO17_JOINTS):
        if name.startswith("left_"):
            j = kp.COCO17_JOINTS.index("right_" + name[5:])
            swapped[:, [i, j]] = c[:, [j, i]]
    np.save(tmp_path / "mirror.npy", with_score(swapped))
    with pytest.warns(kp.KeypointWarning, match="swapped for the whole body in 4 of 4 poses whose face is visible"):
        kp.load_keypoints(tmp_path / "mirror.npy", fmt="coco17")
    # seen from behind (no eyes): the same geometry is a person facing away, no warning
    s = with_score(swapped)
    s[:, 1:3, 2] = 0.0
    np.save(tmp_path / "back.npy", s)
    with warnings.catch_warnings():
        warnings.simplefilter("error", kp.KeypointWarning)
        kp.load_keypoints(tmp_path / "back.npy", fmt="coco17")


def test_y_x_order_warns_and_is_an_error_when_the_image_size_confirms(tmp_path):
    uv = h36m_2d(5)
    np.save(tmp_path / "yx.npy", uv[..., ::-1])
    with pytest.warns(kp.KeypointWarning, match=r"coordinates look like \(y, x\)"):
        kp.load_keypoints(tmp_path / "yx.npy")
    # a portrait-wide mismatch: x up to ~1000 in a 720-wide image only fits once swapped
    wide = h36m_2d(5, K=np.array([1000.0, 1000.0, 360.0, 640.0]))
    np.save(tmp_path / "yx2.npy", wide[..., ::-1])
    with pytest.raises(kp.KeypointError, match=r"yx2\.npy: .*look like \(y, x\)"):
        kp.load_keypoints(tmp_path / "yx2.npy", image_size=(720, 1280))


def test_upside_down_warns(tmp_path):
    uv = h36m_2d(3)
    up = uv.copy()
    up[..., 1] = 720 - up[..., 1]
    np.save(tmp_path / "up.npy", up)
    with pytest.warns(kp.KeypointWarning, match="head is below the hips"):
        kp.load_keypoints(tmp_path / "up.npy")


def test_normalised_coordinates_are_caught_and_converted_with_normalised(tmp_path):
    uv = h36m_2d(3)
    np.save(tmp_path / "n.npy", uv / IMAGE)
    for size in (None, IMAGE):
        with pytest.raises(kp.KeypointError, match=r"n\.npy: coordinates look normalised to \[0, 1\]; "
                                                    r"multiply by the image size or pass --normalised"):
            kp.load_keypoints(tmp_path / "n.npy", image_size=size)
    s = kp.load_keypoints(tmp_path / "n.npy", image_size=IMAGE, normalised=True)
    np.testing.assert_allclose(s.poses_2d, uv, atol=1e-9)
    with pytest.raises(kp.KeypointError, match="need the image size"):
        kp.load_keypoints(tmp_path / "n.npy", normalised=True)
    np.save(tmp_path / "px.npy", uv)
    with pytest.raises(kp.KeypointError, match="pixels"):
        kp.load_keypoints(tmp_path / "px.npy", image_size=IMAGE, normalised=True)


def test_wrong_format_named_and_wrong_counts(tmp_path):
    uv = h36m_2d(2)
    coco = write_json(tmp_path / "coco.json", coco_results(uv))
    with pytest.raises(kp.KeypointError, match=r"coco\.json: image 100, person 0: expected 75 numbers per person "
                                                r"for openpose25 .*got 51 \(the count of coco17\)"):
        kp.read_keypoints(coco, "openpose25")
    op = write_json(tmp_path / "op.json", openpose_doc(to_openpose(uv)))
    with pytest.raises(kp.KeypointError, match=r"expected 51 numbers per person for coco17.*got 75"):
        kp.read_keypoints(op, "coco17")
    short = coco_results(uv)
    short[1]["keypoints"] = short[1]["keypoints"][:-1]
    with pytest.raises(kp.KeypointError, match=r"image 100, person 1: expected 51 numbers .*got 50"):
        kp.read_keypoints(write_json(tmp_path / "short.json", short))
    op18 = {"people": [{"pose_keypoints_2d": [1.0] * 54}]}
    with pytest.raises(kp.KeypointError, match="COCO-18"):
        kp.read_keypoints(write_json(tmp_path / "op18.json", op18))
    np.save(tmp_path / "m.npy", sk.h36m_to_mpii(uv))
    with pytest.raises(kp.KeypointError, match=r"expected 17 joints per pose for h36m17.*\(that is mpii16\)"):
        kp.read_keypoints(tmp_path / "m.npy", "h36m17")
    np.save(tmp_path / "j20.npy", np.ones((2, 20, 2)))
    with pytest.raises(kp.KeypointError, match="cannot tell the format of an array with 20 joints"):
        kp.read_keypoints(tmp_path / "j20.npy")
    np.save(tmp_path / "h.npy", uv)
    with pytest.warns(kp.KeypointWarning, match="looks like h36m17"):
        kp.read_keypoints(tmp_path / "h.npy", "coco17")


def test_nan_empty_and_malformed_inputs(tmp_path):
    uv = h36m_2d(2)
    nan = uv.copy()
    nan[1, 5] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(kp.KeypointError, match=r"nan\.npy: NaN/inf coordinates in row 1 \(left_knee\)"):
        kp.load_keypoints(tmp_path / "nan.npy")
    cases = {
        "empty_people.json": ({"people": []}, "the 'people' list is empty"),
        "empty_list.json": ([], "empty list"),
        "empty_ann.json": ({"annotations": []}, "'annotations' list is empty"),
        "weird.json": ({"foo": 1}, "cannot tell the keypoint format"),
        "ragged.json": ([[[1, 2], [3]]], "ragged"),
    }
    for name, (obj, msg) in cases.items():
        with pytest.raises(kp.KeypointError, match=f"{name.replace('.', '[.]')}: .*{msg}"):
            kp.read_keypoints(write_json(tmp_path / name, obj))
    (tmp_path / "trunc.json").write_text(json.dumps(coco_results(uv))[:-40])
    with pytest.raises(kp.KeypointError, match=r"trunc\.json: not valid JSON"):
        kp.read_keypoints(tmp_path / "trunc.json")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(kp.KeypointError, match=r"bad\.npy: not a readable numpy file"):
        kp.read_keypoints(tmp_path / "bad.npy")
    (tmp_path / "text.npy").write_text("1 2 3")
    with pytest.raises(kp.KeypointError, match=r"text\.npy: not a numpy \.npy file"):
        kp.read_keypoints(tmp_path / "text.npy")
    (tmp_path / "text.npz").write_text("1 2 3")
    with pytest.raises(kp.KeypointError, match=r"text\.npz: not a numpy \.npz file"):
        kp.read_keypoints(tmp_path / "text.npz")
    np.save(tmp_path / "trunc.npy", np.ones((50, 17, 2)))
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "trunc.npy").read_bytes()[:300])
    with pytest.raises(kp.KeypointError, match=r"trunc\.npy: not a readable numpy file"):
        kp.read_keypoints(tmp_path / "trunc.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(kp.KeypointError, match="never unpickles"):
        kp.read_keypoints(tmp_path / "obj.npy")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(kp.KeypointError, match="empty_dir: folder has no .json files"):
        kp.read_keypoints(tmp_path / "empty_dir")
    with pytest.raises(kp.KeypointError, match="no such file"):
        kp.read_keypoints(tmp_path / "missing.json")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(kp.KeypointError, match="unsupported file type"):
        kp.read_keypoints(tmp_path / "x.csv")
    assert issubclass(kp.KeypointError, ValueError)


# --- missing joints -----------------------------------------------------------------------------------
def test_missing_limb_joint_skips_the_pose_with_a_warning(tmp_path):
    uv = h36m_2d(4)
    res = coco_results(uv)
    la = kp.COCO17_JOINTS.index("left_ankle")
    res[1]["keypoints"][3 * la + 2] = 0.1          # below min score
    lh = kp.COCO17_JOINTS.index("left_hip")
    res[2]["keypoints"][3 * lh:3 * lh + 3] = [0, 0, 0]   # not found at all: pelvis cannot be derived
    path = write_json(tmp_path / "m.json", res)
    with pytest.warns(kp.KeypointWarning, match=r"skipped 2 of 4 poses .*image 100, person 1 \(left_ankle\); "
                                                 r"image 101, person 0 \(pelvis, left_hip, spine\)"):
        s = kp.load_keypoints(path)
    assert s.skipped == ["image 100, person 1", "image 101, person 0"]
    assert s.ids == ["image 100, person 0", "image 101, person 1"]
    assert_mapped(s.poses_2d, uv[[0, 3]])
    assert np.isfinite(s.poses_2d).all() and not (s.poses_2d == 0).all(-1).any()
    # a lower threshold keeps the low-confidence ankle; the (0, 0) hip stays missing
    with pytest.warns(kp.KeypointWarning, match="skipped 1 of 4"):
        s = kp.load_keypoints(path, min_score=0.05)
    assert s.skipped == ["image 101, person 0"]


def test_zero_zero_with_high_confidence_is_missing_never_a_joint(tmp_path):
    uv = h36m_2d(2)
    arr = with_score(uv, 1.0)
    arr[0, J["right_wrist"], :2] = 0.0
    np.save(tmp_path / "z.npy", arr)
    with pytest.warns(kp.KeypointWarning, match=r"row 0 \(right_wrist\)"):
        s = kp.load_keypoints(tmp_path / "z.npy")
    assert s.ids == ["row 1"] and s.skipped == ["row 0"]


def test_central_joints_are_filled_nan_with_zero_score_is_missing(tmp_path, no_keypoint_warnings):
    uv = h36m_2d(3)
    arr = with_score(uv, 1.0)
    for j in ("pelvis", "spine", "thorax"):
        arr[:, J[j]] = (np.nan, np.nan, 0.0)         # missing, marked by score 0: filled from neighbours
    np.save(tmp_path / "c.npy", arr)
    s = kp.load_keypoints(tmp_path / "c.npy")
    np.testing.assert_allclose(s.poses_2d, uv, atol=1e-9)


def test_all_poses_skipped_returns_an_empty_set_with_every_id(tmp_path):
    arr = with_score(h36m_2d(2), 0.1)
    np.save(tmp_path / "low.npy", arr)
    with pytest.warns(kp.KeypointWarning, match="skipped 2 of 2"):
        s = kp.load_keypoints(tmp_path / "low.npy")
    assert len(s) == 0 and s.poses_2d.shape == (0, 17, 2) and s.skipped == ["row 0", "row 1"]


# --- camera and normalisation -------------------------------------------------------------------------
def test_default_intrinsics_from_image_size_and_from_extent():
    K = kp.default_intrinsics((1280, 720))
    np.testing.assert_allclose(K, [1280 * kp.FOCAL_FACTOR] * 2 + [640, 360])
    assert np.isclose(2 * np.degrees(np.arctan(640 / K[0])), kp.DEFAULT_FOV_DEG)
    uv = h36m_2d(3)
    Ke = kp.default_intrinsics(poses=uv)
    w, h = uv[..., 0].max(), uv[..., 1].max()
    np.testing.assert_allclose(Ke, [max(w, h) * kp.FOCAL_FACTOR] * 2 + [w / 2, h / 2])
    with pytest.raises(ValueError):
        kp.default_intrinsics()
    with pytest.raises(ValueError):
        kp.default_intrinsics((0, 720))


def test_normalise_denormalise_round_trip_and_per_pose_intrinsics(rng):
    uv = h36m_2d(4)
    x = kp.normalise(uv, K0)
    np.testing.assert_allclose(x, (uv - K0[2:]) / K0[:2])
    np.testing.assert_allclose(kp.denormalise(x, K0), uv)
    Ks = np.stack([K0 * (1 + 0.1 * i) for i in range(4)])
    x = kp.normalise(uv, Ks)
    np.testing.assert_allclose(x[2], (uv[2] - Ks[2, 2:]) / Ks[2, :2])
    np.testing.assert_allclose(kp.denormalise(x, Ks), uv)
    with pytest.raises(ValueError):
        kp.normalise(uv, [0, 1000, 1, 1])
    with pytest.raises(ValueError):
        kp.normalise(uv, [1, 2, 3])


def test_same_body_shifted_or_rescaled_gives_identical_normalised_inputs():
    uv = h36m_2d(3)
    shift = np.array([123.0, -45.0])
    K_shift = K0 + np.r_[0, 0, shift]
    np.testing.assert_allclose(kp.normalise(uv + shift, K_shift), kp.normalise(uv, K0), atol=1e-12)
    s = 2.5                                       # another resolution: pixels and intrinsics scaled
    np.testing.assert_allclose(kp.normalise(uv * s, K0 * s), kp.normalise(uv, K0), atol=1e-12)
    # the default camera follows the image: twice the resolution, same normalised pose
    a = kp.normalise(uv, kp.default_intrinsics(IMAGE))
    b = kp.normalise(uv * 2, kp.default_intrinsics((2 * IMAGE[0], 2 * IMAGE[1])))
    np.testing.assert_allclose(a, b, atol=1e-12)


# --- writers ------------------------------------------------------------------------------------------
def _poses_3d(n=3):
    rng = np.random.default_rng(1)
    p = rng.normal(0, 300, (n, 17, 3)) + 0.04321
    return p - p[:, :1]


def test_write_result_json_schema_and_no_overwrite(tmp_path):
    P = _poses_3d()
    K = np.tile(K0, (3, 1))
    out = tmp_path / "r.json"
    kp.write_result(out, P, ["a", "b", "c"], skipped=["d"], model="martinez", checkpoint_sha256="ab" * 32,
                    input_format="coco17", intrinsics=K)
    doc = json.loads(out.read_text())
    assert doc["format"] == "posecore-lift-1" and doc["joints"] == list(sk.H36M_JOINTS)
    assert doc["units"] == "mm" and doc["frame"] == "camera, root-relative"
    assert np.asarray(doc["poses_3d"]).shape == (3, 17, 3)
    np.testing.assert_allclose(doc["poses_3d"], np.round(P, 1))
    assert doc["ids"] == ["a", "b", "c"] and doc["skipped"] == ["d"]
    assert doc["model"] == "martinez" and doc["checkpoint_sha256"] == "ab" * 32
    assert doc["input_format"] == "coco17" and np.asarray(doc["intrinsics"]).shape == (3, 4)
    with pytest.raises(kp.KeypointError, match=r"r\.json: already exists"):
        kp.write_result(out, P, ["a", "b", "c"])
    kp.write_result(out, P[:1], ["x"], force=True)
    assert json.loads(out.read_text())["ids"] == ["x"]
    with pytest.raises(kp.KeypointError, match="does not exist"):
        kp.write_result(tmp_path / "nope" / "r.json", P, ["a", "b", "c"])
    with pytest.raises(kp.KeypointError, match="unsupported output type"):
        kp.write_result(tmp_path / "r.txt", P, ["a", "b", "c"])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_write_result_npz_without_pickle(tmp_path):
    P = _poses_3d()
    out = tmp_path / "r.npz"
    kp.write_result(out, P, ["a", "b", "c"], skipped=[], model="wang", checkpoint_sha256="cd" * 32,
                    input_format="openpose25", intrinsics=K0)
    with np.load(out, allow_pickle=False) as z:
        assert str(z["format"]) == "posecore-lift-1"
        assert z["joints"].dtype.kind == "U" and list(z["joints"]) == list(sk.H36M_JOINTS)
        assert z["ids"].dtype.kind == "U" and z["skipped"].shape == (0,)
        np.testing.assert_allclose(z["poses_3d"], np.round(P, 1))
        assert z["intrinsics"].shape == (3, 4) and str(z["model"]) == "wang"
    back = kp.read_result(out)
    assert back["ids"] == ["a", "b", "c"] and back["skipped"] == [] and back["units"] == "mm"
    assert back["checkpoint_sha256"] == "cd" * 32


def test_write_html_is_standalone_with_a_slider_and_a_cap(tmp_path):
    P = _poses_3d(5)
    out = tmp_path / "v.html"
    kp.write_html(out, P, [f"pose <{i}>" for i in range(5)], max_poses=3)
    text = out.read_text()
    assert len(text) > 1_000_000 and "plotly.js" in text.lower()      # the library itself is inlined
    assert '<script src="http' not in text and "<script src='http" not in text
    assert "cdn.plot.ly" not in text.split("</script>")[-1]
    assert "showing the first 3 of 5" in text
    assert '"prefix":"pose "' in text and "pose \\u003c2\\u003e" in text   # ids are JSON-escaped, not raw HTML
    assert "pose <" not in text
    with pytest.raises(kp.KeypointError, match="already exists"):
        kp.write_html(out, P, list("abcde"))
    one = tmp_path / "one.html"
    kp.write_html(one, P[:1], ["only"])
    assert '"prefix":"pose "' not in one.read_text()


def test_odd_inputs_same_names_inf_scores_and_entries_without_keypoints(tmp_path):
    uv = h36m_2d(2)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "p.npy", uv)
    s = kp.load_keypoints([tmp_path / "a" / "p.npy", tmp_path / "b" / "p.npy"])
    assert s.ids[0] == f"{tmp_path / 'a' / 'p.npy'}: row 0" and len(set(s.ids)) == 4
    arr = with_score(uv)
    arr[1, 3, 2] = np.inf
    np.save(tmp_path / "inf.npy", arr)
    with pytest.raises(kp.KeypointError, match=r"inf\.npy: NaN/inf scores in row 1"):
        kp.load_keypoints(tmp_path / "inf.npy")
    res = coco_results(uv)
    del res[1]["keypoints"]
    with pytest.raises(kp.KeypointError, match=r"nokp\.json: result 1: has no 'keypoints'"):
        kp.read_keypoints(write_json(tmp_path / "nokp.json", res))


def test_coco17_from_h36m_round_trips_through_the_mapping(tmp_path):
    from posecore.data.toy import toy_poseset
    ps = toy_poseset(12, seed=2)
    coco = kp.coco17_from_h36m(ps.poses_3d, ps.intrinsics, ps.poses_2d)
    assert coco.shape == (12, 17, 3) and np.isfinite(coco).all()
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(kp.coco_results(coco)))
    back = kp.load_keypoints([path], check=False)
    limbs = [sk.JOINT_INDEX[n] for n in kp.COCO17_JOINTS[5:]]
    np.testing.assert_allclose(back.poses_2d[:, limbs], ps.poses_2d[:, limbs], atol=0.01)
