"""Benchmark of the recipes' training steps on the CPU: fp32 vs bf16 autocast vs Adam's foreach and
fused implementations (plain script; prints figures; run by `make bench`).

* per recipe, at its ``quick`` size -- Martinez (width 512, batch 256), Wang's synthesis net (the same
  size, 34 -> 34), Drover (width 256, batch 4,096: real + fake in ONE discriminator batch of 8,192),
  Zhou (64 px, the quick 2 x 1 hourglass of 64 features with 32 x 32 heatmaps, batch 16, stage 2) -- the median time of one
  training step in each mode, the modes interleaved (A B C D A B C D ...) in one run, and the ratio
  of each to fp32 (> 1: faster than fp32);
* the metric behind a "use it" verdict: the Martinez quick lifter trained for a short fixed budget
  on the synth benchmark in fp32, bf16 autocast and with fused Adam, and each one's lab-test MPJPE
  (:func:`posecore.evaluate.evaluate_3d`). A mode is recommended ("use it: yes") only when it is
  faster than fp32 AND its MPJPE is within 1 mm of fp32's; the metric is measured on the Martinez
  lifter only (Wang's subnetworks are the same network and loss), so for Drover and Zhou a faster
  mode is reported as "faster, metric not measured here" (Drover's bf16 metric is measured by full
  training runs: ``posecore.recipes.drover.config``'s docstring, and chapter 01 prints it);
* the CPU flags that decide whether bf16 can be fast (avx512_bf16, amx_*);
* with ``POSECORE_MARTINEZ_PORT`` pointing at a local checkout of a public PyTorch port of Martinez
  et al. (e.g. weigq/3d_pose_baseline_pytorch: ``LinearModel`` in ``src/model.py`` or ``model.py``;
  the file is imported from there, never installed), the ratio of our full Martinez training step
  (width 1024, batch 64, with max-norm) to the port's (batch 64, its MSE loss and Adam), interleaved.

    python benchmarks/bench_recipes.py [--quick] [--threads N] [--reps K] [--train-steps S]

Run time on the 2-core AMD EPYC (AVX2, no avx512_bf16 / AMX) this was written on: bf16 autocast is
5-20x slower than fp32 there and dominates the run (its metric training above all); ``--quick``
(3 rounds, 60 training steps) took ~2.5 min with the machine shared by other jobs, the default (5
rounds, 150 steps) takes about twice that when shared and well under 3 min when idle.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path

# idle OpenMP threads sleep instead of spinning (as `make bench` sets it): on a shared 2-core machine
# spinning threads made every step several times slower; must be set before torch loads OpenMP
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from posecore import train  # noqa: E402
from posecore.data.fixtures import RandomImages  # noqa: E402
from posecore.models.martinez import MartinezConfig, MartinezNet, apply_max_norm

BF16_FLAGS = ("avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
MODES = ("fp32", "bf16", "foreach", "fused")
MIN_GAIN = 1.10                                                       # "faster": fp32 time / mode time
LABEL = {"fp32": "fp32 (default Adam)", "bf16": "bf16 autocast", "foreach": "fp32, Adam foreach",
         "fused": "fp32, Adam fused"}


# --- the machine ----------------------------------------------------------------------------------
def cpu_report() -> None:
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        print("CPU: /proc/cpuinfo unreadable; bf16 flags unknown")
        return
    have = [f for f in BF16_FLAGS if f in flags]
    lack = [f for f in BF16_FLAGS if f not in flags]
    print(f"CPU: {model}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"  bf16-relevant flags present: {', '.join(have) or 'none'}; absent: {', '.join(lack) or 'none'}")
    if not train.cpu_has_bf16():
        print("  (no native bf16 arithmetic: bf16 matmuls/convs are emulated or converted, expect no speed-up)")


def adam_support() -> dict:
    """{'foreach': None or the error, 'fused': None or the error} for Adam on CPU tensors."""
    out = {}
    for kind in ("foreach", "fused"):
        try:
            p = torch.nn.Parameter(torch.randn(4, 4))
            p.grad = torch.randn(4, 4)
            torch.optim.Adam([p], lr=1e-3, **{kind: True}).step()
            out[kind] = None
        except Exception as e:                                         # noqa: BLE001 - report any failure
            out[kind] = f"{type(e).__name__}: {e}".splitlines()[0]
    return out


def adam(params, mode: str, **kw):
    extra = {"foreach": {"foreach": True}, "fused": {"fused": True}}.get(mode, {})
    return torch.optim.Adam(params, **kw, **extra)


def amp(mode: str):
    """The recipes' forward-pass context (:func:`posecore.train.autocast`) for a benchmark mode."""
    return train.autocast("bf16" if mode == "bf16" else "fp32")


# --- one training step per recipe (a fresh model per mode, the same initial weights) -----------------
def mlp_step(n_in: int, n_out: int, width: int, batch: int, mode: str):
    """The supervised MLP step of posecore.recipes.regression (Martinez, Wang's subnetworks): L2 on
    standardised targets, Adam, max-norm after the step."""
    torch.manual_seed(0)
    net = MartinezNet(MartinezConfig(in_features=n_in, out_features=n_out, width=width))
    opt = adam(net.parameters(), mode, lr=1e-3)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(batch, n_in, generator=g), torch.randn(batch, n_out, generator=g)

    def step():
        with amp(mode):
            loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        apply_max_norm(net, 1.0)
    return step


def drover_step(mode: str):
    """posecore.recipes.drover's step at the quick size: D on real + fake in ONE batch, then G."""
    from posecore.models import drover as D
    from posecore.recipes import drover as recipe
    cfg = recipe.config("quick")
    torch.manual_seed(0)
    G, Dn = D.Generator(cfg), D.Discriminator(cfg)
    oG = adam(G.parameters(), mode, lr=cfg.lr, betas=(0.5, 0.999))
    oD = adam(Dn.parameters(), mode, lr=cfg.lr_d, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(1)
    n = cfg.batch_size
    x, r = 0.02 * torch.randn(n, 14, 2, generator=g), 0.02 * torch.randn(n, 14, 2, generator=g)
    target = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)])
    ce = torch.nn.functional.cross_entropy

    def step():
        with amp(mode):
            with torch.no_grad():
                fake, _ = D.random_projection(G(x).float(), cfg.d, cfg.elevation, g)
            loss_d = ce(Dn(torch.cat([r, fake])), target)
        oD.zero_grad(set_to_none=True)
        loss_d.backward()
        oD.step()
        with amp(mode):
            fake, _ = D.random_projection(G(x).float(), cfg.d, cfg.elevation, g)
            loss_g = ce(Dn(torch.cat([r, fake]))[n:], target[:n])
        oG.zero_grad(set_to_none=True)
        loss_g.backward()
        oG.step()
    return step, 2 * n


def zhou_step(mode: str, stage: int = 2, variant: str = "3D+2D/w geo"):
    """posecore.recipes.zhou.make_step_fn at the quick size on one fixed fake MixedBatches batch; bf16
    autocast wraps the network's forward (the losses and the backward stay outside it)."""
    from posecore.models.zhou import ZhouNet, canonical_bone_lengths
    from posecore.recipes import backbone, zhou
    from posecore.recipes.images import MixedBatches
    cfg = zhou.config("quick").train_config(backbone.config("quick"))
    assert cfg.optimizer == "adam"
    R = cfg.model.hourglass.resolution
    torch.manual_seed(0)
    model = ZhouNet(cfg.model)
    if mode == "bf16":
        fwd = model.forward
        model.forward = lambda *a, **k: _autocast_call(fwd, *a, **k)
    opt = adam(model.parameters(), mode, lr=cfg.lr)
    v = zhou.VARIANTS[variant]
    hr = cfg.model.hourglass.heatmap_resolution
    lab, wild = (RandomImages(32, h, R, px_per_mm=0.2 * R / 256, heatmap_resolution=hr) for h in (True, False))
    batch = MixedBatches(lab, wild, cfg.batch_size, cfg.wild_fraction, seed=0, stage=stage)(1)
    step_fn = zhou.make_step_fn(model, opt, stage, cfg, canonical_bone_lengths(lab.p3).numpy(), v)
    model.train()
    return (lambda: step_fn(batch, 1)), cfg.batch_size


def _autocast_call(fn, *a, **k):
    with amp("bf16"):
        return fn(*a, **k)


# --- interleaved timing -----------------------------------------------------------------------------
def interleaved(steps: dict, reps: int, inner: int = 1, warmup: int = 1) -> dict:
    """{name: median seconds per step} over ``reps`` rounds of A B C ...; each measurement is
    ``inner`` consecutive steps (1 for the bf16 mode, 5-20x slower here: it would dominate the run)."""
    for s in steps.values():
        for _ in range(warmup):
            s()
    times = {k: [] for k in steps}
    for _ in range(reps):
        for k, s in steps.items():
            n = 1 if k == "bf16" else inner
            t0 = time.perf_counter()
            for _ in range(n):
                s()
            times[k].append((time.perf_counter() - t0) / n)
    return {k: statistics.median(v) for k, v in times.items()}


def print_modes(name: str, med: dict, samples: int) -> None:
    base = med["fp32"]
    print(f"{name}:")
    for m, s in med.items():
        print(f"  {LABEL[m]:<22} {s * 1e3:9.1f} ms/step  {samples / s:9,.0f} samples/s  "
              f"speed vs fp32 x{base / s:5.2f}")


# --- the metric: Martinez quick lifter, fixed short budget -------------------------------------------
def train_martinez(mode: str, steps: int, x, y, seed: int = 0):
    """posecore.recipes.regression's loop (the same batches, lr decay and max-norm), in memory, without
    checkpoints, optionally under bf16 autocast or with fused Adam."""
    from posecore import train
    from posecore.models.lifter import Standardised
    from posecore.recipes import martinez
    from posecore.recipes.regression import batch_indices
    cfg = martinez.config("quick")
    train.seed_everything(seed)
    model = Standardised(MartinezNet(cfg), x.shape[1], y.shape[1])
    model.set_stats(x, y)
    X, Y = torch.as_tensor(x), torch.as_tensor(y)
    idx = batch_indices(len(x), cfg.batch_size, seed)
    opt = adam(model.parameters(), mode, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay ** (1.0 / cfg.decay_steps))
    model.train()
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        i = torch.as_tensor(idx(step))
        with amp(mode):
            loss = ((model(X[i], normalised_output=True) - model.normalise_y(Y[i])) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        apply_max_norm(model.net, cfg.max_norm)
    return model.eval(), time.perf_counter() - t0


def martinez_metric(modes, steps: int) -> dict:
    """{mode: (lab-test MPJPE mm, training seconds)}; each model is evaluated in its own precision."""
    from posecore import data
    from posecore.evaluate import evaluate_3d
    from posecore.models.lifter import from_output, lifter_input, to_target
    tr, te = data.load("synth", "train"), data.load("synth", "test")
    tr = tr[tr.has_3d]
    x, y = lifter_input(tr.poses_2d, tr.intrinsics), to_target(tr.poses_3d)
    xt = torch.as_tensor(lifter_input(te.poses_2d, te.intrinsics))
    out = {}
    for m in modes:
        model, secs = train_martinez(m, steps, x, y)
        with torch.no_grad(), amp(m):
            pred = model(xt).float().numpy()
        out[m] = (evaluate_3d(from_output(pred), te)["mpjpe"], secs)
    print(f"Martinez quick lifter (width 512, batch 256), {steps} steps on synth/train "
          f"({len(tr):,} poses), MPJPE on synth/test ({len(te):,}):")
    for m, (e, secs) in out.items():
        print(f"  {LABEL[m]:<22} MPJPE {e:7.2f} mm  (d vs fp32 {e - out['fp32'][0]:+6.2f} mm)  "
              f"trained in {secs:5.1f} s")
    return out


# --- a public port of Martinez et al. -----------------------------------------------------------------
def load_port_model(root: str):
    """``LinearModel`` from ``root/src/model.py``, ``root/model.py`` or ``root`` itself (a .py file),
    imported by path (nothing installed)."""
    p = Path(root).expanduser()
    cands = [p] if p.is_file() else [p / "src" / "model.py", p / "model.py"]
    for f in cands:
        if f.is_file():
            spec = importlib.util.spec_from_file_location("posecore_bench_martinez_port", f)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            if hasattr(mod, "LinearModel"):
                return mod.LinearModel, f
    raise FileNotFoundError(f"no LinearModel in any of {[str(c) for c in cands]}")


def port_step(LinearModel, batch: int):
    torch.manual_seed(0)
    net = LinearModel()                                               # its defaults: 1024 wide, 2 stages
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    n_in = getattr(net, "input_size", linears[0].in_features)
    n_out = getattr(net, "output_size", linears[-1].out_features)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    crit = torch.nn.MSELoss()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(batch, n_in, generator=g), torch.randn(batch, n_out, generator=g)
    net.train()

    def step():
        loss = crit(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, sum(p.numel() for p in net.parameters()), (n_in, n_out)


def port_comparison(reps: int) -> None:
    root = os.environ.get("POSECORE_MARTINEZ_PORT")
    if not root:
        print("POSECORE_MARTINEZ_PORT not set: port comparison skipped")
        return
    try:
        LinearModel, path = load_port_model(root)
        theirs, n_theirs, io = port_step(LinearModel, 64)
    except Exception as e:                                             # noqa: BLE001 - report, do not crash
        print(f"POSECORE_MARTINEZ_PORT={root}: could not build the port's model ({type(e).__name__}: {e})")
        return
    ours = mlp_step(34, 48, 1024, 64, "fp32")
    n_ours = sum(p.numel() for p in MartinezNet(MartinezConfig()).parameters())
    med = interleaved({"ours": ours, "port": theirs}, reps, inner=5)
    print(f"Martinez full step (width 1024, batch 64), ours (34 -> 48, {n_ours:,} params, max-norm) vs the "
          f"port {path} ({io[0]} -> {io[1]}, {n_theirs:,} params):")
    print(f"  ours {med['ours'] * 1e3:.1f} ms/step, port {med['port'] * 1e3:.1f} ms/step, "
          f"ours / port = {med['ours'] / med['port']:.2f}")


# --- verdicts ---------------------------------------------------------------------------------------
def verdict(med: dict, mode: str, metric: dict | None, min_gain: float = MIN_GAIN) -> str:
    if mode not in med:
        return "no (not measured)"
    speed = med["fp32"] / med[mode]
    if speed < min_gain:
        return f"no ({'slower' if speed < 1 else 'not faster'}: x{speed:.2f} vs fp32)"
    if metric is None or mode not in metric:
        return f"no (faster x{speed:.2f}, but the metric is not measured here for this recipe)"
    d = metric[mode][0] - metric["fp32"][0]
    if abs(d) > 1.0:
        return f"no (faster x{speed:.2f}, but MPJPE moves {d:+.2f} mm > 1 mm)"
    return f"yes (x{speed:.2f} faster, MPJPE {d:+.2f} mm)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and training steps")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--reps", type=int, default=None, help="interleaved rounds per recipe")
    ap.add_argument("--train-steps", type=int, default=None, help="training budget of the metric run")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    reps = a.reps or (3 if a.quick else 5)
    train_steps = a.train_steps or (60 if a.quick else 150)
    t_start = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; median of {reps} interleaved "
          f"rounds per mode (ratios: fp32 time / mode time, > 1 = faster)")
    cpu_report()
    support = adam_support()
    for kind, err in support.items():
        print(f"Adam {kind}=True on CPU: " + ("supported" if err is None else f"NOT supported ({err})"))
    modes = [m for m in MODES if m in ("fp32", "bf16") or support[m] is None]

    results = {}
    results["Martinez quick (width 512, batch 256)"] = (
        interleaved({m: mlp_step(34, 48, 512, 256, m) for m in modes}, reps, inner=5), 256, "martinez")
    results["Wang synthesis net (34 -> 34, width 512, batch 256)"] = (
        interleaved({m: mlp_step(34, 34, 512, 256, m) for m in modes}, reps, inner=5), 256, "martinez")
    from posecore.recipes import drover as drover_recipe
    dq = drover_recipe.config("quick")
    steps = {m: drover_step(m)[0] for m in modes}
    results[f"Drover quick (width {dq.width}, batch {dq.batch_size}; D batch {2 * dq.batch_size} real + fake)"] = (
        interleaved(steps, reps, inner=2), dq.batch_size, None)
    steps = {m: zhou_step(m)[0] for m in modes}
    results["Zhou quick (64 px, 2x1 hourglass of 64 features, 32x32 heatmaps, batch 16, stage 2)"] = (
        interleaved(steps, reps), 16, None)
    for name, (med, n, _) in results.items():
        print_modes(name, med, n)

    metric = martinez_metric(modes, train_steps)
    print(f"Verdicts (yes only when faster than fp32 by >= {MIN_GAIN - 1:.0%} -- smaller ratios are within the "
          f"noise of a shared machine -- AND the Martinez MPJPE holds within 1 mm):")
    for name, (med, _, key) in results.items():
        m = metric if key == "martinez" else None
        print(f"  {name.split(' (')[0]:<22} bf16 autocast: use it: {verdict(med, 'bf16', m)}")
        for kind in ("foreach", "fused"):
            if kind in med:
                print(f"  {'':<22} {'Adam ' + kind + ':':<14} use it: {verdict(med, kind, m)}")
    port_comparison(reps)
    print(f"bench_recipes: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
