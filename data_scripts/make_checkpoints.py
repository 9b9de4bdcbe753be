"""Train the lifters shipped inside the package (``posecore/weights/martinez.pt`` and ``wang.pt``, the
defaults of ``posecore lift`` and :func:`posecore.api.lift`) and write their provenance table
(``posecore/weights/README.md``).

    .venv/bin/python data_scripts/make_checkpoints.py        # or: make checkpoints

Both lifters read camera-normalised 2D input (``norm='camera'``: ((u - cx) / fx, (v - cy) / fy)), so
they work for any camera whose intrinsics are known or assumed, and are trained on the posecore-synth
lab training split at the ``quick`` profile's size:

* ``martinez.pt``: :func:`posecore.recipes.martinez.train_lifter` with ``martinez.config('quick')``;
* ``wang.pt``: :func:`posecore.recipes.wang.train_wang` with ``wang.config('quick', norm='camera')``
  (view synthesis, then reconstruction; closed-form geometric search at inference).

Deterministic: seed 0, one torch thread, :func:`posecore.train.seed_everything`, and a fresh temporary
``$POSECORE_CHECKPOINTS`` so no cached training run is reused. The weight matrices are stored as
float16 (vectors -- biases, BatchNorm and standardisation statistics -- stay float32; together they
are ~1 % of the bytes); the metrics in each file are measured on the lab and wild test splits with the
weights as shipped (read back through :func:`posecore.api.load`). ``torch.save`` writes a zip whose
entries have fixed timestamps and a top-level folder named after the file, so each file is exported
under its final name (in a temporary folder) and its bytes are copied atomically: two runs at the same
commit give bit-identical files (check with ``--check-determinism``, which trains everything twice).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

SEED = 0
PROFILE = "quick"
MAX_BYTES = 5_000_000
KINDS = ("martinez", "wang")
# the backbone's training threads: one where bf16 autocast is native (one thread ran a bf16 step faster
# than two: 0.33 vs 0.44 s), two in fp32 (0.37 vs 0.60 s a step on a 2-core AMD EPYC without AVX512-BF16)
BACKBONE_THREADS = {"bf16": 1, "fp32": 2}


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def git_commit() -> str:
    """The commit the files are made at (``git rev-parse HEAD``; 'unknown' outside a git checkout).
    What they compute is named by their stage versions (``versions``, :mod:`posecore.artefacts`), not by
    the commit: `make checkpoints` at any commit with the same versions and torch gives the same weights."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def stage_versions(kind: str) -> dict:
    """``{stage: version}`` behind the shipped file of ``kind`` (:class:`posecore.artefacts.Stage`)."""
    from posecore.recipes import backbone, martinez, wang
    return {"martinez": martinez.STAGE, "wang": wang.RECON, "backbone": backbone.STAGE}[kind].versions()


def poseset_sha256(ps) -> str:
    """SHA-256 of a PoseSet's 2D poses, 3D poses and intrinsics (their float32 bytes, in order)."""
    h = hashlib.sha256()
    for a in (ps.poses_2d, ps.poses_3d, ps.intrinsics):
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()


def half_state(module: torch.nn.Module) -> dict:
    """``module.state_dict()`` with every float32 matrix as float16; vectors stay float32."""
    return {k: (v.detach().half() if v.dtype == torch.float32 and v.dim() >= 2 else v.detach()).clone()
            for k, v in module.state_dict().items()}


def _frozen(state: dict):
    """What :func:`posecore.api.export` needs of a model: ``state_dict()``."""
    return SimpleNamespace(state_dict=lambda: state)


def train_models(kind: str, train_set, num_steps=None):
    """(models {name: module}, config) of a freshly trained lifter of ``kind`` (``num_steps``: None
    keeps the profile's)."""
    from posecore import train
    from posecore.recipes import martinez as martinez_recipe
    from posecore.recipes import wang as wang_recipe

    train.seed_everything(SEED)
    if kind == "martinez":
        cfg = martinez_recipe.config(PROFILE, num_steps=num_steps)
        model, _ = martinez_recipe.train_lifter(train_set, cfg, seed=SEED, name="shipped-martinez", norm="camera",
                                                progress=False)
        return {"model": model}, cfg
    cfg = wang_recipe.config(PROFILE, norm="camera", net=martinez_recipe.config(PROFILE, num_steps=num_steps))
    lifter, _ = wang_recipe.train_wang(train_set, cfg, seed=SEED, name="shipped-wang", progress=False)
    return {"synth": lifter.synth, "recon": lifter.recon}, cfg


def measure(path: Path, tests: dict) -> dict:
    """MPJPE / P-MPJPE (mm) of the lifter file ``path`` on each test PoseSet, lifted with intrinsics,
    and how its novelty score ranks the per-pose errors (:func:`posecore.evaluate.novelty_ranking`)."""
    from posecore import api
    from posecore.evaluate import evaluate_3d, novelty_ranking

    lifter = api.load(checkpoint=path)
    out = {}
    for split, ps in tests.items():
        pred = lifter(ps.poses_2d, ps.intrinsics)
        ev = evaluate_3d(pred, ps)
        out[split] = {"dataset": ps.meta.get("dataset", ""), "samples": len(ps),
                      "mpjpe": ev["mpjpe"], "p_mpjpe": ev["p_mpjpe"]}
        if lifter.index is not None:
            out[split]["novelty"] = novelty_ranking(lifter.novelty(ps.poses_2d, ps.intrinsics), pred, ps,
                                                    lifter.threshold)
    return out


def build(kind: str, train_set, tests: dict, provenance: dict, workdir: Path, num_steps=None) -> tuple[bytes, dict]:
    """Train, export (fp16), measure the exported weights, export again with the metrics: the file's
    bytes and its blob's extra keys."""
    from posecore import api, novelty

    t0 = time.perf_counter()
    models, cfg = train_models(kind, train_set, num_steps)
    seconds = time.perf_counter() - t0
    halves = {k: _frozen(half_state(m)) for k, m in models.items()}
    path = workdir / f"{kind}.pt"                                    # the final name: see the docstring
    extra = dict(provenance["common"], profile=PROFILE, seed=SEED, versions=stage_versions(kind),
                 weights_dtype="float16 matrices, float32 vectors")
    # the training inputs' novelty index; its threshold from the held-out lab test poses
    held = tests["lab_test"]
    index = novelty.build_index(train_set.poses_2d, train_set.intrinsics, held.poses_2d, held.intrinsics, seed=SEED)
    api.export(path, kind, halves, cfg, norm="camera", novelty=index, **extra)
    extra["metrics"] = measure(path, tests)
    api.export(path, kind, halves, cfg, norm="camera", novelty=index, **extra)
    blob = path.read_bytes()
    path.unlink()
    print(f"{kind}: trained in {seconds:.0f} s", flush=True)
    return blob, extra


def differences(a: bytes, b: bytes) -> list[str]:
    """The keys (and state-dict entries) in which two exported files differ."""
    import io
    x, y = (torch.load(io.BytesIO(v), map_location="cpu", weights_only=True) for v in (a, b))
    out = [k for k in sorted(set(x) | set(y)) if k != "models" and x.get(k) != y.get(k)]
    for m, sd in x["models"].items():
        out += [f"models.{m}.{p}" for p, v in sd.items() if not torch.equal(v, y["models"][m][p])]
    return out


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)                                   # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def readme(files: dict, extras: dict, commit: str) -> str:
    ex = extras["martinez"]
    d = ex["data"]
    lines = [
        "# Shipped lifters",
        "",
        "The default models of `posecore lift` and `posecore.api.lift(..., model=\"martinez\" | \"wang\")`.",
        "Made by `make checkpoints` (`data_scripts/make_checkpoints.py`); do not edit by hand. Each `.pt` is",
        "a `posecore.api.export` file (read with `torch.load(..., weights_only=True)`) whose extra keys",
        "hold the provenance below (`torch.load(path, weights_only=True)[\"metrics\"]` etc.).",
        "",
        "Both read **camera-normalised** 2D input ((u - cx) / fx, (v - cy) / fy), so they need the",
        "camera intrinsics (`posecore lift` assumes a 60 deg field of view when none are given) and give",
        "the same 3D pose for the same body seen by cameras with other focal lengths, principal points or",
        "image sizes. Wang's lifter returns the absolute camera-space pose found by geometric search",
        "(closed form); `posecore lift` makes every pose root-relative.",
        "",
        "Each file carries a novelty index (key `novelty`, `posecore.novelty`): a seeded sample of the",
        "training inputs, scale- and position-normalised, and a threshold (the 99th percentile of the",
        "lab test poses' novelty). `posecore lift` writes each pose's distance to the nearest indexed pose",
        "(`\"novelty\"`) and warns about the poses above the threshold.",
        "",
        "| | martinez.pt | wang.pt |",
        "|---|---|---|",
    ]

    def row(name, f):
        lines.append(f"| {name} | {f('martinez')} | {f('wang')} |")

    row("file size", lambda k: f"{files[k]['bytes'] / 1e6:.2f} MB")
    row("sha256", lambda k: f"`{files[k]['sha256'][:16]}...`")
    row("networks", lambda k: ("Martinez MLP" if k == "martinez" else "view synthesis + reconstruction MLPs")
        + f", width {extras[k]['_width']}, {extras[k]['_blocks']} blocks")
    row("training", lambda k: f"{extras[k]['_steps']} steps, batch {extras[k]['_batch']}, seed {SEED}, "
                              f"profile `{PROFILE}`")
    row("input", lambda k: "camera-normalised 2D (`norm='camera'`)")
    row("weights", lambda k: extras[k]["weights_dtype"])
    for split in ("lab_test", "wild_test"):
        m = ex["metrics"][split]
        row(f"{split} ({m['dataset']}, {m['samples']} poses): MPJPE / P-MPJPE",
            lambda k, s=split: f"{extras[k]['metrics'][s]['mpjpe']:.1f} / {extras[k]['metrics'][s]['p_mpjpe']:.1f} mm")
    row("novelty index (`posecore.novelty`)", lambda k: f"{extras[k]['_index_size']} training poses (float16), "
                                                       f"threshold {extras[k]['_threshold']:g}")

    def ranking(k, split):
        n = extras[k]["metrics"][split]["novelty"]
        return f"{n['spearman']:.2f}; {n['top10_over_median']:.2f}x; {100 * n['share_above']:.1f} %"
    for split in ("lab_test", "wild_test"):
        row(f"{split}: novelty vs per-pose error (Spearman; top-10 % error / median; share above threshold)",
            lambda k, s=split: ranking(k, s))
    row("training data", lambda k: f"{d['benchmark']} `{d['train_split']}` ({d['train_samples']} poses)")
    row("data sha256 (2D, 3D, intrinsics)", lambda k: f"`{d['train_sha256'][:16]}...`")
    row(f"motion asset `{d['asset']}` sha256", lambda k: f"`{d['asset_sha256'][:16]}...`")
    row("git commit", lambda k: f"`{commit[:12]}`")
    row("stage versions (`posecore.artefacts`)", lambda k: ", ".join(f"{s} {v}" for s, v in extras[k]["versions"].items()))
    row("torch", lambda k: extras[k]["torch_version"])
    lines += [
        "",
        "Metrics: mm, measured right after training with the weights as shipped (float16 read back),",
        "lifting with each test sample's intrinsics; MPJPE after root alignment, P-MPJPE after a",
        "similarity alignment (`posecore.evaluate.evaluate_3d`). `lab_test`: unseen subjects seen by the",
        "four lab cameras of the training split; `wild_test`: unseen subjects and motions, each sequence",
        "seen by its own random camera (other focal lengths, image sizes, elevations up to 65 deg) --",
        "viewpoints the lab training split never shows, hence the larger errors.",
        "",
        "Training data: the posecore-synth benchmark, derived from the CMU Graphics Lab Motion Capture",
        "Database (mocap.cs.cmu.edu; created with funding from NSF EIA-0196217); bodies and cameras are",
        "synthetic. No Human3.6M, MPII or MPI-INF-3DHP data went into these files.",
        "",
        "The git commit is the one the files were made at. What they compute is named by their stage",
        "versions (`posecore.artefacts`; `tests/test_fingerprints.py` makes a change in behaviour bump",
        "one): `make checkpoints` at any commit with the same versions and torch version gives the same",
        "weights (`data_scripts/make_checkpoints.py --check-determinism` trains twice and compares the bytes).",
        "",
    ]
    return "\n".join(lines)


def provenance() -> dict:
    """What the files record about their making, taken once per invocation (so that a commit made by
    someone else during a ``--check-determinism`` run does not count as a difference)."""
    from posecore import data
    from posecore.data import embedded

    train_set = data.load("synth", "train")
    common = {
        "data": {"benchmark": train_set.meta.get("version", "posecore-synth"),
                 "train_dataset": train_set.meta.get("dataset", ""), "train_split": train_set.meta.get("split", ""),
                 "train_samples": int(train_set.has_3d.sum()), "train_sha256": poseset_sha256(train_set),
                 "asset": embedded.ASSET.name, "asset_sha256": sha256_bytes(embedded.ASSET.read_bytes())},
        "git_commit": git_commit(),
        "torch_version": str(torch.__version__),
        "made_by": "data_scripts/make_checkpoints.py",
    }
    return {"common": common}


def make(prov: dict, num_steps=None) -> tuple[dict, dict]:
    """Train both lifters in a fresh temporary checkpoint folder; {kind: bytes}, {kind: extras}."""
    from posecore import data

    train_set = data.load("synth", "train")
    tests = {"lab_test": data.load("synth", "test"), "wild_test": data.load("synth", "wild_test")}
    blobs, extras = {}, {}
    old = os.environ.get("POSECORE_CHECKPOINTS")
    with tempfile.TemporaryDirectory(prefix="posecore-make-checkpoints-") as tmp:
        os.environ["POSECORE_CHECKPOINTS"] = str(Path(tmp) / "training")
        try:
            for kind in KINDS:
                work = Path(tmp) / "export"
                work.mkdir(exist_ok=True)
                blobs[kind], extras[kind] = build(kind, train_set, tests, prov, work, num_steps)
        finally:
            if old is None:
                os.environ.pop("POSECORE_CHECKPOINTS", None)
            else:
                os.environ["POSECORE_CHECKPOINTS"] = old
    return blobs, extras


def make_backbone(prov: dict) -> tuple[bytes, dict]:
    """Train the shared 2D backbone (``posecore.recipes.backbone``, quick profile, seed 0) in a fresh
    temporary checkpoint folder on ``BACKBONE_THREADS`` threads; the file's bytes and its metrics."""
    import io
    from dataclasses import asdict

    from posecore import artefacts, train
    from posecore.data import render
    from posecore.recipes import backbone

    cfg = backbone.config(PROFILE)
    precision = train.resolve_precision(cfg.precision)
    old = os.environ.get("POSECORE_CHECKPOINTS")
    threads = torch.get_num_threads()
    torch.set_num_threads(BACKBONE_THREADS[precision])
    try:
        with tempfile.TemporaryDirectory(prefix="posecore-make-backbone-") as tmp:
            os.environ["POSECORE_CHECKPOINTS"] = tmp
            r = backbone.get(cfg, use_shipped=False, progress=True)
    finally:
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop("POSECORE_CHECKPOINTS", None)
        else:
            os.environ["POSECORE_CHECKPOINTS"] = old
    sc = backbone.stage_config(cfg, r["data_id"], precision)
    blob = dict(kind="backbone", config=asdict(cfg), data_id=r["data_id"], profile=PROFILE, seed=cfg.seed,
                key=backbone.shipped_key(cfg, r["data_id"], precision),
                identity=artefacts.identity(backbone.STAGE, sc, precision=precision),
                state={k: v.detach().cpu().clone() for k, v in r["net"].state_dict().items()},
                history=r["history"], train_seconds=float(r["train_seconds"]), threads=BACKBONE_THREADS[precision],
                eval=r["eval"], versions=stage_versions("backbone"), render_version=render.VERSION,
                **prov["common"])
    buf = io.BytesIO()
    torch.save(blob, buf)
    print(f"backbone: trained in {r['train_seconds']:.0f} s; lab PCKh@0.5 {r['eval']['lab']['pckh']:.1f} %, "
          f"pair ratio {r['eval']['lab']['pair_ratio']:.2f}", flush=True)
    return buf.getvalue(), blob


def backbone_readme(size: int, digest: str, blob: dict) -> str:
    c, e = blob["config"], blob["eval"]
    return "\n".join([
        "",
        "# Shipped 2D backbone",
        "",
        "`backbone.pt`: the shared 2D module of the image chapters (`posecore.recipes.backbone.get` loads it",
        "when its configuration and data match the request; otherwise the backbone is trained and cached).",
        "",
        "| | backbone.pt |",
        "|---|---|",
        f"| file size | {size / 1e6:.2f} MB |",
        f"| sha256 | `{digest[:16]}...` |",
        f"| network | stacked hourglass {c['stacks']} x {c['modules']}, width {c['features']}, {c['resolution']} px input, "
        f"heatmaps at 1/{c['heatmap_stride']} |",
        f"| training | {c['steps']} steps, batch {c['batch_size']} (half lab, half wild less the held-out images, rendered "
        f"afresh, flipped), facing loss weight {c.get('facing_weight', 0.0)}, "
        f"{c['optimizer']} lr {c['lr']} {c['lr_schedule']}, seed {c['seed']}, profile `{blob['profile']}`, "
        f"{blob['threads']} threads, {blob['train_seconds']:.0f} s |",
        *(f"| {name} test ({c['n_eval']} images): PCKh@0.5 head box / joints, pair ratio, partner nearer | "
          f"{e[k]['pckh']:.1f} % / {e[k]['pckh_joints']:.1f} %, {e[k]['pair_ratio']:.2f}, {e[k]['partner_nearer']:.1f} % |"
          for name, k in (("lab", "lab"), ("wild", "wild"))),
        f"| data | {', '.join('`' + x + '`' for x in blob['data_id'].split('|'))} |",
        f"| git commit | `{blob['git_commit'][:12]}` |",
        f"| key (`posecore.artefacts`) | `{blob['key']}`: stage versions "
        f"{', '.join(f'{s} {v}' for s, v in blob['versions'].items())}, {blob['identity']['precision']}, "
        f"torch {blob['identity']['torch']} |",
        f"| torch | {blob['torch_version']} |",
        "",
        "Weights in float32. Trained on posecore-synth renders only (CMU motion, synthetic bodies; renderer "
        f"VERSION {blob.get('render_version', '?')}). PCKh head box: MPII's 0.6 x the rendered head box's diagonal; "
        "joints: 2 x the joint 9-10 distance (the book's convention before renderer VERSION 2).",
        "",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "posecore" / "weights",
                        help="folder for the .pt files and README.md (default: posecore/weights)")
    parser.add_argument("--check-determinism", action="store_true",
                        help="train everything twice and fail unless the two sets of bytes are identical")
    parser.add_argument("--num-steps", type=int, default=None,
                        help="training steps of every network (default: the quick profile's); for trying the "
                             "script out, not for the shipped files")
    parser.add_argument("--kinds", default="lifters,backbone",
                        help="what to make: 'lifters', 'backbone' or both (default); the README is rewritten "
                             "from the files present")
    args = parser.parse_args(argv)
    kinds = set(args.kinds.split(","))
    if not kinds <= {"lifters", "backbone"}:
        parser.error(f"--kinds: unknown {sorted(kinds - {'lifters', 'backbone'})}")

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    prov = provenance()
    if "backbone" in kinds:
        data, bblob = make_backbone(prov)
        if len(data) > MAX_BYTES:
            print(f"make_checkpoints: backbone.pt is {len(data)} bytes > {MAX_BYTES}", file=sys.stderr)
            return 1
        write_atomic(args.out / "backbone.pt", data)
        write_atomic(args.out / "BACKBONE.md", backbone_readme(len(data), sha256_bytes(data), bblob).encode("utf-8"))
    if "lifters" not in kinds:
        print(f"make_checkpoints: done in {time.perf_counter() - t0:.0f} s")
        return 0
    blobs, extras = make(prov, args.num_steps)
    if args.check_determinism:
        again, _ = make(prov, args.num_steps)
        for kind in KINDS:
            a, b = sha256_bytes(blobs[kind]), sha256_bytes(again[kind])
            print(f"determinism: {kind}.pt {a} {'==' if a == b else '!='} {b}")
            if a != b:
                print(f"make_checkpoints: two runs gave different bytes; differing entries: "
                      f"{differences(blobs[kind], again[kind])}", file=sys.stderr)
                return 1
    files = {}
    for kind in KINDS:
        size = len(blobs[kind])
        if size > MAX_BYTES:
            print(f"make_checkpoints: {kind}.pt is {size} bytes > {MAX_BYTES}", file=sys.stderr)
            return 1
        path = args.out / f"{kind}.pt"
        write_atomic(path, blobs[kind])
        files[kind] = {"bytes": size, "sha256": sha256_bytes(blobs[kind])}
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = blob["config"]["net"] if kind == "wang" else blob["config"]
        extras[kind].update(_width=cfg["width"], _blocks=cfg["num_blocks"], _steps=cfg["num_steps"],
                            _batch=cfg["batch_size"], _index_size=blob["novelty"]["size"],
                            _threshold=blob["novelty"]["threshold"])
        m = extras[kind]["metrics"]
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size / 1e6:.2f} MB, "
              f"sha256 {files[kind]['sha256']}; lab test MPJPE {m['lab_test']['mpjpe']:.1f} / "
              f"P-MPJPE {m['lab_test']['p_mpjpe']:.1f} mm, wild test MPJPE {m['wild_test']['mpjpe']:.1f} / "
              f"P-MPJPE {m['wild_test']['p_mpjpe']:.1f} mm")
    text = readme(files, extras, extras["martinez"]["git_commit"])
    write_atomic(args.out / "README.md", text.encode("utf-8"))
    print(f"make_checkpoints: done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
