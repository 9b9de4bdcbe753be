"""The shared 2D backbone (posecore.recipes.backbone): flips, batches, the left/right diagnostic,
training and loading, and its use as Zhou's stage 1; the wild-test fixes of the Zhou evaluation."""
import dataclasses

import numpy as np
import pytest
import torch

from posecore import metrics
from posecore.data.fixtures import RandomImages
from posecore.data.images import decode_heatmaps
from posecore.recipes import backbone
from posecore.skeleton import FLIP_PERMUTATION, LEFT_JOINTS, RIGHT_JOINTS


def tiny_cfg(**kw):
    return dataclasses.replace(backbone.config("smoke"), **kw)


def test_paired_joint_ratio_hand_worked():
    g = np.zeros((2, 17, 2))
    g[:, list(LEFT_JOINTS), 0], g[:, list(RIGHT_JOINTS), 0] = 2.0, -2.0     # every pair 4 px apart
    assert metrics.paired_joint_ratio(g, g) == pytest.approx(1.0)
    assert metrics.paired_joint_ratio(g * 0.25, g) == pytest.approx(0.25)
    mid = np.zeros_like(g)                                                    # both joints on the midpoint
    assert metrics.paired_joint_ratio(mid, g) == pytest.approx(0.0)
    vis = np.ones((2, 17), bool)
    vis[1] = False                                                            # sample 1 ignored
    p = g.copy()
    p[1] *= 10
    assert metrics.paired_joint_ratio(p, g, vis) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no pair"):
        metrics.paired_joint_ratio(g, g, np.zeros((2, 17), bool))


def test_flip_batch_mirrors_and_swaps():
    ds = RandomImages(4, True, 32, px_per_mm=0.02)                           # joints ~4 px around the centre
    b = ds.get_batch([0, 1, 2, 3])
    b["joints_heatmap"] = (b["joints_2d"] + 0.5) * 8 / 32 - 0.5
    mask = torch.tensor([True, False, True, False])
    f = backbone.flip_batch(b, mask)
    assert torch.equal(f["image"][1], b["image"][1]) and torch.equal(f["image"][0], b["image"][0].flip(-1))
    perm = list(FLIP_PERMUTATION)
    assert torch.allclose(f["joints_2d"][0, :, 0], 31 - b["joints_2d"][0, perm, 0])
    assert torch.allclose(f["joints_2d"][0, :, 1], b["joints_2d"][0, perm, 1])
    assert torch.allclose(f["poses_3d"][0, :, 0], -b["poses_3d"][0, perm, 0])
    assert torch.equal(f["depth"][0], b["depth"][0, perm])
    # the flipped heatmaps decode to the flipped joints (in heatmap px)
    c, _ = decode_heatmaps(f["heatmaps"][:1], method="argmax")
    c0, _ = decode_heatmaps(b["heatmaps"][:1], method="argmax")
    assert torch.allclose(c[0, :, 0], 7 - c0[0, perm, 0]) and torch.allclose(c[0, :, 1], c0[0, perm, 1])
    # twice is the identity
    ff = backbone.flip_batch(f, mask)
    for k in ("image", "heatmaps", "joints_2d", "joints_heatmap", "poses_3d", "depth", "joints_visible"):
        assert torch.allclose(ff[k].float(), b[k].float(), atol=1e-5), k
    with pytest.raises(ValueError, match="mask"):
        backbone.flip_batch(b, torch.tensor([True]))


def test_fresh_batches_deterministic_and_mixed():
    lab, wild = RandomImages(30, True, 32), RandomImages(20, False, 32)
    fb = backbone.FreshBatches(lab, wild, batch_size=8, wild_fraction=0.5, flip=True, seed=1)
    a, a2, c = fb(5), fb(5), fb(6)
    assert a["image"].shape == (8, 3, 32, 32) and a["heatmaps"].shape == (8, 17, 8, 8)
    assert torch.equal(a["image"], a2["image"]) and not torch.equal(a["image"], c["image"])
    only_lab = backbone.FreshBatches(lab, None, batch_size=6, flip=False)(0)
    assert only_lab["image"].shape[0] == 6


def test_config_checks_and_profiles():
    assert backbone.config("full").hourglass().heatmap_resolution == 64      # the paper's 256 px, 64 x 64 maps
    q = backbone.config("quick")
    assert q.flip and q.resolution == 64
    with pytest.raises(ValueError, match="eval_every"):
        tiny_cfg(steps=100, eval_every=15)
    with pytest.raises(ValueError, match="wild_fraction"):
        tiny_cfg(wild_fraction=1.0)
    with pytest.raises(ValueError, match="unknown"):
        backbone.config("smoke", nope=1)


def test_train_backbone_trains_logs_and_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    cfg = tiny_cfg(steps=4, eval_every=4)
    lab, wild = RandomImages(20, True, 32), RandomImages(20, False, 32)
    ev = {"lab": lab.get_batch(list(range(8)))}
    net, hist = backbone.train_backbone(cfg, lab, wild, ev, data_id="fake", progress=False)
    assert hist[-1]["step"] == 4 and 0.0 <= hist[-1]["lab_pckh"] <= 100.0 and "lab_pair_ratio" in hist[-1]
    assert all(np.isfinite(h["hm"]) for h in hist)
    path, _ = backbone.checkpoint(cfg, "fake")
    assert path.exists()
    again, hist2 = backbone.train_backbone(cfg, lab, wild, ev, data_id="fake", progress=False)  # loaded
    assert hist2 == hist
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    other, _ = backbone.checkpoint(dataclasses.replace(cfg, flip=False), "fake")
    assert other != path


def test_zhou_stage1_is_the_backbone(tmp_path, monkeypatch):
    from posecore.models.zhou import ZhouConfig
    from posecore.recipes.zhou import ImageTrainConfig, train_variant
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    cfg = tiny_cfg(steps=2, eval_every=2)
    lab, wild = RandomImages(20, True, 32), RandomImages(20, False, 32)
    net, _ = backbone.train_backbone(cfg, lab, wild, data_id="fake", progress=False)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    tc = ImageTrainConfig(model=ZhouConfig(hourglass=cfg.hourglass(), reg_modules=1), batch_size=4, stage1_steps=99,
                          stage2_steps=2, stage3_steps=2, optimizer="adam", lr=1e-3)
    canonical = torch.ones(16) * 100
    m2, h = train_variant("3D/wo geo", tc, lab, wild, canonical, progress=False, stages=(1,), backbone=(state, "bb1"))
    assert h[1] == []                                                   # nothing trained in stage 1
    for k, v in m2.hourglass.state_dict().items():
        assert torch.equal(v, state[k]), k
    m3, h3 = train_variant("3D+2D/w geo", tc, lab, wild, canonical, progress=False, backbone=(state, "bb1"))
    assert set(h3) == {1, 2, 3} and "geo" in h3[3][-1]
    assert any(not torch.equal(v, state[k]) for k, v in m3.hourglass.state_dict().items())


def test_geometric_loss_reaches_the_hourglass(monkeypatch):
    """Fix (b): in stage 3 the geometric loss on the 2D-only images trains the shared features too
    (the heatmap loss is switched off here, so any hourglass gradient comes from the geometric loss)."""
    from posecore.models.zhou import ZhouConfig, ZhouNet
    from posecore.recipes import zhou
    from posecore.recipes.images import MixedBatches
    monkeypatch.setattr(zhou, "heatmap_loss", lambda preds, target, vis: sum(p.sum() * 0 for p in preds))
    torch.manual_seed(0)
    cfg = zhou.ImageTrainConfig(model=ZhouConfig(hourglass=tiny_cfg().hourglass(), reg_modules=1), batch_size=4,
                                lambda_geo=1.0, optimizer="adam")
    model = ZhouNet(cfg.model)
    wild = RandomImages(10, False, 32, px_per_mm=0.02)
    batch = MixedBatches(wild, None, 4, 0.0)(0)                  # 2D-only images only (BatchNorm couples rows)
    batch["is_wild"] = torch.ones_like(batch["is_wild"])
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    step = zhou.make_step_fn(model, opt, 3, cfg, np.linspace(50, 400, 16), zhou.VARIANTS["3D+2D/w geo"])
    model.train()
    logs = step(batch, 1)
    g = sum(float(p.grad.abs().sum()) for n, p in model.hourglass.named_parameters()
            if p.grad is not None and n.startswith("hourglasses"))
    assert logs["geo"] > 0 and g > 0


def test_evaluate_images_true_scale():
    """Fix (c): with the true bone-length sum a perfect (2D, depth) prediction scores ~0 mm whatever the
    subject's size; with the canonical sum the size difference shows."""
    from posecore.evaluate import evaluate_images, gt_depth_norm
    from posecore.skeleton import bone_lengths
    g = torch.Generator().manual_seed(0)
    p3 = torch.randn(5, 17, 3, generator=g).double() * 200
    p3 = p3 - p3[:, :1]
    j2 = p3[..., :2] * 0.1 + 32
    pred = dict(joints_2d=j2.numpy(), gt_2d=j2.numpy(), visible=np.ones((5, 17), bool), gt_3d=p3.numpy(),
                has_3d=np.ones(5, bool), resolution=64, scene=np.array(["plain"] * 5))
    pred["depth"] = gt_depth_norm(pred)
    canon = float(bone_lengths(p3.numpy()).sum(-1).mean()) * 1.2
    assert evaluate_images(pred, canon, scale="true")["mpjpe"] < 1e-6
    assert evaluate_images(pred, canon)["mpjpe"] > 1.0
    with pytest.raises(ValueError, match="scale"):
        evaluate_images(pred, canon, scale="gt")


def test_bf16_backbone_trains_in_bf16_and_is_keyed_by_precision(tmp_path, monkeypatch):
    """precision='bf16': the hourglass's forward pass in training runs under bf16 autocast, the weights
    stay fp32, and the checkpoint differs from the fp32 one; an unknown precision is refused."""
    from posecore.models.hourglass import StackedHourglass
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    dtypes = []
    forward = StackedHourglass.forward

    def spy(self, x):
        out = forward(self, x)
        if self.training:
            dtypes.append(out["heatmaps"][-1].dtype)
        return out
    monkeypatch.setattr(StackedHourglass, "forward", spy)
    cfg = tiny_cfg(steps=2, eval_every=2, precision="bf16")
    lab, wild = RandomImages(20, True, 32), RandomImages(20, False, 32)
    net, hist = backbone.train_backbone(cfg, lab, wild, data_id="fake", progress=False)
    assert dtypes == [torch.bfloat16, torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in net.parameters()) and np.isfinite(hist[-1]["hm"])
    path, sc = backbone.checkpoint(cfg, "fake")
    assert path.exists() and sc["precision"] == "bf16"
    assert backbone.checkpoint(dataclasses.replace(cfg, precision="fp32"), "fake")[0] != path
    with pytest.raises(ValueError, match="precision"):
        tiny_cfg(precision="fp16")


# --- held-out wild images, the facing loss, the left/right diagnostics (renderer VERSION 2) -------------
class _Recording:
    """An ImageDataset stand-in that records every index it is asked to render."""

    def __init__(self, n, has_3d):
        self.inner, self.seen = RandomImages(n, has_3d, 32), set()

    def __len__(self):
        return len(self.inner)

    def get_batch(self, idx):
        self.seen.update(int(i) for i in idx)
        return self.inner.get_batch(idx)


def test_the_backbone_never_sees_a_held_out_wild_image():
    from posecore.recipes.images import wild_holdout
    lab, wild = _Recording(40, True), _Recording(80, False)
    fb = backbone.FreshBatches(lab, wild, batch_size=16, wild_fraction=0.5, flip=True, seed=3)
    for step in range(60):
        fb(step)
    held = set(wild_holdout(80).tolist())
    assert len(held) == 20                                   # a quarter of a small split
    assert wild.seen and not (wild.seen & held)
    assert len(lab.seen) > 30                                # the lab split is drawn from whole


def test_the_image_chapters_held_out_wild_images_are_outside_every_pool():
    from posecore.recipes.images import WILD_HOLDOUT, pool_indices, wild_holdout
    n = 7512
    held = wild_holdout(n)
    assert len(held) == min(WILD_HOLDOUT, n // 4) == 1878 and np.array_equal(held, np.sort(held))
    assert np.array_equal(held, wild_holdout(n))             # fixed: no seed reaches it
    for pool, seed in ((0, 0), (1200, 0), (1200, 5), (24, 1)):
        p = pool_indices(n, pool, seed, "wild_train")
        assert not np.intersect1d(p, held).size
        assert len(p) == (pool or n - len(held))
    assert len(pool_indices(100, 0, 0, "train")) == 100      # the lab split keeps every image


def test_facing_target_reads_the_2d_labels_and_survives_a_flip():
    from posecore.models.hourglass import FacingHead, facing_target
    j = torch.zeros(2, 17, 2)
    j[:, :, 0] = 16.0
    j[0, [4, 11], 0], j[0, [1, 14], 0] = 20.0, 12.0          # sample 0: left joints right of the right ones
    j[1, [4, 11], 0], j[1, [1, 14], 0] = 12.0, 20.0          # sample 1: seen from behind
    vis = torch.ones(2, 17, dtype=torch.bool)
    t, w = facing_target(j, vis, 32)
    assert t.tolist() == [1.0, 0.0] and w.tolist() == [1.0, 1.0]      # |d| = 16 px >= 0.1 x 32
    flipped = j[:, list(FLIP_PERMUTATION)].clone()
    flipped[..., 0] = 31 - flipped[..., 0]
    assert facing_target(flipped, vis, 32)[0].tolist() == [1.0, 0.0]
    vis[1, 14] = False
    assert facing_target(j, vis, 32)[1].tolist() == [1.0, 0.0]         # a hidden shoulder: no answer
    head = FacingHead(16, 2)
    logits = head([torch.randn(3, 16, 8, 8), torch.randn(3, 16, 8, 8)])
    assert len(logits) == 2 and logits[0].shape == (3,)


def test_training_with_the_facing_loss_logs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    cfg = tiny_cfg(steps=4, eval_every=4, facing_weight=0.01)
    lab, wild = RandomImages(20, True, 32), RandomImages(20, False, 32)
    ev = {"lab": lab.get_batch(list(range(8)))}
    net, hist = backbone.train_backbone(cfg, lab, wild, ev, data_id="fake", progress=False)
    assert all(np.isfinite(h["facing"]) for h in hist if "facing" in h) and any("facing" in h for h in hist)
    assert "facing." not in " ".join(net.state_dict())      # the facing head is not part of the backbone
    assert backbone.checkpoint(cfg, "fake")[0] != backbone.checkpoint(tiny_cfg(steps=4, eval_every=4), "fake")[0]
    with pytest.raises(ValueError, match="facing_weight"):
        tiny_cfg(facing_weight=-1.0)


def test_partner_nearer_hand_worked():
    g = np.zeros((1, 17, 2))
    g[:, list(LEFT_JOINTS), 0], g[:, list(RIGHT_JOINTS), 0] = 2.0, -2.0
    assert metrics.partner_nearer(g, g) == 0.0
    assert metrics.partner_nearer(g[:, list(FLIP_PERMUTATION)], g) == 100.0      # every pair swapped
    half = g.copy()
    half[:, list(LEFT_JOINTS), 0] = -1.9                                       # the left joints at the right ones
    assert metrics.partner_nearer(half, g) == pytest.approx(50.0)
    ev = backbone.evaluate_2d(g, g, np.ones((1, 17), bool), head_size=np.array([1.0]))
    assert ev["pckh"] == 100.0 and ev["partner_nearer"] == 0.0 and "pckh_joints" in ev


def test_flip_outputs_of_a_mirror_consistent_network_is_its_single_pass():
    """A network whose mirror outputs are exactly its outputs mirrored (maps flipped, left and right
    swapped; depths swapped) gains nothing from the flip test: the average is the single pass."""
    from posecore.recipes.images import flip_outputs
    g = torch.Generator().manual_seed(1)
    hm, d = torch.rand(3, 17, 8, 8, generator=g), torch.randn(3, 17, generator=g)
    perm = torch.as_tensor(FLIP_PERMUTATION)
    out = flip_outputs({"heatmaps": [hm], "depth": d}, {"heatmaps": [hm.flip(-1)[:, perm]], "depth": d[:, perm]})
    assert torch.allclose(out["heatmaps"][0], hm) and torch.allclose(out["depth"], d)
    # a mirror that is not relabelled (the left map where the right one belongs) does change the maps
    wrong = flip_outputs({"heatmaps": [hm]}, {"heatmaps": [hm.flip(-1)]})
    assert "depth" not in wrong and not torch.allclose(wrong["heatmaps"][0], hm)


def test_flip_test_prediction_of_a_mirrored_image_is_the_mirrored_prediction():
    """With the flip test the 2D of a mirrored image is exactly the mirror of the image's 2D (x -> R - 1 - x,
    left and right swapped), for any network; a single pass of an untrained one is not."""
    from posecore.models.hourglass import StackedHourglass
    torch.manual_seed(0)
    cfg = backbone.config("smoke")
    net = StackedHourglass(cfg.hourglass()).eval()
    x = torch.rand(4, 3, cfg.resolution, cfg.resolution, generator=torch.Generator().manual_seed(2))
    R = cfg.resolution

    def mirrored(p):
        q = p[:, FLIP_PERMUTATION].clone()
        q[..., 0] = R - 1 - q[..., 0]
        return q
    a, b = backbone.predict_2d(net, x, flip_test=True), backbone.predict_2d(net, x.flip(-1), flip_test=True)
    assert torch.allclose(b, mirrored(a), atol=1e-4)
    a1, b1 = backbone.predict_2d(net, x), backbone.predict_2d(net, x.flip(-1))
    assert not torch.allclose(b1, mirrored(a1), atol=1e-2)


def test_evaluate_images_scores_the_single_pass_beside_the_flip_test():
    from posecore.evaluate import evaluate_images
    gt = np.random.default_rng(0).uniform(10, 50, (4, 17, 2))
    pred = dict(joints_2d=gt.copy(), joints_2d_single=gt + 30.0, gt_2d=gt, visible=np.ones((4, 17), bool),
                head_size=np.full(4, 10.0), depth=np.zeros((4, 17)), has_3d=np.zeros(4, bool), resolution=64,
                scene=np.array(["lab"] * 4))
    ev = evaluate_images(pred, 4000.0)
    assert ev["pckh"] == 100.0 and ev["pckh_single"] == 0.0
    del pred["joints_2d_single"]
    assert "pckh_single" not in evaluate_images(pred, 4000.0)
