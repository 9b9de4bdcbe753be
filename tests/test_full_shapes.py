"""Full-shapes tests: every paper recipe's ``full`` profile, built at the papers' real sizes, runs ONE
training step on a tiny batch on the CPU with the recipe's own loss and optimiser. They catch shape
and configuration errors of the full profile before anyone rents a GPU.

For each recipe: the parameter count equals the paper's architecture (computed by hand below from
the layer sizes; the hourglass only has to be > 10M), the logged losses are finite, and the
parameters changed after the step. Checkpoints go to ``tmp_path`` (``POSECORE_CHECKPOINTS``).

The MLP recipes run through their real training functions (``train_lifter``, ``train_wang``,
``train_drover``) with ``num_steps=1`` and a tiny batch; ``posecore.train.fit`` is wrapped to record
the parameters before and the history after each run. Zhou et al. run one step of each stage of
``posecore.recipes.zhou.make_step_fn`` at 256 px on a fake image dataset fed through the real
``MixedBatches``.

Timing (one thread, shared 2-core machine): about 5-10 s per Zhou stage at 256 px, a few seconds for
the rest (the file: ~40 s), so no test is marked ``slow`` (meant for a single test over 20 s). That
marker is registered in tests/conftest.py: a ``pytest_configure`` hook in a test module is never
called by pytest (test modules are not plugins), so this file defines none.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from posecore import train
from posecore.data.fixtures import RandomImages
from posecore.data.toy import toy_poseset


@pytest.fixture(autouse=True)
def _one_thread_and_tmp_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- helpers ---------------------------------------------------------------------------------------
def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out                                       # weight + bias


def batchnorm(n: int) -> int:
    return 2 * n                                                      # gamma + beta (stats are buffers)


def martinez_params(n_in: int, n_out: int, width: int = 1024, blocks: int = 2) -> int:
    """Martinez et al. 2017: Linear(in, w)+BN, ``blocks`` x 2 x (Linear(w, w)+BN), Linear(w, out)."""
    return (linear(n_in, width) + batchnorm(width)
            + blocks * 2 * (linear(width, width) + batchnorm(width))
            + linear(width, n_out))


def drover_params(n_out: int, width: int = 1024, blocks: int = 4) -> int:
    """Drover et al. 2018: Linear(28, w) (no BN), ``blocks`` x 2 x (Linear(w, w)+BN), Linear(w, out)."""
    return linear(28, width) + blocks * 2 * (linear(width, width) + batchnorm(width)) + linear(width, n_out)


def snapshot(module) -> dict:
    return {k: p.detach().clone() for k, p in module.named_parameters()}


def changed(before: dict, module) -> dict:
    """{parameter name: whether it differs from ``before``}."""
    return {k: not torch.equal(before[k], p.detach()) for k, p in module.named_parameters()}


def assert_all_weights_changed(before: dict, module, what: str, unused=()):
    """Every weight matrix / conv kernel moved (a bias right before a BatchNorm has a ~0 gradient, so
    biases are not checked), except the names in ``unused`` (no path to this stage's loss), which
    must not have moved."""
    ch = changed(before, module)
    assert not any(ch[k] for k in unused), f"{what}: {list(unused)} moved although no loss reaches them"
    weights = [k for k, p in module.named_parameters() if p.ndim >= 2 and k not in unused]
    stale = [k for k in weights if not ch[k]]
    assert weights and not stale, f"{what}: weights unchanged after the step: {stale[:5]}"


def assert_finite_history(history, what: str):
    assert history, f"{what}: empty history"
    for logs in history:
        bad = {k: v for k, v in logs.items() if not math.isfinite(float(v))}
        assert not bad, f"{what}: non-finite logs {bad}"


@pytest.fixture
def fit_spy(monkeypatch):
    """Wraps posecore.train.fit (the loop of every recipe): records each run's models, the parameters
    before the run, its optimisers and its history."""
    runs = []
    real = train.fit

    def fit(step_fn, batch_fn, *, models, optimizers, num_steps, **kw):
        before = {name: snapshot(m) for name, m in models.items()}
        history = real(step_fn, batch_fn, models=models, optimizers=optimizers, num_steps=num_steps, **kw)
        runs.append(dict(desc=kw.get("desc"), models=models, optimizers=optimizers, before=before,
                         history=history, num_steps=num_steps))
        return history
    monkeypatch.setattr(train, "fit", fit)
    return runs


def _check_runs(runs, expected_descs):
    assert [r["desc"] for r in runs] == expected_descs, [r["desc"] for r in runs]
    for r in runs:
        assert r["num_steps"] == 1
        assert_finite_history(r["history"], r["desc"])
        for name, m in r["models"].items():
            assert_all_weights_changed(r["before"][name], m, f"{r['desc']}/{name}")


# --- Martinez et al. 2017 ----------------------------------------------------------------------------
def test_martinez_full_one_step(fit_spy):
    from posecore.recipes import martinez
    full = martinez.config("full")
    assert (full.width, full.num_blocks, full.batch_size) == (1024, 2, 64)
    cfg = dataclasses.replace(full, num_steps=1, batch_size=4)
    model, hist = martinez.train_lifter(toy_poseset(64), cfg, progress=False)
    # 17 joints x 2 px in, 16 root-relative joints x 3 mm out, two residual blocks of width 1024:
    # (34*1024 + 1024) + 2*1024 + 2 blocks * 2 * (1024*1024 + 1024 + 2*1024) + (1024*48 + 48)
    assert martinez_params(34, 48) == 4_293_680
    assert n_params(model.net) == 4_293_680
    assert isinstance(fit_spy[0]["optimizers"]["opt"], torch.optim.Adam)
    _check_runs(fit_spy, ["martinez"])
    assert math.isfinite(hist[-1]["loss"])


# --- Wang et al. 2019 (lifting half) -------------------------------------------------------------------
def test_wang_full_one_step_each_subnetwork(fit_spy):
    from posecore.recipes import wang
    full = wang.config("full")
    assert full.net.width == 1024 and full.net.num_blocks == 2
    cfg = dataclasses.replace(full, net=dataclasses.replace(full.net, num_steps=1, batch_size=4))
    lifter, hists = wang.train_wang(toy_poseset(64), cfg, progress=False)
    # synthesis: left 2D (34) -> right 2D (34); reconstruction: [left, right] (68) -> 3D (48)
    assert n_params(lifter.synth.net) == martinez_params(34, 34) == 4_279_330
    assert n_params(lifter.recon.net) == martinez_params(68, 48) == 4_328_496
    _check_runs(fit_spy, ["wang-synth", "wang-recon"])
    assert set(hists) == {"synth", "recon"}
    rel = lifter.reconstruct(toy_poseset(4, seed=1).poses_2d)
    assert rel.shape == (4, 17, 3) and torch.isfinite(torch.as_tensor(rel)).all()


# --- Drover et al. 2018 -----------------------------------------------------------------------------
def test_drover_full_one_step(fit_spy):
    from posecore.recipes import drover
    full = drover.config("full")
    assert (full.width, full.gen_blocks, full.disc_blocks) == (1024, 4, 3)
    cfg = dataclasses.replace(full, num_steps=1, batch_size=4)
    G, Dn, hist, info = drover.train_drover(toy_poseset(64), cfg, progress=False)
    # generator: Linear(28, 1024), 4 blocks x 2 x (Linear(1024, 1024) + BN), Linear(1024, 14 depths)
    assert drover_params(14, blocks=4) == 8_457_230 == n_params(G)
    # discriminator: Linear(28, 1024), 3 blocks x 2 x (Linear(1024, 1024) + BN), Linear(1024, 2 logits)
    assert drover_params(2, blocks=3) == 6_341_634 == n_params(Dn)
    _check_runs(fit_spy, ["drover"])
    assert {"loss_d", "loss_g"} <= set(hist[-1])
    assert all(math.isfinite(v) for v in info.values())


# --- Zhou et al. 2017 (the 2x2 hourglass of 256 features at 256 px) ---------------------------------
@pytest.mark.parametrize("stage,variant", [(1, "3D+2D/w geo"), (2, "3D+2D/w geo"), (3, "3D+2D/w geo"),
                                           (3, "3D/w geo")])
def test_zhou_full_one_step_per_stage(stage, variant):
    from posecore.models.hourglass import HourglassConfig
    from posecore.models.zhou import ZhouNet, canonical_bone_lengths
    from posecore.recipes import backbone, zhou
    from posecore.recipes.images import MixedBatches, optimizer

    full = zhou.config("full").train_config(backbone.config("full"))
    assert full.model.hourglass == HourglassConfig.zhou(256)          # 2 stacks x 2 modules, 256 features
    cfg = dataclasses.replace(full, batch_size=2)                     # 1 lab + 1 wild image (BN needs >= 2)
    v = zhou.VARIANTS[variant]
    R = cfg.model.hourglass.resolution
    torch.manual_seed(0)
    model = ZhouNet(cfg.model)
    n = n_params(model)
    print(f"\nZhouNet (full: {R} px, 2x2 hourglass of 256 features): {n:,} parameters")
    assert n > 10_000_000
    lab, wild = RandomImages(8, True, R), RandomImages(8, False, R)
    canonical = canonical_bone_lengths(lab.p3).numpy()
    batches = MixedBatches(lab, wild if v.use_wild else None, cfg.batch_size, cfg.wild_fraction, seed=cfg.seed,
                           stage=stage, pool=cfg.train_pool)
    batch = batches(1)
    assert batch["image"].shape == (2, 3, R, R) and batch["heatmaps"].shape == (2, 17, R // 4, R // 4)
    params = model.parameters_2d() if stage == 1 else model.parameters()
    opt = optimizer(params, cfg.optimizer, cfg.lr)                   # the recipe's optimiser (RMSprop)
    assert isinstance(opt, torch.optim.RMSprop)
    step_fn = zhou.make_step_fn(model, opt, stage, cfg, canonical, v)
    before_hg, before_depth = snapshot(model.hourglass), snapshot(model.depth)
    model.train()
    logs = step_fn(batch, 1)
    assert_finite_history([logs], f"zhou stage {stage}")
    expected = {"hm", "loss"} | ({"depth"} if stage >= 2 else set()) | ({"geo"} if stage == 3 else set())
    assert set(logs) == expected, logs
    # the last stack's re-injection convs only build ``merged``, which only the depth regressor reads:
    # no gradient reaches them in stage 1 (heatmap loss only)
    last = cfg.model.hourglass.stacks - 1
    unused = (f"feature_back.{last}.weight", f"heatmap_back.{last}.weight") if stage == 1 else ()
    assert_all_weights_changed(before_hg, model.hourglass, f"zhou stage {stage} hourglass", unused)
    if stage == 1:                                                    # stage 1 trains the 2D module only
        assert not any(changed(before_depth, model.depth).values())
    else:
        assert_all_weights_changed(before_depth, model.depth, f"zhou stage {stage} depth regressor")
