"""Wang et al.'s image half (posecore.recipes.wang_image): label generation on known poses, the
relabelled wild images in 1:1 mixed batches (depth targets on every row), a row trains from the
backbone, is seeded and loads from its checkpoint, the probe's clip subsets / training / accuracy,
the depth-spread number, and the exported network."""
import dataclasses

import numpy as np
import pytest
import torch

from posecore import api
from posecore.data.fixtures import RandomImages
from posecore.data.toy import toy_poseset
from posecore.models.hourglass import StackedHourglass
from posecore.recipes import backbone, wang_image as wi, zhou
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
    for bad in (dict(steps=-1), dict(window=1), dict(stride=0), dict(probe_seeds=0)):
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
