"""Wang et al.'s image half (posecore.recipes.wang_image): label generation on known poses (true
intrinsics and an assumed focal), the relabelled wild images in 1:1 mixed batches (depth targets on
every row), a row trains from the backbone, is seeded and loads from its checkpoint, the probe's clip
subsets / time split (no mocap frame in both training and test windows) / training / accuracy, the
Fig. 7 depth-trajectory numbers, and the exported network."""
import dataclasses

import numpy as np
import pytest
import torch

from posecore import api
from posecore.data.fixtures import RandomImages
from posecore.data.toy import toy_poseset
from posecore.models.hourglass import StackedHourglass
from posecore.models.probe import mocap_frames, split_in_time, windows
from posecore.recipes import backbone, zhou
from posecore.recipes import wang_image as wi
from posecore.recipes.images import MixedBatches


class TrueLifter:
    """A stand-in generator whose reconstruction is the true root-relative pose (+ an optional offset)."""

    def __init__(self, poses_3d, offset=0.0):
        self.p, self.offset = poses_3d, offset

    def reconstruct(self, poses_2d, intrinsics=None):
        return self.p - self.p[:, :1] + self.offset


def test_rows_and_config():
    assert [n for n, r in wi.VARIANTS.items() if r.paper] == ["Wang"]
    assert {r.labels for r in wi.VARIANTS.values()} == set(wi.LABELS)
    q, z = wi.config("quick"), zhou.config("quick")
    assert q.window == 25 and q.probe_seeds == 5
    assert q.row_steps(z) == z.stage2_steps + z.stage3_steps                  # the Zhou row's compute
    assert wi.config("quick", steps=7).row_steps(z) == 7
    # a lab motion needs 25 training + 10 gap + 25 test frames
    assert q.probe_gap == 10 and q.min_lab_clip == 60 and q.probe_lab_frames == 0
    assert wi.config("smoke").min_lab_clip == 12
    # 3/4 train: 97 frames after the gap are the fewest leaving 25 test frames (97 - floor(72.75) = 25)
    assert wi.config("quick", probe_train_fraction=0.75).min_lab_clip == 97 + 10
    for bad in (dict(steps=-1), dict(window=1), dict(stride=0), dict(probe_seeds=0), dict(probe_gap=-1),
                dict(probe_train_fraction=1.0)):
        with pytest.raises(ValueError, match="WangImageConfig"):
            wi.config("smoke", **bad)


def test_wild_labels_recover_known_poses():
    s = toy_poseset(30, seed=2)
    lab = wi.wild_labels(TrueLifter(s.poses_3d), s, hidden_3d=s.poses_3d)
    truth = s.poses_3d - s.poses_3d[:, :1]
    p, v = lab["generated"]
    assert v.all()
    np.testing.assert_allclose(p, truth, atol=1.0)                           # exact pose -> GS keeps it
    np.testing.assert_allclose(lab["generated_no_gs"][0], truth, atol=1e-3)
    np.testing.assert_allclose(lab["true"][0], truth, atol=1e-3)
    q = wi.label_quality(p, v, truth)
    assert q["mpjpe"] < 1.0 and q["pck"] == 100.0 and q["valid"] == 30 and q["invalid"] == 0
    # a wrong reconstruction: geometric search re-anchors x, y on the 2D, so the GS labels are closer
    off = np.zeros((1, 17, 3))
    off[0, 1:, 0] = 80.0
    bad = wi.wild_labels(TrueLifter(s.poses_3d, off), s, hidden_3d=s.poses_3d)
    q_gs = wi.label_quality(*bad["generated"], truth)
    q_raw = wi.label_quality(*bad["generated_no_gs"], truth)
    assert q_raw["mpjpe"] == pytest.approx(80.0 * 16 / 17, rel=1e-3)
    assert q_gs["mpjpe"] < q_raw["mpjpe"]
    with pytest.raises(ValueError, match="hidden_3d"):
        wi.wild_labels(TrueLifter(s.poses_3d), s, hidden_3d=s.poses_3d[:3])


def test_relabelled_images_train_depth_in_one_to_one_batches():
    lab, wild = RandomImages(8, True, 32), RandomImages(8, False, 32)
    labels = np.random.default_rng(0).normal(size=(8, 17, 3)).astype(np.float32) * 300
    valid = np.array([True] * 7 + [False])
    rw = wi.Relabelled(wild, labels, valid)
    b = rw.get_batch([2, 7])
    np.testing.assert_allclose(b["poses_3d"][0].numpy(), labels[2] - labels[2, :1], atol=1e-4)
    assert b["has_3d"].tolist() == [True, False] and float(b["poses_3d"][1].abs().sum()) == 0
    mb = MixedBatches(lab, rw, 6, 0.5, seed=0)(1)
    assert mb["is_wild"].tolist() == [False] * 3 + [True] * 3                # 1:1
    has = mb["has_3d"].bool()
    assert torch.isfinite(mb["depth_target"][has]).all() and torch.isnan(mb["depth_target"][~has]).all()
    assert has[3:].sum() >= (np.asarray(mb["index"][3:]) != 7).sum()        # wild rows carry depth targets
    plain = MixedBatches(lab, wild, 6, 0.5, seed=0)(1)
    assert not plain["has_3d"][3:].any()                                    # without labels: 2D only
    with pytest.raises(ValueError, match="Relabelled"):
        wi.Relabelled(wild, labels[:3], valid[:3])


def _setup(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path))
    bcfg = backbone.config("smoke")
    torch.manual_seed(0)
    state = StackedHourglass(bcfg.hourglass()).state_dict()
    R = bcfg.resolution
    lab, wild = RandomImages(8, True, R), RandomImages(8, False, R)
    d = dict(images={"train": lab, "wild_train": wild}, canonical=np.full(16, 200.0, np.float32), data_id="toy")
    p3 = wild.p3.numpy()
    labels = {"generated": (p3 * 0.9, np.ones(8, bool)), "generated_no_gs": (p3 * 0.8, np.ones(8, bool)),
              "true": (p3, np.ones(8, bool))}
    return bcfg, (state, "test-backbone"), d, labels


def test_train_row_trains_is_seeded_and_loads(tmp_path, monkeypatch):
    bcfg, bb, d, labels = _setup(tmp_path, monkeypatch)
    zc = zhou.config("smoke")
    m, h = wi.train_variant("Wang", zc, bcfg, bb, d, labels, seed=0, steps=3, progress=False)
    assert len(h) >= 1 and np.isfinite(h[-1]["depth"]) and h[-1]["depth"] > 0   # the wild rows' depth trained
    again, _ = wi.train_variant("Wang", zc, bcfg, bb, d, labels, seed=0, steps=3, progress=False)
    for k, v in m.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("wang-image-stage2-*.pt"))
    assert len(names) == 1
    wi.train_variant("oracle: true wild 3D", zc, bcfg, bb, d, labels, seed=0, steps=3, progress=False)
    other, _ = wi.train_variant("Wang", zc, bcfg, bb, d, labels, seed=1, steps=3, progress=False)
    assert len(list((tmp_path / "checkpoints").glob("wang-image-stage2-*.pt"))) == 3   # labels, seed: new runs
    assert not torch.equal(other.depth.linear.weight, m.depth.linear.weight)
    # the exported network gives the same 2D as the model
    path = api.export_image_model(api.default_image_export("wang"), "wang", m, d["canonical"])
    x = d["images"]["train"].get_batch([0, 1])["image"]
    out = api.load_image_model("wang", path)(x)
    with torch.no_grad():
        hm = m(x)["heatmaps"][-1]
    assert out["pose_3d"].shape == (2, 17, 3) and np.isfinite(out["pose_3d"]).all()
    assert hm.shape[0] == 2
    with pytest.raises(ValueError, match="not an exported posecore zhou"):
        api.load_image_model("zhou", path)


def test_clip_indices_and_probe_learns_separable_windows():
    groups = np.array(["a"] * 5 + ["b"] * 4)
    frames = np.r_[np.arange(5)[::-1], np.arange(4)]
    assert wi.clip_indices(groups, frames, max_per_clip=2).tolist() == [3, 4, 5, 6]
    assert wi.clip_indices(groups, frames, candidates=[0, 1, 5]).tolist() == [0, 1, 5]
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    x = rng.normal(size=(120, 30)).astype(np.float32) + y[:, None] * 2.0     # 3 well separated classes
    cfg = dataclasses.replace(wi.config("smoke"), probe_steps=150, probe_width=32)
    r = wi.train_probe(x[::2], y[::2], x[1::2], y[1::2], 3, cfg, seed=0)
    assert r["accuracy"] > 95 and r["confusion"].sum() == 60
    noise = wi.train_probe(x[::2], rng.permutation(y[::2]), x[1::2], y[1::2], 3, cfg, seed=0)
    assert noise["accuracy"] < 70                                           # labels shuffled: no signal
    again = wi.train_probe(x[::2], y[::2], x[1::2], y[1::2], 3, cfg, seed=0)
    assert again["accuracy"] == r["accuracy"]                                # seeded
    # features that are constant up to rounding noise (the pelvis in the body frame) must not be blown
    # up to unit variance: with 40 such columns the probe still separates the classes
    noisy = np.concatenate([x, rng.normal(size=(120, 40)).astype(np.float32) * 1e-7], 1)
    assert wi.train_probe(noisy[::2], y[::2], noisy[1::2] * np.r_[np.ones(30), np.full(40, 50.0)].astype(np.float32),
                          y[1::2], 3, cfg, seed=0)["accuracy"] > 95
    with pytest.raises(ValueError, match="no windows"):
        wi.train_probe(x[:0], y[:0], x[1::2], y[1::2], 3, cfg)


def test_probe_features_and_depth_spread_hand_values():
    s = toy_poseset(6, seed=0)
    win = np.array([[0, 1, 2], [3, 4, 5]])
    f3 = wi.probe_features(s.poses_3d, win)
    assert f3.shape == (2, 3 * 17 * 3)
    f2 = wi.probe_features(wi.pose_2d_features(s.poses_2d), win)
    assert f2.shape == (2, 3 * 17 * 2)
    z = np.zeros((4, 17, 3))
    z[:, 1:, 2] = np.array([0.0, 10.0, 0.0, 10.0])[:, None]                 # depth alternates 0 / 10 mm
    assert wi.clip_depth_spread(z, np.array([[0, 1, 2, 3]])) == pytest.approx(5.0)
    z[:, :, 2] += 1000.0                                                    # root-relative: shifts cancel
    assert wi.clip_depth_spread(z, np.array([[0, 1, 2, 3]])) == pytest.approx(5.0)
    flat = np.zeros((4, 17, 3))
    assert wi.clip_depth_spread(flat, np.array([[0, 1, 2, 3]])) == 0.0


def _lab_like(n_frames=(77, 40, 93), subjects=("L6", "L7"), cameras=("c1", "c2"), first=(232, 10, 280)):
    """Clips as posecore-synth's lab test: every body and camera shows the *same* mocap frames of a
    motion (stored shuffled)."""
    rows = [(m, s, c, f0 + f) for m, (n, f0) in enumerate(zip(n_frames, first)) for s in subjects for c in cameras
            for f in range(n)]
    rows = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    motion = np.array([f"motion{m}" for m, *_ in rows])
    clip = np.array([f"{s}|motion{m}|{c}" for m, s, c, _ in rows])
    frame = np.array([f for *_, f in rows])
    return motion, clip, frame


def test_time_split_shares_no_mocap_frame():
    motion, clip, frame = _lab_like()
    win = windows(clip, frame, length=25, stride=2)
    w_tr, w_te = split_in_time(clip, motion, frame, length=25, stride=2, gap=10)
    assert len(w_tr) and len(w_te)
    # the leak this split removes: windows of L6 and L7 (or of two cameras) over the same mocap frames
    subj = np.array([c.split("|")[0] for c in clip])
    l6, l7 = win[subj[win[:, 0]] == "L6"], win[subj[win[:, 0]] == "L7"]
    assert mocap_frames(l6, motion, frame) == mocap_frames(l7, motion, frame)
    # no (motion, frame) pair is in both, and every test frame of a motion is >= 10 frames after its training frames
    assert not mocap_frames(w_tr, motion, frame) & mocap_frames(w_te, motion, frame)
    for m in set(motion):
        f_tr = frame[w_tr][motion[w_tr[:, 0]] == m]
        f_te = frame[w_te][motion[w_te[:, 0]] == m]
        if len(f_tr) and len(f_te):
            assert f_te.min() - f_tr.max() > 10
            starts_tr, starts_te = f_tr[:, 0], f_te[:, 0]
            assert starts_te.min() - starts_tr.max() >= 25 + 10          # window length + gap
    # every window is consecutive frames of one clip
    for w in (w_tr, w_te):
        assert (clip[w] == clip[w[:, :1]]).all() and (np.diff(frame[w], axis=1) == 1).all()
    # a motion of 40 frames is too short for both sides (15 frames each after the gap): no window
    assert not (motion[w_tr[:, 0]] == "motion1").any() and not (motion[w_te[:, 0]] == "motion1").any()
    # every body and camera of a motion is split at the same mocap frame: both sides hold both bodies
    assert {s for s in subj[w_tr[:, 0]]} == {"L6", "L7"} == {s for s in subj[w_te[:, 0]]}
    # hand-worked: 77 frames 232..308, gap 10 -> cut 232 + floor(67 / 2) = 265; training frames 232..264
    # (windows at 232, 234, ..., 240: 5 per clip), test frames 275..308 (windows at 275, ..., 283: 5 per clip)
    m0_tr, m0_te = w_tr[motion[w_tr[:, 0]] == "motion0"], w_te[motion[w_te[:, 0]] == "motion0"]
    assert frame[m0_tr].min() == 232 and frame[m0_tr].max() == 264 and len(m0_tr) == 5 * 4
    assert frame[m0_te].min() == 275 and len(m0_te) == 5 * 4
    # the L6 -> L7 split would have shared every frame
    assert mocap_frames(l6, motion, frame) & mocap_frames(l7, motion, frame)
    with pytest.raises(ValueError, match="gap"):
        split_in_time(clip, motion, frame, gap=-1)
    with pytest.raises(ValueError, match="two motion clips"):
        split_in_time(np.array(["x", "x"]), np.array(["a", "b"]), np.array([0, 1]), length=1)
    e_tr, e_te = split_in_time(clip[:0], motion[:0], frame[:0])
    assert e_tr.shape == e_te.shape == (0, 25)


def test_lab_clip_selection_keeps_clips_long_enough_for_both_sides():
    motion, clip, frame = _lab_like()
    cfg = wi.config("quick")
    idx = wi.clip_indices(clip, frame, min_len=cfg.min_lab_clip)
    assert set(motion[idx]) == {"motion0", "motion2"}                     # 77 and 93 frames; 40 is too short
    assert len(idx) == (77 + 93) * 4
    capped = wi.clip_indices(clip, frame, max_per_clip=30, min_len=cfg.min_lab_clip)
    assert len(capped) == 0                                               # capped below the minimum: nothing
    assert len(wi.clip_indices(clip, frame, max_per_clip=30)) == 3 * 4 * 30


def test_assumed_focal_labels():
    s = toy_poseset(30, seed=4)
    assert wi.intrinsics_known(s).all()
    K = wi.label_camera(s, focal=800.0)
    assert (K[:, :2] == 800.0).all()
    np.testing.assert_allclose(K[:, 2:], s.poses_2d.mean(1), atol=1e-3)    # principal point at the person
    np.testing.assert_allclose(wi.label_camera(s), s.intrinsics)          # known intrinsics kept by default
    with pytest.raises(ValueError, match="focal"):
        wi.label_camera(s, focal=0.0)
    truth = s.poses_3d - s.poses_3d[:, :1]
    lab = wi.wild_labels(TrueLifter(s.poses_3d), s, hidden_3d=s.poses_3d, assumed_focal=wi.NOMINAL_FOCAL)
    assert list(lab) == ["generated", "generated_no_gs", "generated_assumed_f", "true"]
    q_true = wi.label_quality(*lab["generated"], truth)
    q_f = wi.label_quality(*lab["generated_assumed_f"], truth)
    # the same reconstruction; the geometric search through the wrong camera moves the pose off the truth
    assert q_true["mpjpe"] < 1.0 and q_f["mpjpe"] > 5.0
    assert "generated_assumed_f" not in wi.wild_labels(TrueLifter(s.poses_3d), s)
    assert float(np.asarray(s.intrinsics)[0, 0]) != wi.NOMINAL_FOCAL        # (the test's camera is not the nominal one)


def test_depth_tracking_rewards_following_not_jitter():
    T = 25
    t = np.zeros((T, 17, 3))
    t[:, :, 2] = 5000.0
    t[:, 1:, 2] += 100.0 * np.sin(np.linspace(0, 2 * np.pi, T))[:, None] * np.linspace(0.5, 1.5, 16)
    win = np.arange(T)[None]
    same = wi.depth_tracking(t, t, win)
    assert same["corr"] == pytest.approx(1.0) and same["dz_error"] == pytest.approx(0.0)
    assert same["pairs"] == 16
    scaled = t.copy()
    scaled[..., 2] = 3000.0 + 0.5 * (t[..., 2] - 5000.0)                   # a depth scale and offset: still follows
    assert wi.depth_tracking(scaled, t, win)["corr"] == pytest.approx(1.0)
    flipped = t.copy()
    flipped[..., 2] = 10000.0 - t[..., 2]
    assert wi.depth_tracking(flipped, t, win)["corr"] == pytest.approx(-1.0)
    flat = t.copy()
    flat[..., 2] = 5000.0
    f = wi.depth_tracking(flat, t, win)
    assert f["corr"] == 0.0 and f["spread"] == 0.0
    assert f["dz_error"] == pytest.approx(np.abs(np.diff(t[:, 1:, 2] - t[:, :1, 2], axis=0)).mean())
    # jitter: a larger within-window spread than the truth's (the old Fig. 7 number would reward it) but a
    # lower correlation and a larger frame-to-frame error than following the truth
    rng = np.random.default_rng(0)
    jit = flat.copy()
    jit[:, 1:, 2] += rng.normal(0, 150.0, (T, 16))
    j = wi.depth_tracking(jit, t, win)
    assert j["spread"] > same["spread"]
    assert abs(j["corr"]) < 0.5 and j["dz_error"] > f["dz_error"]
    # joints whose true depth does not move are left out of the correlation
    still = t.copy()
    still[:, 1:9, 2] = 5000.0
    assert wi.depth_tracking(t, still, win)["pairs"] == 8
    with pytest.raises(ValueError, match="differ"):
        wi.depth_tracking(t[:, :, :2], t, win)


def test_clip_passes_separate_repeated_renderings_of_a_clip():
    # posecore-synth's wild training split: each motion rendered twice under one subject / sequence, one
    # frame missing from the second pass (a view out of the image)
    groups = np.array(["a"] * 5 + ["a"] * 4 + ["b"] * 3)
    frames = np.r_[np.arange(5), [0, 1, 3, 4], np.arange(3)]
    p = wi.clip_passes(groups, frames)
    assert p.tolist() == [0] * 5 + [1] * 4 + [0] * 3
    # without the pass the windows interleave the two renderings: frames 0, 0, 1, 1, ...
    assert frames[windows(groups, frames, length=4)[0]].tolist() == [0, 0, 1, 1]
    keyed = np.char.add(groups, p.astype(str))
    assert all((np.diff(frames[w]) > 0).all() for w in windows(keyed, frames, length=3))
    with pytest.raises(ValueError, match="matching"):
        wi.clip_passes(groups, frames[:3])
