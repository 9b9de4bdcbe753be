"""Drover et al.: depth formula, back projection, random projection, normalisation, training step, lift()."""
import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # 2 shared CPU cores: multi-threaded BatchNorm stalls under load

from posecore import api, train
from posecore.data.toy import toy_poseset
from posecore.recipes.drover import train_drover
from posecore.models import drover as D

CFG = D.DroverConfig(width=32, batch_size=64, num_steps=4, extra_cameras=2)
BONES_14 = ((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11), (8, 12), (9, 12), (12, 13))


def test_generator_depth_formula_and_back_projection():
    torch.manual_seed(0)
    G = D.Generator(CFG).eval()
    x = 0.1 * torch.randn(6, 14, 2)
    with torch.no_grad():
        o = G.net(x.reshape(6, 28))
        z = G.depths(x)
        X = G(x)
    torch.testing.assert_close(z, torch.clamp(CFG.d + o, min=0) + 1)
    assert X.shape == (6, 14, 3) and (z >= 1).all()
    torch.testing.assert_close(X[..., :2], x * z[..., None])           # X_i = (z x, z y, z)
    torch.testing.assert_close(X[..., 2], z)
    # offsets far below -d give depth exactly 1
    G.net[-1].bias.data.fill_(-100.0); G.net[-1].weight.data.zero_()
    assert torch.all(G.depths(x) == 1.0)


def test_random_projection_keeps_bones_and_forces_depth():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 14, 3, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 10.0], dtype=torch.float64)
    x2, Y = D.random_projection(X, 10.0, (0.0, 20.0), g)
    assert x2.shape == (200, 14, 2) and (Y[..., 2] >= 1).all()
    L0 = torch.stack([(X[:, b] - X[:, a]).norm(dim=-1) for a, b in BONES_14], 1)
    L1 = torch.stack([(Y[:, b] - Y[:, a]).norm(dim=-1) for a, b in BONES_14], 1)
    torch.testing.assert_close(L0, L1)                                  # rigid in place (all in front)
    R = D.rotations(500, (0.0, 20.0), g)
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3).expand(500, 3, 3), atol=1e-5, rtol=0)
    # elevation of the camera: angle of the rotated vertical axis, in [0, 20] deg
    elev = torch.rad2deg(torch.asin(R[:, 2, 1].clamp(-1, 1)))
    assert elev.min() >= -1e-4 and elev.max() <= 20 + 1e-4
    # a point pushed behind the near plane is clamped to depth 1
    Xb = torch.zeros(1, 14, 3, dtype=torch.float64); Xb[..., 2] = -5.0
    _, Yb = D.random_projection(Xb, 10.0, (0.0, 0.0), g)
    assert (Yb[..., 2] >= 1).all()


def test_normalisation_head_root_distance():
    data = toy_poseset(50, seed=2)
    x = D.to_unit_camera(data.poses_2d, data.intrinsics)
    assert x.shape == (50, 14, 2)
    np.testing.assert_allclose(x[:, list(D.HIPS_14)].mean(1), 0, atol=1e-6)   # root = hip midpoint
    s = D.scale_factor(x, 10.0)
    assert abs(D.head_root(x * s).mean() - 0.1) < 1e-6
    v = D.virtual_views(data.poses_3d, 3, (0, 20), np.random.default_rng(0))
    assert v.shape == (150, 14, 2) and np.isfinite(v).all()
    p17 = D.to_h36m17(np.random.default_rng(0).normal(size=(3, 14, 3)))
    assert p17.shape == (3, 17, 3)


def test_training_and_lift_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    data = toy_poseset(128, seed=0)
    G, Dn, hist, info = train_drover(data, CFG, seed=0, progress=False)
    assert len(hist) >= 1 and np.isfinite([hist[-1]["loss_d"], hist[-1]["loss_g"]]).all()
    assert info["scale"] > 0 and info["mm_per_unit"] > 0
    pred = D.lift_with(G, data.poses_2d, data.intrinsics, **info)
    path = api.export(tmp_path / "d.pt", "drover", {"generator": G}, CFG, **info)
    out = api.lift(data.poses_2d, data.intrinsics, checkpoint=path)
    assert out.shape == (128, 17, 3) and np.isfinite(out).all()
    p17 = D.to_h36m17(pred)
    np.testing.assert_allclose(out, p17 - p17[:, :1], atol=1e-3)
    with pytest.raises(ValueError, match="intrinsics"):
        api.lift(data.poses_2d, None, checkpoint=path)
    with pytest.raises(ValueError, match="NaN"):
        bad = data.poses_2d.copy(); bad[0, 0, 0] = np.nan
        api.lift(bad, data.intrinsics, checkpoint=path)
    with pytest.raises(ValueError, match="expected shape"):
        api.lift(data.poses_2d[:, :14], data.intrinsics, checkpoint=path)


def test_discriminator_sees_real_and_fake_in_one_batch(tmp_path, monkeypatch):
    """With separate real / fake batches BatchNorm's batch statistics alone tell them apart (D wins within
    a few hundred steps and G diverges): every D forward in training must mix both."""
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    sizes, modes = [], []
    forward = D.Discriminator.forward

    def spy(self, x):
        sizes.append(len(x))
        modes.append(self.training)
        return forward(self, x)
    monkeypatch.setattr(D.Discriminator, "forward", spy)
    train_drover(toy_poseset(128, seed=0), CFG, seed=0, progress=False)
    assert sizes and all(n == 2 * CFG.batch_size for n, t in zip(sizes, modes) if t), sizes[:6]


def test_bf16_training_runs_the_nets_in_bf16_and_records_it(tmp_path, monkeypatch):
    """precision='bf16': the two networks' forward passes run under bf16 autocast (the projection and the
    losses in fp32), the weights stay fp32, and the checkpoint's config names the precision."""
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    dtypes = []
    forward = D.Discriminator.forward

    def spy(self, x):
        out = forward(self, x)
        dtypes.append(out.dtype)
        return out
    monkeypatch.setattr(D.Discriminator, "forward", spy)
    cfg = D.DroverConfig(width=32, batch_size=64, num_steps=3, extra_cameras=2, precision="bf16")
    G, Dn, hist, info = train_drover(toy_poseset(128, seed=0), cfg, seed=0, progress=False)
    assert dtypes and all(d == torch.bfloat16 for d in dtypes[:6]), dtypes[:6]
    assert all(p.dtype == torch.float32 for p in G.parameters())
    assert np.isfinite([hist[-1]["loss_d"], hist[-1]["loss_g"]]).all() and info["mm_per_unit"] > 0
    ckpts = list(tmp_path.rglob("*.pt"))
    assert ckpts and all(train._read_blob(f)["config"]["precision"] == "bf16" for f in ckpts)
