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
