"""Behaviour fingerprints of every cached stage: the guard that makes explicit stage versions safe.

A checkpoint is named by its stage's explicit ``version`` (:mod:`posecore.artefacts`), not by the source
text, so a change in what a stage computes must come with a bumped version. This module runs every
declared stage for a few steps at smoke size with the quick profile's switches on (flips, crop jitter,
one-cycle / cosine schedules, training pools, mixed lab / wild batches, the geometric loss, the
multi-source discriminator, the weighted loss; fp32, one thread, seeded) and records the loss
trajectory of every step and two checksums of the trained weights. :func:`check` compares them with the
golden file (``tests/fingerprints.json``)::

    python -m posecore.fingerprint            # check every stage (what tests/test_fingerprints.py does)
    python -m posecore.fingerprint --update   # record the current behaviour and versions

A stage whose behaviour differs at an unchanged version fails with "behaviour changed: bump the stage's
version or revert"; a stage whose version differs from the golden one asks for ``--update``. So a
behaviour change lands as: bump the version (its cached checkpoints retrain), run ``--update``, commit
both. A docstring, rename or refactor changes neither behaviour nor keys.

The golden file holds one set of fingerprints per CPU kind (:func:`cpu_kind`: the instruction set
PyTorch's kernels dispatch to, e.g. ``AVX2`` or ``AVX512``): the convolutions of the image stages round
differently on the two, and Adam turns a difference of one ulp in a near-zero gradient into a whole
step of the learning rate, so their trajectories agree to 1e-4 only on the same kind (seen: the image
stages' losses 0.1-7 % apart after three steps, the lifters' equal). ``--update`` records the running
machine's kind; a kind with no fingerprints in the file cannot be checked (the test says so and skips).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np
import torch

from . import artefacts, train
from .data import render

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "fingerprints.json"
RTOL, ATOL = 1e-4, 1e-6          # loss trajectories and checksums: same CPU kind, one thread, fp32
RENDERER = "renderer"            # the renderer's fingerprint, versioned by posecore.data.render.VERSION


class BehaviourChanged(AssertionError):
    """A stage computes something else than its golden fingerprint at the same version."""


# --- recording ------------------------------------------------------------------------------------
def _checksums(models: dict) -> list[float]:
    """(sum |w|, sum w * ramp) over every floating tensor of the models' state dicts, in name order:
    the second catches permuted or swapped weights that the first does not."""
    a, b = 0.0, 0.0
    for _, m in sorted(models.items()):
        for _, t in sorted(m.state_dict().items()):
            if not t.is_floating_point():
                continue
            t = t.detach().double().reshape(-1)
            a += float(t.abs().sum())
            b += float((t * torch.linspace(-1.0, 1.0, len(t), dtype=torch.float64)).sum())
    return [a, b]


@contextlib.contextmanager
def _recorded_fits(runs: list):
    """Every :func:`posecore.train.fit` inside the block logs every step, shows no bar, and appends
    (history, models) to ``runs``."""
    fit = train.fit

    def recording_fit(*args, **kw):
        kw.update(log_every=1, progress=False)
        hist = fit(*args, **kw)
        runs.append((hist, kw["models"]))
        return hist
    train.fit = recording_fit
    try:
        yield
    finally:
        train.fit = fit


def _print(runs: list) -> list[dict]:
    out = []
    for hist, models in runs:
        losses = [[float(v) for k, v in sorted(h.items()) if k not in ("step", "time_s")] for h in hist]
        out.append({"losses": losses, "checksum": _checksums(models)})
    return out


# --- the stages at smoke size -----------------------------------------------------------------------
def _lifting_data():
    from . import data
    s = data.load("synth", "train")
    return s[np.arange(0, len(s), max(1, len(s) // 600))[:600]]


def _image_setup():
    """Small lab / wild ImageDatasets from the embedded benchmark and the smoke backbone with the quick
    profile's switches (flip, jitter, one-cycle, Adam), fp32."""
    from . import data
    from .data.images import ImageDataset
    from .recipes import backbone
    bcfg = backbone.config("smoke", precision="fp32", steps=4, eval_every=4, n_eval=4)
    lab = data.load("synth", "train")[:64]
    wild_all = data.load("synth", "wild_train")
    hidden = data.load("synth", "wild_train", reveal_hidden=True).poses_3d[:64]
    wild = wild_all[:64]
    common = dict(resolution=bcfg.resolution, heatmap_resolution=bcfg.hourglass().heatmap_resolution,
                  sigma=bcfg.sigma, seed=0)
    return dict(bcfg=bcfg, lab=ImageDataset(lab, augment=True, **common),
                wild=ImageDataset(wild, augment=True, render_poses_3d=hidden, **common),
                lab_poses=lab, hidden=hidden)


def _run_backbone(s) -> list:
    from .recipes import backbone
    b = s["lab"].get_batch(np.arange(4))
    evals = {"lab": {k: b[k].cpu() for k in ("image", "joints_2d", "joints_visible")}}
    net, _ = backbone.train_backbone(s["bcfg"], s["lab"], s["wild"], evals, data_id="fingerprint", progress=False)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, "backbone-fingerprint"


def _zhou(s):
    from .models.zhou import canonical_bone_lengths
    from .recipes import zhou
    tc = zhou.config("smoke", stage2_steps=3, stage3_steps=3, train_pool=16).train_config(s["bcfg"])
    tc = replace(tc, stage1_steps=3)
    canonical = canonical_bone_lengths(s["lab_poses"].poses_3d).numpy()
    zhou.train_variant("3D+2D/w geo", tc, s["lab"], s["wild"], canonical, data_id="fingerprint", progress=False)


def _yang(s, bb):
    from .recipes import yang
    cfg = yang.config("smoke", stage2_steps=3, adv_steps=3, train_pool=16)
    yang.train_variant("Full", cfg, s["bcfg"], bb, s["lab"], s["wild"], "fingerprint", progress=False)


def _fbi(s, bb):
    from .recipes import fbi
    cfg = fbi.config("smoke", fbi_steps=3, refiner_steps=12)
    fbi.train_fbi_branch(cfg, s["bcfg"], bb, s["lab"], s["wild"], data_id="fingerprint",
                         wild_poses_3d=s["hidden"], train_pool=16, progress=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20)).astype(np.float32)
    y = (x[:, :1] * rng.normal(size=(1, 48))).astype(np.float32)
    fbi.train_refiner(x, y, cfg, weighted=True, progress=False)


def _images(s) -> dict:
    from .recipes.images import CachedImages
    c = CachedImages(s["wild"], np.arange(3))
    d = c.data
    return {"losses": [[float(d["image"].double().sum()), float(d["heatmaps"].double().sum())]],
            "checksum": [float(torch.as_tensor(d["joints_2d"]).double().abs().sum()), float(len(d["image"]))]}


def _renderer() -> dict:
    from . import data
    ps = data.load("synth", "wild_test")[:4]
    lab = data.load("synth", "test")[:2]
    out = []
    for p in (ps, lab):
        r = render.render_samples(p, np.arange(len(p)), 48, 0, device="cpu")
        img = r["images"].double()
        out.append([float(img.sum()), float((img * torch.linspace(0, 1, img.shape[-1], dtype=torch.float64)).sum())])
    return {"losses": out, "checksum": [float(len(out))]}


def record(only=None) -> dict:
    """``{stage: {"version": v, "runs": [...]}}`` for every declared stage (and the renderer), each run
    with its per-step losses and weight checksums. ``only``: a set of stage names."""
    from .recipes import backbone, drover, fbi, martinez, regression, wang, yang, zhou  # noqa: F401 (declares)
    from .recipes import images  # noqa: F401
    want = (lambda n: True) if not only else (lambda n: n in only)
    out: dict = {}
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="posecore-fingerprint-") as tmp, \
                mock.patch.dict(os.environ, {"POSECORE_CHECKPOINTS": tmp}):   # fresh: every stage trains

            def stage_runs(names: list[str], fn: Callable[[], None]) -> None:
                if not any(want(n) for n in names):
                    return
                runs: list = []
                with _recorded_fits(runs):
                    fn()
                prints = _print(runs)
                assert len(prints) == len(names), f"fingerprint: {names} ran {len(prints)} fits"
                for n, p in zip(names, prints):
                    if want(n):
                        out[n] = {"version": artefacts.STAGES[n].version, "runs": [p]}

            lift = _lifting_data()
            stage_runs(["regression"], lambda: regression.train_regressor(
                *_toy_regression(martinez.config("smoke", num_steps=12)), name="fp-regression", progress=False))
            stage_runs(["martinez"], lambda: martinez.train_lifter(
                lift, martinez.config("smoke", num_steps=12), norm="camera", progress=False))
            stage_runs(["wang-synth", "wang-recon"], lambda: wang.train_wang(
                lift, wang.config("smoke", norm="camera", net=martinez.config("smoke", num_steps=12)), progress=False))
            stage_runs(["drover"], lambda: drover.train_drover(
                lift, drover.config("smoke", num_steps=6, batch_size=64, precision="fp32"), progress=False))
            if any(want(n) for n in ("backbone", "images", "zhou-stage1", "zhou-stage2", "zhou-stage3",
                                     "yang-supervised", "yang-adversarial", "fbi-branch", "fbi-refiner")):
                s = _image_setup()
                bb: list = []
                stage_runs(["backbone"], lambda: bb.append(_run_backbone(s)))
                if not bb:
                    bb.append(_run_backbone(s))
                stage_runs(["zhou-stage1", "zhou-stage2", "zhou-stage3"], lambda: _zhou(s))
                stage_runs(["yang-supervised", "yang-adversarial"], lambda: _yang(s, bb[0]))
                stage_runs(["fbi-branch", "fbi-refiner"], lambda: _fbi(s, bb[0]))
                if want("images"):
                    out["images"] = {"version": artefacts.STAGES["images"].version, "runs": [_images(s)]}
            if want(RENDERER):
                out[RENDERER] = {"version": render.VERSION, "runs": [_renderer()]}
    finally:
        torch.set_num_threads(old_threads)
    return out


def _toy_regression(cfg):
    """(model, x, y, cfg) of :func:`posecore.recipes.regression.train_regressor` on a seeded toy problem."""
    from .models.lifter import Standardised
    from .models.martinez import MartinezNet
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 34)).astype(np.float32)
    y = np.tanh(x[:, :16] @ rng.normal(size=(16, 48))).astype(np.float32)
    torch.manual_seed(0)
    return Standardised(MartinezNet(cfg), 34, 48), x, y, cfg


# --- comparing ----------------------------------------------------------------------------------------
def expected_stages() -> list[str]:
    """Every declared stage and the renderer."""
    from .recipes import backbone, drover, fbi, images, martinez, regression, wang, yang, zhou  # noqa: F401
    return sorted([*artefacts.STAGES, RENDERER])


def _close(a, b) -> bool:
    return all(math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL) for x, y in zip(a, b)) and len(a) == len(b)


def compare(name: str, now: dict, golden: dict | None) -> None:
    """Raise :class:`BehaviourChanged` (or AssertionError for a missing / outdated golden entry) with a
    message that says what to do."""
    update = "record it with `python -m posecore.fingerprint --update`"
    if golden is None:
        raise AssertionError(f"stage {name!r} has no golden fingerprint: {update}")
    if now["version"] != golden["version"]:
        raise AssertionError(f"stage {name!r} is at version {now['version']}, the golden fingerprint at "
                             f"{golden['version']}: {update}")
    for k, (a, b) in enumerate(zip(now["runs"], golden["runs"])):
        for step, (la, lb) in enumerate(zip(a["losses"], b["losses"]), 1):
            if not _close(la, lb):
                raise BehaviourChanged(f"stage {name!r}: behaviour changed: bump the stage's version or revert "
                                       f"(step {step}: losses {la}, golden {lb})")
        if len(a["losses"]) != len(b["losses"]) or not _close(a["checksum"], b["checksum"]):
            raise BehaviourChanged(f"stage {name!r}: behaviour changed: bump the stage's version or revert "
                                   f"(weights {a['checksum']}, golden {b['checksum']}; {len(a['losses'])} steps, "
                                   f"golden {len(b['losses'])})")


def cpu_kind() -> str:
    """The CPU kind whose fingerprints apply here: the instruction set PyTorch's CPU kernels dispatch to
    (``torch.backends.cpu.get_cpu_capability()``: ``DEFAULT``, ``AVX2``, ``AVX512``, ...)."""
    return str(torch.backends.cpu.get_cpu_capability())


class NoGolden(LookupError):
    """The golden file has no fingerprints for this CPU kind."""


def _read(path) -> dict:
    """The whole golden file: ``{cpu kind: {stage: fingerprint}}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable fingerprint file ({e})") from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) and all(isinstance(f, dict) for f in v.values())
                                             for v in data.values()):
        raise ValueError(f"{path}: expected {{cpu kind: {{stage: fingerprint}}}}")
    return data


def load_golden(path=GOLDEN, kind: str | None = None) -> dict:
    """``{stage: fingerprint}`` recorded on CPUs of ``kind`` (default: this machine's,
    :func:`cpu_kind`); raises :class:`NoGolden` when the file has none for that kind."""
    kind = kind or cpu_kind()
    data = _read(path)
    if kind not in data:
        raise NoGolden(f"{path} has no fingerprints for CPU kind {kind!r} (it has {sorted(data)}): record them "
                       f"on such a machine with `python -m posecore.fingerprint --update`")
    return data[kind]


def check(path=GOLDEN, only=None) -> dict:
    """Record and compare every stage with the golden file's fingerprints for this CPU kind; raises on the
    first difference."""
    golden = load_golden(path)
    now = record(only)
    for name in sorted(now):
        compare(name, now[name], golden.get(name))
    return now


def update(path=GOLDEN, only=None) -> dict:
    """Record the current behaviour (all stages, or ``only``) into the golden file, under this machine's
    CPU kind (the other kinds' fingerprints are kept)."""
    path = Path(path)
    data = _read(path) if path.is_file() else {}
    kind = cpu_kind()
    now = record(only)
    golden = {**data.get(kind, {}), **now}
    stages = set(expected_stages())
    data[kind] = {k: golden[k] for k in sorted(golden) if k in stages}
    artefacts.atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
    return now


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="check (default) or record the stages' behaviour fingerprints")
    ap.add_argument("--update", action="store_true", help="record the current behaviour into the golden file")
    ap.add_argument("--only", nargs="*", default=None, help="stage names (default: all)")
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    a = ap.parse_args(argv)
    only = set(a.only) if a.only else None
    if a.update:
        now = update(a.golden, only)
        print(f"recorded {len(now)} stages for CPU kind {cpu_kind()} into {a.golden}: " + ", ".join(f"{k} v{v['version']}" for k, v in sorted(now.items())))
        return 0
    try:
        now = check(a.golden, only)
    except (AssertionError, NoGolden, ValueError) as e:
        print(f"fingerprint: {e}", file=sys.stderr)
        return 1
    print(f"fingerprint: {len(now)} stages match {a.golden} (CPU kind {cpu_kind()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
