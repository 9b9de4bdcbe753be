"""Yang et al.'s training (posecore.recipes.yang): what D sees (hand-worked), one adversarial step
changes G and D, the control and fix-2D rows, seeded determinism, rows and configuration, the
exported generator, and the paper's full shapes (the GPU path, run once on the CPU)."""
import dataclasses

import numpy as np
import pytest
import torch

from posecore import api, metrics
from posecore.data.fixtures import RandomImages
from posecore.models.hourglass import image_to_heatmap
from posecore.models.zhou import ZhouNet
from posecore.recipes import backbone, yang
from posecore.recipes.images import MixedBatches


def tiny(**kw):
    return dataclasses.replace(yang.config("smoke"), **kw)


def tiny_backbone():
    return backbone.config("smoke")


def batch_of(R=32, n_lab=2, n_wild=2, seed=0, h=None):
    lab = RandomImages(8, True, R, px_per_mm=0.03, heatmap_resolution=h)
    wild = RandomImages(8, False, R, px_per_mm=0.03, heatmap_resolution=h)
    return MixedBatches(lab, wild, n_lab + n_wild, n_wild / (n_lab + n_wild), seed=seed)(1)


def networks(cfg, bcfg, sources=yang.SOURCES, seed=0):
    torch.manual_seed(seed)
    G = ZhouNet(cfg.model(bcfg))
    D = yang.MultiSourceDiscriminator(cfg.discriminator(bcfg, sources))
    return G, D


def snapshot(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def changed(before, m):
    return [k for k, v in m.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]


def test_rows_are_the_papers_table_2_plus_ours():
    assert yang.PAPER_ROWS == ("Baseline (fix 2D)", "Baseline", "Map", "Geo", "Full (fix 2D)", "Full (w/o pretrain)",
                               "Full")
    v = yang.VARIANTS
    assert v["Map"].sources == ("image", "maps") and v["Geo"].sources == ("image", "geo")
    assert set(v["Full"].sources) == {"image", "geo", "maps"} and "image" not in v["Full (no image source)"].sources
    assert not v["Baseline"].adversarial and v["Baseline (fix 2D)"].fix_2d and not v["Full (w/o pretrain)"].pretrain
    # the paper's 1e-4 weighs a heatmap loss summed over J x h x w; ours is a mean: 1e-4 / (17 * 32 * 32)
    assert yang.lambda_of(v["Full"], 1e-4, 32) == pytest.approx(1e-4 / 17408)
    assert yang.lambda_of(v["Baseline + stage-3 steps (no D)"], 1e-4, 32) == 0
    assert yang.lambda_of(v["Full (lambda x100)"], 1e-4, 32) == pytest.approx(1e-2 / 17408)
    assert yang.lambda_of(v["Full (lambda 1e-4 on means)"], 1e-4, 32) == 1e-4


def test_compared_rows_train_equally_long():
    cfg = yang.config("quick")
    v = yang.VARIANTS
    full = yang.total_steps(v["Full"], cfg)
    assert full == cfg.stage2_steps + cfg.adv_steps
    # pretraining helps? Full vs w/o pretrain at equal total steps; adversarial or longer training? Full
    # vs the no-D control at equal steps
    assert yang.total_steps(v["Full (w/o pretrain)"], cfg) == full
    assert yang.total_steps(v["Baseline + stage-3 steps (no D)"], cfg) == full
    assert yang.total_steps(v["Baseline"], cfg) == cfg.stage2_steps


def test_curve_on_total_steps_offsets_pretrained_rows():
    cfg = tiny(stage2_steps=400, adv_steps=200)
    hist = [{"step": 0, "curve_mpjpe": 90.0}, {"step": 10, "loss": 1.0}, {"step": 50, "curve_mpjpe": 80.0},
            {"step": 100, "curve_mpjpe": float("nan")}]
    # Full starts its adversarial stage after the 400 supervised steps; w/o pretrain at 0
    assert yang.curve_on_total_steps("Full", cfg, hist) == ([400, 450], [90.0, 80.0])
    assert yang.curve_on_total_steps("Full (w/o pretrain)", cfg, hist) == ([0, 50], [90.0, 80.0])
    assert yang.curve_on_total_steps(yang.VARIANTS["Baseline"], cfg, []) == ([], [])


def test_protocol_2_per_action_hand_worked():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (4, 17, 3))
    c, s_ = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]])
    pred = 1.5 * gt @ rot.T + 20.0                     # a similarity transform of the truth: P2 error 0
    pred[2:] = gt[2:]
    pred[3, 5] += [0.0, 0.0, 170.0]                    # one joint off: not a similarity transform
    out = yang.protocol_2_per_action(pred, gt, ["Walking 1", "Walking 2", "Eating", "Eating"])
    assert set(out) == {"Walking", "Eating", "Average"}                      # subactions merged
    assert out["Walking"] == pytest.approx(0.0, abs=1e-6)
    one = float(metrics.p_mpjpe(pred[3:], gt[3:]))
    assert one > 0 and out["Eating"] == pytest.approx((0.0 + one) / 2, abs=1e-6)
    assert out["Average"] == pytest.approx((out["Walking"] + out["Eating"]) / 2)   # actions weigh the same
    with pytest.raises(ValueError, match="4 poses but 3 actions"):
        yang.protocol_2_per_action(pred, gt, ["a", "b", "c"])


def test_config_profiles_and_errors():
    full = yang.config("full")
    assert (full.batch_size, full.stage2_steps, full.adv_steps, full.lambda_adv, full.optimizer, full.lr) == \
        (12, 200_000, 120_000, 1e-4, "rmsprop", 2.5e-4)                  # the paper's
    assert (full.reg_blocks, full.reg_modules) == (3, 1)                   # three residual + downsampling modules
    assert yang.config("quick", adv_steps=7).adv_steps == 7
    for bad in (dict(optimizer="sgd"), dict(lambda_adv=-1.0), dict(curve_every=15), dict(batch_size=1)):
        with pytest.raises(ValueError, match="YangConfig"):
            yang.config("smoke", **bad)
    with pytest.raises(ValueError, match="unknown parameters"):
        yang.config("smoke", lambda_gan=1.0)


def test_discriminator_inputs_hand_worked():
    R, h = 32, 8
    b = batch_of(R)
    b["depth_target"] = torch.arange(4 * 17, dtype=torch.float32).reshape(4, 17) / 100
    b["depth_target"][2:] = float("nan")                                 # the wild rows: no 3D label
    lab = ~b["is_wild"]
    real = yang.discriminator_inputs("real", b, rows=lab)
    assert real["pose"].shape == (2, 17, 3) and real["image"].shape == (2, 3, R, R)
    # x, y: 2 u / R - 1 of the ground-truth joints; z: the depth target
    assert torch.allclose(real["pose"][..., :2], 2 * b["joints_2d"][:2] / R - 1)
    assert torch.equal(real["pose"][..., 2], b["depth_target"][:2]) and torch.equal(real["heatmaps"], b["heatmaps"][:2])
    # a fake whose heatmaps peak sharply at the ground truth's heatmap pixel: the soft-argmax gives that pixel back
    hm = torch.zeros(4, 17, h, h)
    uv = torch.tensor([[5.5, 13.5]]).expand(17, 2)                        # crop px at a heatmap pixel centre
    x, y = image_to_heatmap(uv, R, h)[0].tolist()
    assert (x, y) == (1.0, 3.0)                                           # (u + 0.5) * 8 / 32 - 0.5
    x, y = int(x), int(y)
    hm[:, :, y, x] = 1.0
    out = {"heatmaps": [hm * 0, hm], "depth": torch.full((4, 17), 0.25)}
    fake = yang.discriminator_inputs("fake", b, out, beta=100.0)
    assert fake["pose"].shape == (4, 17, 3)
    assert torch.allclose(fake["pose"][0, 0], torch.tensor([2 * 5.5 / R - 1, 2 * 13.5 / R - 1, 0.25]), atol=1e-3)
    assert fake["heatmaps"] is hm or torch.equal(fake["heatmaps"], hm)
    with pytest.raises(ValueError, match="no 3D label"):
        yang.discriminator_inputs("real", b)
    with pytest.raises(ValueError, match="needs G's output"):
        yang.discriminator_inputs("fake", b)
    with pytest.raises(ValueError, match="'real' or 'fake'"):
        yang.discriminator_inputs("both", b)


def _step(cfg, bcfg, variant, seed=0, batch_seed=0):
    G, D = networks(cfg, bcfg, yang.VARIANTS[variant].sources, seed)
    lam = yang.lambda_of(yang.VARIANTS[variant], cfg.lambda_adv, bcfg.hourglass().heatmap_resolution)
    D = D if lam > 0 else None
    opt_g = torch.optim.Adam([p for p in G.parameters()], lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3) if D is not None else None
    yang._freeze_2d(G, yang.VARIANTS[variant].fix_2d)
    step = yang.make_adversarial_step(G, D, opt_g, opt_d, cfg, lam, yang.VARIANTS[variant].fix_2d)
    b = batch_of(bcfg.resolution, seed=batch_seed, h=bcfg.hourglass().heatmap_resolution)
    G.train()
    torch.manual_seed(seed)
    return G, D, step, b


def test_one_adversarial_step_changes_g_and_d():
    cfg, bcfg = tiny(lambda_adv=1.0), tiny_backbone()
    G, D, step, b = _step(cfg, bcfg, "Full")
    g0, d0 = snapshot(G), snapshot(D)
    logs = step(b, 1)
    assert {"loss", "hm", "depth", "d_loss", "d_acc_real", "d_acc_fake_lab", "d_acc_fake_wild", "g_adv"} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values())
    assert changed(d0, D) and any(k.startswith("hourglass.") for k in changed(g0, G)) and \
        any(k.startswith("depth.") for k in changed(g0, G))
    # the adversarial gradient reaches the 2D module through the soft-argmax and the heatmaps
    G.zero_grad()
    fake = yang.discriminator_inputs("fake", b, G(b["image"]), cfg.soft_argmax_beta)
    D.eval()
    D(**fake).sum().backward()
    assert sum(float(p.grad.abs().sum()) for p in G.hourglass.parameters() if p.grad is not None) > 0


def test_control_and_fix_2d_rows():
    cfg, bcfg = tiny(lambda_adv=1.0), tiny_backbone()
    G, D, step, b = _step(cfg, bcfg, "Baseline + stage-3 steps (no D)")
    assert D is None
    logs = step(b, 1)
    assert "d_loss" not in logs and "g_adv" not in logs
    G, D, step, b = _step(cfg, bcfg, "Full (fix 2D)")
    hg0, g0 = snapshot(G.hourglass), snapshot(G)
    step(b, 1)
    assert not changed(hg0, G.hourglass)                                  # weights and BatchNorm statistics kept
    assert any(k.startswith("depth.") for k in changed(g0, G))


def test_adversarial_step_is_seeded():
    cfg, bcfg = tiny(lambda_adv=1.0), tiny_backbone()
    runs = []
    for _ in range(2):
        G, D, step, b = _step(cfg, bcfg, "Full", seed=3)
        step(b, 1)
        runs.append((snapshot(G), snapshot(D)))
    for a, c in zip(runs[0], runs[1]):
        assert all(torch.equal(a[k], c[k]) for k in a)


def test_train_variant_shares_the_supervised_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    cfg, bcfg = tiny(stage2_steps=2, adv_steps=2), tiny_backbone()
    torch.manual_seed(0)
    state = ZhouNet(cfg.model(bcfg)).hourglass.state_dict()
    lab, wild = RandomImages(20, True, bcfg.resolution), RandomImages(20, False, bcfg.resolution)
    base = yang.train_variant("Baseline", cfg, bcfg, (state, "bb"), lab, wild, "fake", progress=False)
    assert base["D"] is None and base["history"]["adversarial"] == []
    n = len(list(tmp_path.glob("yang-supervised-*.pt")))
    full = yang.train_variant("Full", cfg, bcfg, (state, "bb"), lab, wild, "fake", progress=False)
    assert len(list(tmp_path.glob("yang-supervised-*.pt"))) == n == 1          # stage 2 trained once, shared
    assert full["history"]["supervised"] == base["history"]["supervised"]
    assert full["D"] is not None and "d_loss" in full["history"]["adversarial"][-1]
    again = yang.train_variant("Full", cfg, bcfg, (state, "bb"), lab, wild, "fake", progress=False)   # loaded
    for k, v in full["G"].state_dict().items():
        assert torch.equal(v, again["G"].state_dict()[k]), k
    nopre = yang.train_variant("Full (w/o pretrain)", cfg, bcfg, (state, "bb"), lab, wild, "fake", progress=False)
    assert nopre["history"]["supervised"] == []
    # without pretraining the adversarial stage trains both stages' steps (equal total steps to Full)
    assert nopre["history"]["adversarial"][-1]["step"] == cfg.stage2_steps + cfg.adv_steps
    assert full["history"]["adversarial"][-1]["step"] == cfg.adv_steps


def test_exported_generator_round_trip_and_errors(tmp_path):
    cfg, bcfg = tiny(), tiny_backbone()
    torch.manual_seed(0)
    G = ZhouNet(cfg.model(bcfg)).eval()
    canonical = np.linspace(50, 400, 16)
    path = api.export_image_model(tmp_path / "yang.pt", "yang", G, canonical, profile="smoke")
    run = api.load_image_model("yang", path)
    R = bcfg.resolution
    imgs = torch.rand(2, 3, R, R)
    out = run(imgs)
    assert out["joints_2d"].shape == (2, 17, 2) and out["pose_3d"].shape == (2, 17, 3)
    bones = np.linalg.norm(np.diff(out["pose_3d"][:, [0, 1]], axis=1), axis=-1)
    assert np.isfinite(bones).all()
    with torch.no_grad():
        ref = G(imgs)["depth"].numpy()
    assert np.allclose(out["depth"], ref, atol=1e-6)
    u8 = (imgs.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    assert run(u8)["joints_2d"].shape == (2, 17, 2)
    with pytest.raises(ValueError, match=r"images must be \(N, 3"):
        run(torch.rand(2, 3, R + 1, R + 1))
    with pytest.raises(FileNotFoundError, match="run its chapter"):
        api.load_image_model("yang", tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt: not a readable"):
        api.load_image_model("yang", tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="unknown image model"):
        api.load_image_model("hrnet", path)
    with pytest.raises(ValueError, match="not an exported posecore zhou image model"):
        api.load_image_model("zhou", path)


def test_full_shapes_one_adversarial_step():
    """The paper-scale G (Table 2's "2s": 256 px, 2 x 1 hourglass of 256 features, 64 x 64 heatmaps;
    Yang's depth regressor) and D of width 256 with all three sources: one step on the CPU."""
    cfg = yang.config("full")
    assert yang.backbone_config("full").hourglass().stacks == 4                    # the final "Full-4s" model
    bcfg = yang.backbone_config("full", stacks=2)                                   # Table 2's "2s" (cheaper here)
    hg = bcfg.hourglass()
    assert (hg.resolution, hg.heatmap_resolution, hg.features, hg.stacks, hg.modules) == (256, 64, 256, 2, 1)
    assert yang.backbone_config("quick") == backbone.config("quick")               # the shared one
    G, D, step, b = _step(dataclasses.replace(cfg, batch_size=2), bcfg, "Full")
    assert D.config.width == 256 and D.config.heatmap_resolution == 64
    b = batch_of(256, n_lab=1, n_wild=1, h=64)
    assert b["heatmaps"].shape == (2, 17, 64, 64)
    d0, g0 = snapshot(D), snapshot(G)
    logs = step(b, 1)
    assert all(np.isfinite(v) for v in logs.values())
    assert changed(d0, D) and changed(g0, G)
