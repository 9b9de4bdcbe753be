"""Zhou et al. ICCV'17 network: shapes, depth units, the bone-length scaling, geo gradient, overfit."""
import pytest
import torch

from posecore.data.fixtures import RandomImages
from posecore.losses import depth_loss, geometric_loss, heatmap_loss
from posecore.models.hourglass import HourglassConfig, heatmaps_from_joints
from posecore.models.zhou import ZhouConfig, ZhouNet, assemble_pose_3d, depth_target, pixel_per_mm
from posecore.skeleton import BONES


def tiny(stacks=1, modules=1, res=32):
    return ZhouConfig(hourglass=HourglassConfig(stacks=stacks, modules=modules, features=16, depth=2,
                                                resolution=res), reg_modules=1)


@pytest.mark.parametrize("stacks,modules,res", [(1, 1, 32), (2, 2, 32), (2, 1, 64)])
def test_output_shapes(stacks, modules, res):
    torch.manual_seed(0)
    out = ZhouNet(tiny(stacks, modules, res)).eval()(torch.rand(3, 3, res, res))
    assert out["depth"].shape == (3, 17)
    assert len(out["heatmaps"]) == stacks
    assert out["heatmaps"][-1].shape == (3, 17, res // 4, res // 4)


def test_config_roundtrip_from_dict():
    cfg = tiny()
    assert ZhouConfig(**cfg.to_dict()) == cfg


def test_bone_length_scaling_hand_worked():
    # a 2-bone chain: root (0,0), joint 1 at (3 px, 0) with depth 4 px -> length 5 px;
    # joint 2 at (3, 6) same depth -> length 6 px. Sum 11 px; canonical sum 22 mm -> scale 2.
    bones = ((0, 1), (1, 2))
    j2d = torch.tensor([[[10.0, 10.0], [13.0, 10.0], [13.0, 16.0]]])
    depth = torch.tensor([[1.0, 5.0, 5.0]])              # root-relative: 0, 4, 4
    pose = assemble_pose_3d(j2d, depth, 22.0, root=torch.tensor([[100.0, 0.0, 5000.0]]), bones=bones)
    expected = torch.tensor([[[100.0, 0, 5000], [106, 0, 5008], [106, 12, 5008]]])
    assert torch.allclose(pose, expected)


def test_depth_target_units():
    # weak perspective: 2D = 0.1 px/mm * 3D x-y -> depth target = z * 0.1 / (R / 2)
    torch.manual_seed(0)
    p3 = torch.randn(2, 17, 3) * 300
    j2d = p3[..., :2] * 0.1 + 32
    assert torch.allclose(pixel_per_mm(j2d, p3), torch.full((2,), 0.1), atol=1e-5)
    t = depth_target(j2d, p3, 64)
    assert torch.allclose(t, (p3[..., 2] - p3[:, :1, 2]) * 0.1 / 32, atol=1e-5)
    # the full scaling recovers the pose up to the canonical bone sum
    rec = assemble_pose_3d(j2d, t * 32, float(sum((p3[0, c] - p3[0, p]).norm() for p, c in BONES)))
    assert torch.allclose(rec[0], p3[0] - p3[0, :1], atol=1e-2)


def test_geo_rows_block_gradient_into_2d_module():
    torch.manual_seed(0)
    net = ZhouNet(tiny())
    out = net(torch.rand(2, 3, 32, 32), geo_rows=torch.tensor([True, True]))
    loss = geometric_loss(out["depth"], torch.rand(2, 17, 2) * 32, torch.ones(16) * 100, 32)
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in net.hourglass.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.depth.parameters())
    # without geo_rows the depth gradient trains the hourglass too (stages 2 and 3)
    net.zero_grad(set_to_none=True)
    out = net(torch.rand(2, 3, 32, 32))
    out["depth"].square().sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.hourglass.parameters())


def test_tiny_overfit_reduces_loss():
    torch.manual_seed(0)
    net = ZhouNet(tiny())
    x = torch.rand(4, 3, 32, 32)
    j = torch.rand(4, 17, 2) * 6 + 1
    target_hm = heatmaps_from_joints(j, 8)
    target_d = torch.randn(4, 17) * 0.3
    has = torch.tensor([True, True, False, False])
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        out = net(x, geo_rows=~has)
        loss = heatmap_loss(out["heatmaps"], target_hm) + 0.1 * depth_loss(out["depth"], target_d, has) \
            + 0.01 * geometric_loss(out["depth"], j * 4, torch.ones(16), 32, rows=~has)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_bad_geo_rows():
    net = ZhouNet(tiny())
    with pytest.raises(ValueError, match="geo_rows"):
        net(torch.rand(2, 3, 32, 32), geo_rows=torch.tensor([True]))


def test_checkpoint_of_another_config_is_refused(tmp_path):
    from posecore import train
    cfg_a, cfg_b = tiny(), tiny(stacks=2)
    net = ZhouNet(cfg_a)
    opt = torch.optim.Adam(net.parameters())
    path = tmp_path / "zhou.pt"
    train.save_checkpoint(path, step=1, models={"model": net}, optimizers={"opt": opt}, config=cfg_a.to_dict())
    with pytest.raises(ValueError, match="another configuration"):
        train.load_checkpoint(path, models={"model": ZhouNet(cfg_b)}, config=cfg_b.to_dict())


def _FakeImages(n, has_3d, R=32):
    """An ImageDataset stand-in (posecore.data.fixtures.RandomImages) with joints near the crop centre."""
    return RandomImages(n, has_3d, R, px_per_mm=0.05)


def test_mixed_batches_half_wild_and_deterministic():
    from posecore.recipes.images import MixedBatches
    mb = MixedBatches(_FakeImages(50, True), _FakeImages(40, False), batch_size=6, seed=3, stage=2)
    b1, b2, b3 = mb(7), mb(7), mb(8)
    assert b1["is_wild"].tolist() == [False] * 3 + [True] * 3
    assert torch.equal(b1["index"], b2["index"]) and not torch.equal(b1["index"], b3["index"])
    assert torch.isfinite(b1["depth_target"][:3]).all() and torch.isnan(b1["depth_target"][3:]).all()
    assert MixedBatches(_FakeImages(50, True), None, batch_size=6)(0)["is_wild"].sum() == 0


def test_train_variant_runs_and_resumes_from_checkpoints(tmp_path, monkeypatch):
    from posecore.recipes.zhou import ImageTrainConfig, stage_checkpoint, train_variant, VARIANTS
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    cfg = ImageTrainConfig(model=tiny(), batch_size=4, stage1_steps=2, stage2_steps=2, stage3_steps=2,
                           optimizer="adam", lr=1e-3)
    lab, wild = _FakeImages(20, True), _FakeImages(20, False)
    canonical = torch.ones(16) * 100
    model, hist = train_variant("3D+2D/w geo", cfg, lab, wild, canonical, progress=False)
    assert set(hist) == {1, 2, 3} and "geo" in hist[3][-1] and "depth" in hist[2][-1]
    # the two 3D+2D variants share stages 1-2, not stage 3
    s = {v: [stage_checkpoint(cfg, VARIANTS[v], k, "")[0] for k in (1, 2, 3)] for v in ("3D+2D/wo geo", "3D+2D/w geo")}
    assert s["3D+2D/wo geo"][:2] == s["3D+2D/w geo"][:2] and s["3D+2D/wo geo"][2] != s["3D+2D/w geo"][2]
    again, _ = train_variant("3D+2D/w geo", cfg, lab, wild, canonical, progress=False)   # loaded, not retrained
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
