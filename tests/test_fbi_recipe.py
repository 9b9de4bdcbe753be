"""The FBI paper's training (posecore.recipes.fbi): rows and configuration, the rows' training steps
(equal for the equal-steps comparisons), FBI labels of mixed batches (lab from 3D, wild from the
hidden 3D), the FBI branch trains, is seeded and loads from its checkpoint, the refiner's images lie
outside the branches' training pool, the refiner fixes alpha after the warm-up and saves it, row
inputs, the permutation test of the hard-actions claim, and the exported pipeline (round trip and
bad input)."""
import dataclasses

import numpy as np
import pytest
import torch

from posecore import api
from posecore.data.fixtures import RandomImages
from posecore.models import fbi as fbi_model
from posecore.models.zhou import ZhouNet
from posecore.recipes import backbone, fbi, yang
from posecore.recipes.images import MixedBatches, pool_indices


def tiny(**kw):
    return dataclasses.replace(fbi.config("smoke"), **kw)


def test_rows_and_config():
    r = fbi.VARIANTS
    assert [n for n, x in r.items() if x.paper] == ["Base", "Final"]
    assert r["Base"].parts == ("2d",) and not r["Base"].weighted
    assert r["Final"].parts == ("2d", "depth", "fbi") and r["Final"].weighted and r["Final"].coarse == "adversarial"
    assert r["w/o adversarial"].coarse == "control" and r["oracle FBI"].fbi == "truth"
    assert fbi.EXPLICIT["control"] == "Baseline + stage-3 steps (no D)" and fbi.EXPLICIT["adversarial"] == "Full"
    assert {x.coarse for x in r.values()} <= set(fbi.EXPLICIT) | {"truth"}
    assert set(fbi.EXPLICIT.values()) <= set(yang.VARIANTS)
    assert not r["L2 loss"].weighted and r["L2 loss"].parts == r["Final"].parts
    assert {x.tau for x in r.values()} == {5.0, 10.0, 20.0}
    full = fbi.config("full")
    assert full.eps == 1e-3 and full.refiner(93).num_blocks == 2 and full.refiner(93).in_features == 93
    assert fbi.config("quick", fbi_steps=3).fbi_steps == 3
    for bad in (dict(optimizer="sgd"), dict(warmup=1.0), dict(eps=-1.0), dict(batch_size=1)):
        with pytest.raises(ValueError, match="FBIConfig"):
            fbi.config("smoke", **bad)


def test_row_steps_equal_where_the_claims_need_them():
    ycfg, cfg = yang.config("quick"), fbi.config("quick")
    st = {r: fbi.row_steps(r, ycfg, cfg) for r in fbi.VARIANTS}
    gen = ycfg.stage2_steps + ycfg.adv_steps
    assert st["Final"] == dict(explicit=gen, fbi=cfg.fbi_steps, refiner=cfg.refiner_steps,
                               total=gen + cfg.fbi_steps + cfg.refiner_steps)
    # the adversarial comparison at equal steps: the control trains the adversarial stage's steps without D
    for r in ("w/o adversarial", "L2 loss", "w/o coarse 3D", "Final, FBI branch with wild labels",
              "Final, L1 as written (no cap)"):
        assert st[r]["total"] == st["Final"]["total"], r
    # the supervised Baseline alone would not be: it lacks the adversarial stage's steps
    assert yang.total_steps(yang.VARIANTS["Baseline"], ycfg) == ycfg.stage2_steps < gen
    assert st["Base"]["fbi"] == st["w/o FBI"]["fbi"] == st["oracle FBI"]["fbi"] == 0
    assert st["true 2D"] == st["true 2D + true FBI"] == dict(explicit=0, fbi=0, refiner=cfg.refiner_steps,
                                                              total=cfg.refiner_steps)


def test_batch_labels_lab_from_3d_wild_from_hidden():
    lab, wild = RandomImages(8, True, 32), RandomImages(8, False, 32)
    b = MixedBatches(lab, wild, 4, 0.5, seed=0)(1)
    labels, rows = fbi.batch_fbi_labels(b)
    assert rows.tolist() == [True, True, False, False]
    assert (labels[:2].numpy() == fbi_model.fbi_labels(b["poses_3d"][:2].numpy())).all()
    hidden = wild.p3.numpy()
    labels, rows = fbi.batch_fbi_labels(b, hidden, tau_deg=20.0)
    assert rows.all()
    assert (labels[2:].numpy() == fbi_model.fbi_labels(hidden[np.asarray(b["index"][2:])], 20.0)).all()


def _branch(tmp_path, monkeypatch, seed=0, wild=False):
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path))
    bcfg = backbone.config("smoke")
    from posecore.models.hourglass import StackedHourglass
    torch.manual_seed(0)
    state = StackedHourglass(bcfg.hourglass()).state_dict()
    R = bcfg.resolution
    lab, w = RandomImages(8, True, R), RandomImages(8, False, R)
    cfg = tiny(fbi_steps=3, seed=seed)
    kw = dict(wild=w, wild_poses_3d=w.p3.numpy()) if wild else {}
    return fbi.train_fbi_branch(cfg, bcfg, (state, "test-backbone"), lab, data_id="toy", progress=False, **kw), state


def test_fbi_branch_trains_is_seeded_and_loads(tmp_path, monkeypatch):
    (net, hist), state = _branch(tmp_path, monkeypatch)
    assert len(hist) >= 1 and np.isfinite(hist[-1]["loss"])
    # it starts from the backbone and moves away from it (a copy: the backbone state is untouched)
    assert not torch.equal(net.hourglass.state_dict()["stem_fine.0.weight"], state["stem_fine.0.weight"])
    (again, _), _ = _branch(tmp_path, monkeypatch)                          # loaded from the checkpoint
    for k, v in net.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("fbi-branch-*.pt"))
    assert len(ckpts) == 1
    (other, _), _ = _branch(tmp_path, monkeypatch, seed=1)
    assert not torch.equal(other.head.linear.weight, net.head.linear.weight)
    _branch(tmp_path, monkeypatch, wild=True)                               # wild labels: another run
    assert len(list((tmp_path / "checkpoints").glob("fbi-branch-*.pt"))) == 3


def test_refiner_images_lie_outside_the_branch_pool(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path))
    n, pool, data_seed = 200, 60, 3
    lab = RandomImages(n, True, 16)
    d = {"images": {"train": lab}, "sets": {"train": np.arange(n)}, "data_id": "toy",
         "pools": {"train": pool_indices(n, pool, data_seed, "train")}}
    images, idx, disjoint = fbi.refine_images(d, 50, data_seed)
    # the pool the explicit and FBI branches draw from (MixedBatches with pool_seed = the data seed)
    branch = MixedBatches(lab, None, 4, 0.0, seed=7, pool=pool, pool_seed=data_seed)
    assert disjoint and len(idx) == 50 and len(np.unique(idx)) == 50
    assert np.intersect1d(idx, branch.lab_pool).size == 0 and np.array_equal(branch.lab_pool, d["pools"]["train"])
    seen = np.concatenate([np.asarray(branch(k)["index"]) for k in range(50)])
    assert np.intersect1d(idx, seen).size == 0
    got = images.get_batch(idx[:3])                    # the cached renders of those images (8-bit)
    assert np.array_equal(np.asarray(got["index"]), idx[:3])
    assert torch.allclose(got["image"], lab.get_batch(idx[:3])["image"], atol=1 / 255)
    # fixed by the data seed (the same images for every training seed); all of the rest with n = 0
    assert np.array_equal(fbi.refine_images(d, 50, data_seed)[1], idx)
    rest, ok = fbi.refiner_indices(n, 0, d["pools"]["train"], data_seed)
    assert ok and len(rest) == n - pool and np.intersect1d(rest, d["pools"]["train"]).size == 0
    # a pool of the whole split (train_pool 0, 'full') leaves nothing out: overlap, and it says so
    whole, ok = fbi.refiner_indices(n, 50, pool_indices(n, 0, data_seed, "train"), data_seed)
    assert not ok and len(whole) == 50


def test_permutation_correlation():
    x = np.arange(8.0)
    up = fbi.permutation_correlation(x, 2 * x + 1)
    assert up["exact"] and up["permutations"] == 40320 and up["r"] == pytest.approx(1.0)
    assert up["p"] == pytest.approx(1 / 40320)
    assert fbi.permutation_correlation(x, -x)["p"] == pytest.approx(1.0)
    g = np.random.default_rng(0)
    big = fbi.permutation_correlation(np.arange(12.0), np.arange(12.0) + g.normal(size=12), n_perm=2000)
    assert not big["exact"] and big["permutations"] == 2000 and big["p"] == pytest.approx(1 / 2001)
    for bad in ((x[:2], x[:2]), (x, np.ones(8)), (x, np.r_[x[:7], np.nan])):
        assert np.isnan(fbi.permutation_correlation(*bad)["p"])
    with pytest.raises(ValueError, match="permutation_correlation"):
        fbi.permutation_correlation(x, x[:5])
    # regression to the mean: with no effect of the loss at all, the gain correlates with the L2 run's own
    # error, not with a difficulty from an independent run
    naive, indep = [], []
    for _ in range(200):
        hard = g.normal(60, 3, 8)
        l2, final, base = (hard + g.normal(0, 3, 8) for _ in range(3))
        naive.append(fbi.permutation_correlation(l2, l2 - final)["r"])
        indep.append(fbi.permutation_correlation(base, l2 - final)["r"])
    assert np.mean(naive) > 0.3 and abs(np.mean(indep)) < 0.1


def test_refiner_fixes_alpha_after_warmup_and_saves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path))
    g = np.random.default_rng(0)
    x = g.normal(size=(64, 10)).astype(np.float32)
    y = (x @ g.normal(size=(10, 48))).astype(np.float32)
    cfg = tiny(refiner_steps=20, refiner_width=16, refiner_batch=16)
    m, hist, alpha = fbi.train_refiner(x, y, cfg, weighted=True, progress=False)
    assert alpha is not None and alpha < 1.0
    m2, _, alpha2 = fbi.train_refiner(x, y, cfg, weighted=True, progress=False)    # loaded: same alpha
    assert alpha2 == alpha and torch.equal(m2.net.head.weight, m.net.head.weight)
    _, _, none = fbi.train_refiner(x, y, cfg, weighted=False, progress=False)
    assert none is None
    # with eps = 0 the weighted loss is L0 itself: the same weights as the L2 run (same seed and batches)
    m0, _, alpha0 = fbi.train_refiner(x, y, dataclasses.replace(cfg, eps=0.0), weighted=True, progress=False)
    ml2, _, _ = fbi.train_refiner(x, y, cfg, weighted=False, progress=False)
    assert alpha0 is not None
    for k, v in ml2.net.state_dict().items():
        assert torch.allclose(v, m0.net.state_dict()[k], atol=1e-6), k
    # and with eps > 0 the weights differ from L2's
    assert not torch.allclose(m.net.head.weight, ml2.net.head.weight)


def _outs(n=5, R=32, seed=0):
    g = np.random.default_rng(seed)
    p3 = g.normal(scale=200, size=(n, 17, 3))
    p3 -= p3[:, :1]
    return {"resolution": R, "gt_2d": g.uniform(0, R, (n, 17, 2)), "gt_depth": g.normal(size=(n, 17)), "gt_3d": p3,
            "explicit": {k: {"joints_2d": g.uniform(0, R, (n, 17, 2)), "depth": g.normal(size=(n, 17))}
                         for k in ("adversarial", "control")},
            "fbi": {k: g.dirichlet(np.ones(3), (n, 14)) for k in ("predicted", "wild")},
            "fbi_true": {t: fbi_model.fbi_labels(p3, t) for t in (5.0, 10.0, 20.0)}}


def test_row_inputs():
    o = _outs()
    R = o["resolution"]
    x = fbi.variant_input(fbi.VARIANTS["Final"], o)
    assert x.shape == (5, 93)
    assert np.allclose(x[:, :34], (2 * o["explicit"]["adversarial"]["joints_2d"] / R - 1).reshape(5, -1))
    assert np.allclose(x[:, 51:], o["fbi"]["predicted"].reshape(5, -1))
    assert np.allclose(fbi.variant_input(fbi.VARIANTS["w/o adversarial"], o)[:, 34:51], o["explicit"]["control"]["depth"])
    oracle = fbi.variant_input(fbi.VARIANTS["oracle FBI"], o)[:, 51:].reshape(5, 14, 3)
    assert (oracle.argmax(-1) == o["fbi_true"][10.0]).all() and set(np.unique(oracle)) <= {0.0, 1.0}
    t5 = fbi.variant_input(fbi.VARIANTS["true 2D + true FBI (tau 5)"], o)
    assert t5.shape == (5, 76) and (t5[:, 34:].reshape(5, 14, 3).argmax(-1) == o["fbi_true"][5.0]).all()
    assert fbi.variant_input(fbi.VARIANTS["Base"], o).shape == (5, 34)


def test_evaluate_refined_scales_to_the_true_bone_sum():
    o = _outs()
    gt = o["gt_3d"]
    ev = fbi.evaluate_refined(gt * 0.5, gt, scale="true")
    assert ev["mpjpe"] == pytest.approx(0.0, abs=1e-6) and ev["pck"] == 100.0
    assert fbi.evaluate_refined(gt * 0.5, gt)["mpjpe"] > 10.0
    ev = fbi.evaluate_refined(gt + np.array([10.0, 0, 0]) * (np.arange(17) > 0)[:, None], gt,
                              actions=np.array(["a", "a", "b", "b", "b"]))
    assert ev["mpjpe"] == pytest.approx(10.0 * 16 / 17) and set(ev["per_action"]) == {"a", "b", "Average"}
    with pytest.raises(ValueError, match="scale"):
        fbi.evaluate_refined(gt, gt, scale="canonical")


def test_exported_pipeline_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    bcfg = backbone.config("smoke")
    G = ZhouNet(yang.config("smoke").model(bcfg)).eval()
    F = fbi_model.FBINet(fbi.config("smoke").fbi_net(bcfg)).eval()
    o = _outs()
    x = fbi.variant_input(fbi.VARIANTS["Final"], o)
    y = np.random.default_rng(1).normal(size=(5, 48)).astype(np.float32)
    cfg = tiny(refiner_steps=2, refiner_width=16, refiner_batch=4)
    ref, _, _ = fbi.train_refiner(x, y, cfg, weighted=True, progress=False)
    path = api.export_fbi_model(tmp_path / "fbi.pt", G, F, ref, fbi.VARIANTS["Final"].parts, profile="smoke")
    f = api.load_image_model("fbi", path)
    R = bcfg.resolution
    imgs = torch.rand(2, 3, R, R)
    out = f(imgs)
    assert out["pose_3d"].shape == (2, 17, 3) and out["fbi"].shape == (2, 14, 3)
    assert np.allclose(out["fbi"].sum(-1), 1.0, atol=1e-5) and (out["pose_3d"][:, 0] == 0).all()
    # the same as the pieces run by hand
    with torch.no_grad():
        g = G(imgs)
        prob = torch.softmax(F(imgs)["fbi_logits"], -1).numpy()
    inp = fbi_model.refiner_input(("2d", "depth", "fbi"), 2 * out["joints_2d"] / R - 1, g["depth"].numpy(), prob)
    with torch.no_grad():
        want = ref(torch.as_tensor(inp)).numpy()
    assert np.allclose(out["pose_3d"][:, 1:].reshape(2, -1), want, atol=1e-4)
    with pytest.raises(ValueError, match="images must be"):
        f(torch.rand(2, 3, R + 1, R + 1))
    with pytest.raises(ValueError, match="not an exported posecore fbi"):
        api.load_image_model("fbi", api.export_image_model(tmp_path / "y.pt", "yang", G, np.ones(16)))
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt"):
        api.load_image_model("fbi", tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="export_fbi_model"):
        api.export_image_model(tmp_path / "z.pt", "fbi", G, np.ones(16))
    with pytest.raises(ValueError, match="parts"):
        api.export_fbi_model(tmp_path / "w.pt", G, F, ref, ("image",))


def test_full_shapes_one_fbi_step_and_refiner_steps(tmp_path, monkeypatch):
    """The paper-scale FBI branch (256 px, the full backbone recipe with 2 stacks here to keep the CPU
    test short; 64 x 64 heatmaps) for one training step, and the refiner at full width (1024, batch
    64, 93 inputs) for a few steps of the weighted loss: the GPU path, run once on the CPU."""
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path))
    bcfg = yang.backbone_config("full", stacks=2)
    hg = bcfg.hourglass()
    assert (hg.resolution, hg.heatmap_resolution, hg.features) == (256, 64, 256)
    from posecore.models.hourglass import StackedHourglass
    torch.manual_seed(0)
    state = StackedHourglass(hg).state_dict()
    cfg = dataclasses.replace(fbi.config("full"), fbi_steps=1, batch_size=2)
    lab = RandomImages(2, True, 256, heatmap_resolution=64)
    net, hist = fbi.train_fbi_branch(cfg, bcfg, (state, "full-shapes"), lab, data_id="toy", progress=False)
    assert np.isfinite(hist[-1]["loss"]) and net.head.linear.out_features == 42
    full = fbi.config("full")
    assert (full.refiner_width, full.refiner_batch, full.refiner(93).num_blocks) == (1024, 64, 2)
    g = np.random.default_rng(0)
    x, y = g.normal(size=(128, 93)).astype(np.float32), g.normal(size=(128, 48)).astype(np.float32)
    m, h, alpha = fbi.train_refiner(x, y, dataclasses.replace(full, refiner_steps=4), weighted=True, progress=False)
    assert alpha is not None and np.isfinite(h[-1]["loss"]) and m.net.cfg.width == 1024
