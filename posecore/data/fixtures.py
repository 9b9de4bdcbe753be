"""Writers of small fixture files in the exact formats of the real datasets, built from a synthetic
known pose (never from real data). Used by the tests, the conversion benchmark and chapter 00 to show
a converted fixture without any licensed file.

=====================  ===========================================================================
writer                 format written
=====================  ===========================================================================
write_h36m_npz         VideoPose3D ``data_3d_h36m.npz`` (+ ``data_2d_h36m_gt.npz``): pickled dicts
write_h36m_cdf         original release ``S1/MyPoseFeatures/D3_Positions[_mono]/*.cdf``, ``D2_Positions``
write_mpii_mat         ``mpii_human_pose_v1_u12_1.mat`` (MATLAB v5 struct ``RELEASE``)
write_mpii_json        HRNet/mmpose ``annot/{train,valid}.json`` (+ ``gt_valid.mat`` head boxes)
write_3dhp_test        MPI-INF-3DHP ``TS*/annot_data.mat`` (MATLAB v7.3 = HDF5, transposed layout)
write_bvh              a BVH file (Y-up, cm) and a joint-name mapping JSON for it
=====================  ===========================================================================

The projections here are independent re-implementations (VideoPose3D-style quaternion rotation and
normalised-screen projection) so that the tests cross-check the readers instead of repeating them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..camera import H36M_CAMERA_IDS, H36M_INTRINSICS

# rest pose, posecore H36M 17-joint order, metres, world Z-up, person facing -Y
REST_POSE_M = np.array([
    [0.00, 0.00, 0.95], [-0.13, 0.00, 0.94], [-0.14, 0.02, 0.50], [-0.15, 0.00, 0.08],
    [0.13, 0.00, 0.94], [0.14, 0.02, 0.50], [0.15, 0.00, 0.08], [0.00, 0.01, 1.18],
    [0.00, 0.00, 1.45], [0.00, -0.06, 1.56], [0.00, 0.00, 1.72], [0.18, 0.00, 1.43],
    [0.21, 0.00, 1.15], [0.23, -0.02, 0.90], [-0.18, 0.00, 1.43], [-0.21, 0.00, 1.15],
    [-0.23, -0.02, 0.90]])
RAW_TO_H36M17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
RAW_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22,
               12, 24, 25, 26, 27, 28, 27, 30)
H36M_SEQUENCES = ("Directions", "Directions 1", "Discussion 1", "Discussion 2", "Eating", "Eating 2",
                  "Greeting", "Greeting 1", "Phoning", "Phoning 1", "Photo", "Photo 1", "Posing",
                  "Posing 1", "Purchases", "Purchases 1", "Sitting 1", "Sitting 2", "SittingDown",
                  "SittingDown 2", "Smoking", "Smoking 1", "Waiting", "Waiting 1", "WalkDog",
                  "WalkDog 1", "Walking", "Walking 1", "WalkTogether", "WalkTogether 1")


def synthetic_motion(n_frames: int, seed: int = 0) -> np.ndarray:
    """(n, 17, 3) float64 metres, world Z-up: the rest pose swaying, turning and walking slowly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None]
    ph = rng.uniform(0, 2 * np.pi, 4)
    yaw = 0.6 * np.sin(2 * np.pi * t[:, 0] / 180 + ph[0])
    pose = np.broadcast_to(REST_POSE_M, (n_frames, 17, 3)).copy()
    swing = 0.12 * np.sin(2 * np.pi * t / 60 + ph[1])            # arms and knees swing (m)
    pose[:, [12, 13], 1] += swing
    pose[:, [15, 16], 1] -= swing
    pose[:, [2, 3], 1] -= 0.5 * swing
    pose[:, [5, 6], 1] += 0.5 * swing
    c, s = np.cos(yaw), np.sin(yaw)
    x, y = pose[..., 0].copy(), pose[..., 1].copy()
    pose[..., 0], pose[..., 1] = c[:, None] * x - s[:, None] * y, s[:, None] * x + c[:, None] * y
    pose[..., 0] += 0.4 * np.sin(2 * np.pi * t / 400 + ph[2])
    pose[..., 1] += 0.4 * np.cos(2 * np.pi * t / 400 + ph[3])
    return pose


def to_raw32(pose17: np.ndarray) -> np.ndarray:
    """(n, 17, 3) -> (n, 32, 3): the 15 joints H36M drops sit 3 cm off their parents."""
    raw = np.zeros(pose17.shape[:-2] + (32, 3), pose17.dtype)
    raw[..., list(RAW_TO_H36M17), :] = pose17
    for j in range(32):
        if j not in RAW_TO_H36M17:
            raw[..., j, :] = raw[..., RAW_PARENTS[j], :] + np.array([0.03, 0.02, -0.01])
    return raw


# --- VideoPose3D-style camera maths (quaternions, normalised screen coordinates) -----------------
def _qrot(q, v):
    """Rotate vectors v (..., 3) by unit quaternion q (4,) (w, x, y, z)."""
    qvec = np.broadcast_to(q[1:], v.shape)
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2 * (q[0] * uv + uuv)


def vp3d_world_to_camera(X, q, t):
    """VideoPose3D's world_to_camera: ``qrot(qinverse(q), X - t)`` (same units as X and t)."""
    q = np.asarray(q, float)
    qinv = q * np.array([1, -1, -1, -1])
    return _qrot(qinv, X - np.asarray(t, float))


def vp3d_project_px(X_cam, camera_id: str) -> np.ndarray:
    """VideoPose3D's project_to_2d in normalised screen coordinates, then back to pixels."""
    d = H36M_INTRINSICS[camera_id]
    w, h = d["size"]
    f = np.array(d["f"]) / w * 2
    c = np.array(d["c"]) / w * 2 - np.array([1, h / w])
    k, p = np.array(d["k"]), np.array(d["p"])
    XX = np.clip(X_cam[..., :2] / X_cam[..., 2:], -1, 1)
    r2 = np.sum(XX ** 2, axis=-1, keepdims=True)
    radial = 1 + np.sum(k * np.concatenate((r2, r2 ** 2, r2 ** 3), axis=-1), axis=-1, keepdims=True)
    tan = np.sum(p * XX, axis=-1, keepdims=True)
    XXX = XX * (radial + tan) + p * r2
    uv = f * XXX + c
    return (uv + np.array([1, h / w])) * w / 2


def _h36m_extrinsics(subject):
    from .h36m import _EXTRINSICS  # the published calibration constants
    return _EXTRINSICS[subject]


def h36m_fixture_data(subjects=("S1", "S9"), sequences=H36M_SEQUENCES, n_frames=40, seed=0,
                      length_delta: int = 0):
    """(positions_3d, positions_2d) dicts in VideoPose3D layout from synthetic motion.
    ``length_delta`` makes every 2D sequence that many frames longer (>0) or shorter (<0)."""
    pos3, pos2 = {}, {}
    for si, s in enumerate(subjects):
        pos3[s], pos2[s] = {}, {}
        for ai, a in enumerate(sequences):
            n = n_frames(s, a) if callable(n_frames) else n_frames
            m17 = synthetic_motion(n + max(length_delta, 0), seed=seed + 1000 * si + ai)
            pos3[s][a] = to_raw32(m17[:n]).astype(np.float32)
            views = []
            for cid, (q, t) in zip(H36M_CAMERA_IDS, _h36m_extrinsics(s)):
                Xc = vp3d_world_to_camera(m17[: n + length_delta], q, np.asarray(t) / 1000.0)
                views.append(vp3d_project_px(Xc, cid).astype(np.float32))
            pos2[s][a] = views
    return pos3, pos2


def write_h36m_npz(folder, subjects=("S1", "S9"), sequences=H36M_SEQUENCES, n_frames=40, seed=0,
                   with_2d: bool = True, length_delta: int = 0, compress: bool = True):
    """Write ``data_3d_h36m.npz`` (and ``data_2d_h36m_gt.npz``) in VideoPose3D's format into
    ``folder``; returns (path_3d, path_2d or None, positions_3d dict)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pos3, pos2 = h36m_fixture_data(subjects, sequences, n_frames, seed, length_delta)
    save = np.savez_compressed if compress else np.savez
    p3 = folder / "data_3d_h36m.npz"
    save(p3, positions_3d=pos3)
    p2 = None
    if with_2d:
        p2 = folder / "data_2d_h36m_gt.npz"
        from .h36m import RAW_TO_H36M17 as _  # noqa: F401  (layout documented there)
        metadata = {"layout_name": "h36m", "num_joints": 17,
                    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
        save(p2, positions_2d=pos2, metadata=metadata)
    return p3, p2, pos3


def _write_cdf(path: Path, pose: np.ndarray):
    from cdflib.cdfwrite import CDF
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    n, w = pose.shape
    cdf = CDF(str(path))
    try:
        cdf.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
                       "Dim_Sizes": [n, w]}, var_data=pose.reshape(1, n, w).astype(np.float32))
    finally:
        cdf.close()


def write_h36m_cdf(root, subjects=("S1", "S9"), sequences=("Directions 1", "TakingPhoto", "WalkDog 1"),
                   n_frames=30, seed=0, mono: bool = True, world: bool = True, two_d: bool = True):
    """Original-release layout: ``<root>/<S>/MyPoseFeatures/D3_Positions_mono/<seq>.<cam>.cdf`` (camera
    mm), ``D3_Positions/<seq>.cdf`` (world mm), ``D2_Positions/<seq>.<cam>.cdf`` (px), 32 joints,
    ``Pose`` (1, N, 32*C). Returns {(subject, seq): world mm (n, 17, 3)}."""
    root = Path(root)
    truth = {}
    for si, s in enumerate(subjects):
        feat = root / s / "MyPoseFeatures"
        for ai, a in enumerate(sequences):
            m17 = synthetic_motion(n_frames, seed=seed + 1000 * si + ai) * 1000.0
            truth[(s, a)] = m17
            raw = to_raw32(m17 / 1000.0) * 1000.0
            if world:
                _write_cdf(feat / "D3_Positions" / f"{a}.cdf", raw.reshape(n_frames, 96))
            for cid, (q, t) in zip(H36M_CAMERA_IDS, _h36m_extrinsics(s)):
                Xc = vp3d_world_to_camera(raw, q, t)
                if mono:
                    _write_cdf(feat / "D3_Positions_mono" / f"{a}.{cid}.cdf", Xc.reshape(n_frames, 96))
                if two_d:
                    _write_cdf(feat / "D2_Positions" / f"{a}.{cid}.cdf",
                               vp3d_project_px(Xc, cid).reshape(n_frames, 64))
    return truth


# --- MPII ------------------------------------------------------------------------------------------
MPII_FROM_H36M = (3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13)


def mpii_fixture_people(n_images=6, seed=0):
    """A list of images, each a list of people dicts with 1-based MATLAB pixel coordinates:
    ``joints`` (16, 2), ``annotated`` (16,) bool, ``visible`` (16,) bool, ``head`` (x1, y1, x2, y2),
    ``scale``, ``objpos``; one person per image is missing some joints."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n_images):
        people = []
        for k in range(1 + i % 2):
            m = synthetic_motion(1, seed=seed + 10 * i + k)[0]
            uv = np.stack([m[:, 0], -m[:, 2]], -1) * 300 + np.array([300 + 250 * k, 600])
            joints = uv[list(MPII_FROM_H36M)] + 1.0  # MATLAB 1-based
            annotated = np.ones(16, bool)
            if k == 0 and i % 3 == 1:
                annotated[[0, 6]] = False  # right ankle and pelvis missing
            visible = annotated & (rng.uniform(size=16) > 0.2)
            ht = joints[9]
            head = (ht[0] - 25, ht[1] - 5, ht[0] + 25, ht[1] + 55)
            people.append(dict(joints=joints, annotated=annotated, visible=visible, head=head,
                               scale=float(1.5 + 0.1 * k), objpos=(float(joints[6, 0]), float(joints[6, 1]))))
        images.append(people)
    return images


def write_mpii_mat(path, images=None, img_train=None, unannotated_rect: bool = True):
    """The official ``mpii_human_pose_v1_u12_1.mat`` layout (MATLAB v5 struct RELEASE with annolist,
    img_train, single_person, act, video_list). Points are saved with ``id`` 0..15 (0-based as in
    the release), coordinates 1-based; ``is_visible`` is stored in the release's mixed forms (number,
    string, or empty). Returns the path and the images list."""
    from scipy.io import savemat
    images = mpii_fixture_people() if images is None else images
    n = len(images) + (1 if unannotated_rect else 0)
    rect_dt = [("x1", "O"), ("y1", "O"), ("x2", "O"), ("y2", "O"), ("annopoints", "O"), ("scale", "O"),
               ("objpos", "O")]
    point_dt = [("x", "O"), ("y", "O"), ("id", "O"), ("is_visible", "O")]
    annolist = np.zeros((1, n), dtype=[("image", "O"), ("annorect", "O"), ("frame_sec", "O"), ("vididx", "O")])
    act = np.zeros((n, 1), dtype=[("cat_name", "O"), ("act_name", "O"), ("act_id", "O")])
    single = np.empty((n, 1), dtype=object)
    for i, people in enumerate(images):
        rects = np.zeros((1, len(people)), dtype=rect_dt)
        for r, p in enumerate(people):
            ids = np.flatnonzero(p["annotated"])
            pts = np.zeros((1, len(ids)), dtype=point_dt)
            for q, j in enumerate(ids):
                vis = bool(p["visible"][j])
                # the release mixes numeric, string and empty is_visible values
                isv = np.array(["1" if vis else "0"]) if q % 3 == 0 else (np.zeros((0, 0)) if q % 7 == 6 else float(vis))
                pts[0, q] = (float(p["joints"][j, 0]), float(p["joints"][j, 1]), float(j), isv)
            x1, y1, x2, y2 = p["head"]
            rects[0, r] = (float(x1), float(y1), float(x2), float(y2), {"point": pts}, p["scale"],
                           {"x": p["objpos"][0], "y": p["objpos"][1]})
        annolist[0, i] = ({"name": f"{100000000 + i:09d}.jpg"}, rects, float(i), float(i + 1))
        act[i, 0] = ("sports", "running", float(1 + i))
        single[i, 0] = np.array([[1.0]])
    if unannotated_rect:  # a test image: rect with scale/objpos only, no points, img_train 0
        rects = np.zeros((1, 1), dtype=rect_dt)
        rects[0, 0] = (np.zeros((0, 0)),) * 4 + (np.zeros((0, 0)), 2.0, {"x": 10.0, "y": 20.0})
        annolist[0, n - 1] = ({"name": "999999999.jpg"}, rects, 0.0, 0.0)
        act[n - 1, 0] = ("", "", -1.0)
        single[n - 1, 0] = np.zeros((0, 0))
    if img_train is None:
        img_train = [1] * len(images) + ([0] if unannotated_rect else [])
    release = {"annolist": annolist, "img_train": np.array([img_train], float), "single_person": single,
               "act": act, "video_list": np.array([["vid0", "vid1"]], dtype=object)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"RELEASE": release}, do_compression=True)
    return path, images


def write_mpii_json(folder, images=None, split="valid", head_boxes: bool = True):
    """HRNet/mmpose annotation layout: ``<folder>/<split>.json`` (list of {image, joints (16x2, 1-based,
    -1 when missing), joints_vis (16), center, scale}) and, for 'valid', ``gt_valid.mat`` with
    ``headboxes_src`` (2, 2, N), ``pos_gt_src`` (16, 2, N), ``jnt_missing`` (16, N)."""
    from scipy.io import savemat
    images = mpii_fixture_people() if images is None else images
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries, boxes, pos, missing = [], [], [], []
    for i, people in enumerate(images):
        for p in people:
            j = np.where(p["annotated"][:, None], p["joints"], -1.0)
            entries.append({"image": f"{100000000 + i:09d}.jpg", "joints": j.round(3).tolist(),
                            "joints_vis": p["annotated"].astype(int).tolist(),
                            "center": [round(p["objpos"][0], 3), round(p["objpos"][1], 3)], "scale": p["scale"]})
            x1, y1, x2, y2 = p["head"]
            boxes.append([[x1, y1], [x2, y2]])
            pos.append(j)
            missing.append(~p["annotated"])
    path = folder / f"{split}.json"
    path.write_text(json.dumps(entries))
    if head_boxes and split == "valid":
        savemat(folder / "gt_valid.mat", {
            "headboxes_src": np.transpose(np.array(boxes, float), (1, 2, 0)),
            "pos_gt_src": np.transpose(np.array(pos, float), (1, 2, 0)),
            "jnt_missing": np.array(missing, float).T, "dataset_joints": np.array(
                [["rank"], ["rkne"], ["rhip"], ["lhip"], ["lkne"], ["lank"], ["pelv"], ["thor"], ["neck"],
                 ["head"], ["rwri"], ["relb"], ["rsho"], ["lsho"], ["lelb"], ["lwri"]], dtype=object)})
    return path, images


# --- MPI-INF-3DHP ----------------------------------------------------------------------------------
MPI3DHP_FROM_H36M = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9)  # 3DHP j <- H36M index
MPI3DHP_PUBLISHED = {"studio": ((1500.0686135995716, 1500.6590966853348, 1017.3794860438494, 1043.062824876024),
                                (2048, 2048)),
                     "outdoor": ((1683.482559482185, 1671.927242063379, 939.9278168524228, 560.2072491988034),
                                 (1920, 1080))}

_MATLAB_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 .")


def _mat73_dataset(f, name, arr):
    """A MATLAB v7.3 numeric variable: MATLAB's column-major array appears transposed to HDF5."""
    d = f.create_dataset(name, data=np.asarray(arr, np.float64))
    d.attrs["MATLAB_class"] = np.bytes_(b"double")
    return d


def write_3dhp_test(root, sequences=("TS1", "TS3", "TS5"), n_frames=20, seed=0, invalid_every=7,
                    userblock: bool = True):
    """``<root>/TSk/annot_data.mat`` in MATLAB v7.3 (HDF5) layout as h5py sees it: annot2 (N,1,17,2),
    annot3 / univ_annot3 (N,1,17,3) mm camera frame, valid_frame (N,1), activity_annotation (N,1).
    2D is the pinhole projection of annot3 with the published test-set intrinsics. Returns
    {seq: dict(annot2, annot3, univ_annot3, valid, activity)} in 3DHP joint order."""
    import h5py
    root = Path(root)
    truth = {}
    for si, seq in enumerate(sequences):
        kind = "outdoor" if seq in ("TS5", "TS6") else "studio"
        (fx, fy, cx, cy), _ = MPI3DHP_PUBLISHED[kind]
        m = synthetic_motion(n_frames, seed=seed + si) * 1000.0
        # world Z-up (mm) -> camera (x right, y down, z forward), person 4 m in front of the camera
        cam = np.stack([m[..., 0], -(m[..., 2] - 900.0), m[..., 1] + 4000.0], -1)
        a3 = cam[:, list(MPI3DHP_FROM_H36M)]
        u3 = (a3 - a3[:, 14:15]) * 0.95 + a3[:, 14:15]  # 'universal' skeleton: rescaled about the pelvis
        a2 = np.stack([fx * a3[..., 0] / a3[..., 2] + cx, fy * a3[..., 1] / a3[..., 2] + cy], -1)
        valid = np.ones(n_frames)
        if invalid_every:
            valid[invalid_every - 1::invalid_every] = 0
        activity = 1 + (np.arange(n_frames) * 7 // n_frames)
        folder = root / seq
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "annot_data.mat"
        with h5py.File(path, "w", userblock_size=512 if userblock else 0) as f:
            _mat73_dataset(f, "annot2", a2[:, None])
            _mat73_dataset(f, "annot3", a3[:, None])
            _mat73_dataset(f, "univ_annot3", u3[:, None])
            _mat73_dataset(f, "valid_frame", valid[:, None])
            _mat73_dataset(f, "activity_annotation", activity[:, None].astype(float))
            _mat73_dataset(f, "bb_crop", np.zeros((n_frames, 1, 4)))
        if userblock:
            with open(path, "r+b") as fh:
                fh.write(_MATLAB_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
        truth[seq] = dict(annot2=a2, annot3=a3, univ_annot3=u3, valid=valid.astype(bool), activity=activity)
    return truth


# --- BVH -------------------------------------------------------------------------------------------
# (name, parent, offset in cm, Y-up) -- a small biped; end sites are listed as (name, parent, offset, 'end')
_BVH_JOINTS = (
    ("Hips", None, (0, 0, 0)), ("LeftUpLeg", "Hips", (10, 0, 0)), ("LeftLeg", "LeftUpLeg", (0, -44, 0)),
    ("LeftFoot", "LeftLeg", (0, -42, 0)), ("RightUpLeg", "Hips", (-10, 0, 0)),
    ("RightLeg", "RightUpLeg", (0, -44, 0)), ("RightFoot", "RightLeg", (0, -42, 0)),
    ("Spine", "Hips", (0, 22, 0)), ("Spine1", "Spine", (0, 26, 0)), ("Neck", "Spine1", (0, 10, 0)),
    ("Head", "Neck", (0, 10, 0)), ("LeftArm", "Spine1", (17, 0, 0)), ("LeftForeArm", "LeftArm", (28, 0, 0)),
    ("LeftHand", "LeftForeArm", (25, 0, 0)), ("RightArm", "Spine1", (-17, 0, 0)),
    ("RightForeArm", "RightArm", (-28, 0, 0)), ("RightHand", "RightForeArm", (-25, 0, 0)),
)
_BVH_END_SITES = {"LeftFoot": (0, -6, 10), "RightFoot": (0, -6, 10), "Head": (0, 18, 0),
                  "LeftHand": (8, 0, 0), "RightHand": (-8, 0, 0)}
BVH_FIXTURE_MAPPING = {
    "pelvis": "Hips", "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
    "spine": "midpoint of Spine and Spine1", "thorax": "Spine1", "neck": {"joint": "Head", "offset": [0, 6, 0]},
    "head": "end of Head", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
}


def bvh_fixture_positions(root_pos_cm, yaw_deg):
    """Expected world positions (F, J, 3) cm, Y-up, of the fixture's joints (in _BVH_JOINTS order) and
    end sites (dict) when only the root moves and turns about Y by ``yaw_deg``."""
    cum = {}
    for name, parent, off in _BVH_JOINTS:
        cum[name] = np.asarray(off, float) + (cum[parent] if parent else 0)
    ends = {k: cum[k] + np.asarray(v, float) for k, v in _BVH_END_SITES.items()}
    a = np.deg2rad(np.asarray(yaw_deg, float))
    R = np.zeros((len(a), 3, 3))
    R[:, 0, 0] = np.cos(a); R[:, 0, 2] = np.sin(a); R[:, 1, 1] = 1; R[:, 2, 0] = -np.sin(a); R[:, 2, 2] = np.cos(a)
    rp = np.asarray(root_pos_cm, float)
    joints = np.stack([rp + R @ cum[n] for n, _, _ in _BVH_JOINTS], 1)
    return joints, {k: rp + R @ v for k, v in ends.items()}


def write_bvh(path, n_frames=12, fps=120.0, mapping_path=None):
    """A BVH file (Y-up, centimetres) of the small biped walking along +Z and turning; all non-root
    rotations are zero so positions are known in closed form (:func:`bvh_fixture_positions`).
    Optionally writes the joint-name mapping JSON. Returns (path, root_pos_cm, yaw_deg)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    children = {}
    for name, parent, off in _BVH_JOINTS:
        children.setdefault(parent, []).append((name, off))
    lines = ["HIERARCHY"]

    def emit(name, off, depth, root=False):
        ind = "  " * depth
        lines.append(f"{ind}{'ROOT' if root else 'JOINT'} {name}")
        lines.append(ind + "{")
        lines.append(f"{ind}  OFFSET {off[0]:.4f} {off[1]:.4f} {off[2]:.4f}")
        lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if root
                     else f"{ind}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for c, o in children.get(name, []):
            emit(c, o, depth + 1)
        if name in _BVH_END_SITES:
            e = _BVH_END_SITES[name]
            lines.extend([f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET {e[0]:.4f} {e[1]:.4f} {e[2]:.4f}", ind + "  }"])
        lines.append(ind + "}")

    emit("Hips", (0, 0, 0), 0, root=True)
    t = np.arange(n_frames)
    root_pos = np.stack([5 * np.sin(t / 5), 95 + 0 * t, 3.0 * t], -1)
    yaw = 4.0 * t
    lines += ["MOTION", f"Frames: {n_frames}", f"Frame Time: {1.0 / fps:.7f}"]
    nj = len(_BVH_JOINTS)
    for i in range(n_frames):
        vals = [*root_pos[i], 0.0, 0.0, yaw[i]] + [0.0] * (3 * (nj - 1))
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    path.write_text("\n".join(lines) + "\n")
    if mapping_path is not None:
        Path(mapping_path).write_text(json.dumps(BVH_FIXTURE_MAPPING, indent=1))
    return path, root_pos, yaw


class RandomImages:
    """A stand-in for :class:`posecore.data.images.ImageDataset` (the keys of its ``get_batch``) for
    tests and benchmarks: ``n`` random R x R images, random 3D poses (mm) from a seeded generator, 2D
    joints ``px_per_mm`` x their x, y around the crop centre, and Gaussian heatmap targets at
    ``heatmap_resolution`` (default R / 4)."""

    def __init__(self, n: int, has_3d: bool, R: int, px_per_mm: float = 0.2, heatmap_resolution: int | None = None):
        import torch
        from .images import crop_to_heatmap, heatmaps_from_joints
        g = torch.Generator().manual_seed(n + 7 * has_3d)
        self.n, self.R, self.has = n, R, has_3d
        self.p3 = torch.randn(n, 17, 3, generator=g) * 200                       # (n, 17, 3) mm
        self.j2 = self.p3[..., :2] * px_per_mm + R / 2                            # (n, 17, 2) crop px
        h = heatmap_resolution or R // 4
        self.hm = heatmaps_from_joints(crop_to_heatmap(self.j2, R, h), None, h)
        self.img = torch.rand(n, 3, R, R, generator=g)

    def __len__(self):
        return self.n

    def get_batch(self, idx):
        import torch
        idx = torch.as_tensor(idx, dtype=torch.long)
        B = len(idx)
        p3 = self.p3[idx] - self.p3[idx][:, :1]
        return dict(image=self.img[idx], heatmaps=self.hm[idx], joints_2d=self.j2[idx],
                    joints_visible=torch.ones(B, 17, dtype=torch.bool),
                    poses_3d=p3 if self.has else torch.zeros_like(p3), has_3d=torch.full((B,), self.has),
                    depth=p3[..., 2], intrinsics_crop=torch.ones(B, 4), index=idx, scene=["lab"] * B)
