"""Shared utilities of the 2D -> 3D lifting chapters (Martinez, Drover, Wang): input checks,
per-coordinate standardisation, deterministic batches, one supervised training function for every
MLP lifter, one evaluation function, and the exported-model files behind the plain user call
:func:`lift` (2D poses in, 3D poses in mm out).

Conventions: 2D poses (N, 17, 2) px; 3D poses (N, 17, 3) mm in camera coordinates; a lifter's target is
the root-relative pose without the root, flattened to (N, 48).
"""
from __future__ import annotations

import importlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import metrics, train
from .camera import H36M_INTRINSICS, project
from .skeleton import NUM_JOINTS, PARENTS, ROOT, check_poses

ACTIONS = ("Walking", "Running", "Jumping", "Punching", "Bending", "Swordplay", "Washing", "WalkUneven")


# -- inputs ----------------------------------------------------------------------------------------
def check_2d(poses_2d, name: str = "poses_2d") -> np.ndarray:
    """(N, 17, 2) finite float32 numpy, or ValueError naming the problem (wrong joints, NaN, inf)."""
    a = np.asarray(poses_2d.detach().cpu() if hasattr(poses_2d, "detach") else poses_2d, np.float32)
    if a.ndim != 3:
        raise ValueError(f"{name}: expected (N, {NUM_JOINTS}, 2) poses, got shape {a.shape}")
    return check_poses(a, 2, name)


def check_intrinsics(intrinsics, n: int) -> np.ndarray:
    """(N, 4) fx, fy, cx, cy (a single (4,) row is broadcast); ValueError if not finite or f <= 0."""
    K = np.asarray(intrinsics, np.float32)
    K = np.broadcast_to(K, (n, 4)).copy() if K.shape == (4,) else K
    if K.shape != (n, 4):
        raise ValueError(f"intrinsics: expected shape (4,) or ({n}, 4), got {K.shape}")
    if not np.isfinite(K).all() or not (K[:, :2] > 0).all():
        raise ValueError("intrinsics: must be finite with positive focal lengths")
    return K


def to_target(poses_3d) -> np.ndarray:
    """(N, 17, 3) mm -> (N, 48): root-relative, root dropped, flattened."""
    rel = poses_3d - poses_3d[:, ROOT:ROOT + 1]                      # (N, 17, 3)
    return np.delete(rel, ROOT, axis=1).reshape(len(rel), -1).astype(np.float32)  # (N, 16*3)


def from_output(y) -> np.ndarray:
    """(N, 48) -> (N, 17, 3) root-relative mm with the root (0, 0, 0) put back."""
    y = np.asarray(y, np.float32).reshape(len(y), NUM_JOINTS - 1, 3)  # (N, 16, 3)
    return np.insert(y, ROOT, 0.0, axis=1)                            # (N, 17, 3)


# -- models ----------------------------------------------------------------------------------------
class Standardised(nn.Module):
    """``net`` on standardised coordinates: raw x -> (x - mean_x) / std_x -> net -> * std_y + mean_y.
    The statistics are buffers, so they travel with the checkpoint."""

    def __init__(self, net: nn.Module, in_features: int, out_features: int):
        super().__init__()
        self.net = net
        for k, d in (("x", in_features), ("y", out_features)):
            self.register_buffer(f"{k}_mean", torch.zeros(d))
            self.register_buffer(f"{k}_std", torch.ones(d))

    def set_stats(self, x: np.ndarray, y: np.ndarray) -> None:
        for k, a in (("x", x), ("y", y)):
            getattr(self, f"{k}_mean").copy_(torch.as_tensor(a.mean(0)))
            getattr(self, f"{k}_std").copy_(torch.as_tensor(np.maximum(a.std(0), 1e-6)))

    def normalise_y(self, y):
        return (y - self.y_mean) / self.y_std

    def forward(self, x, normalised_output: bool = False):
        out = self.net((x - self.x_mean) / self.x_std)
        return out if normalised_output else out * self.y_std + self.y_mean


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Run ``model`` in eval mode on (N, D) numpy inputs in batches; returns numpy float32."""
    model.eval()
    dev = next(model.parameters()).device
    outs = [model(torch.as_tensor(x[i:i + batch_size], device=dev)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy() if outs else np.zeros((0,), np.float32)


def batch_indices(n: int, batch_size: int, seed: int):
    """``f(step) -> indices``: epoch-wise permutations of range(n), deterministic in (seed, step)."""
    per_epoch = max(1, n // batch_size)

    def indices(step: int) -> np.ndarray:
        epoch, k = divmod(step - 1, per_epoch)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        idx = perm[k * batch_size:(k + 1) * batch_size]
        return idx if len(idx) == batch_size else np.resize(perm, batch_size)
    return indices


def checkpoint_path(name: str, config: dict) -> Path:
    """``checkpoint_dir()/<name>-<config hash>.pt``: a changed config trains into a new file."""
    return train.checkpoint_dir() / f"{name}-{train.config_hash(config)}.pt"


def train_regressor(model: Standardised, x: np.ndarray, y: np.ndarray, cfg, *, seed: int = 0, name: str = "lifter",
                    config: dict | None = None, after_step=None, progress: bool = True) -> list[dict]:
    """Supervised training of a Martinez-style regressor (L2 loss on standardised targets, Adam with
    exponential lr decay, max-norm after each step) through :func:`posecore.train.fit`; loads the
    finished checkpoint when present. ``cfg`` has lr, lr_decay, decay_steps, batch_size, num_steps."""
    from .models.martinez import apply_max_norm
    assert x.ndim == 2 and y.ndim == 2 and len(x) == len(y), f"train_regressor: x {x.shape}, y {y.shape}"
    config = dict(config or {}, **asdict(cfg), seed=seed, n=len(x), x_sum=float(x.sum()), y_sum=float(y.sum()))
    ckpt = checkpoint_path(name, config)
    model.set_stats(x, y)
    X, Y = torch.as_tensor(x), torch.as_tensor(y)
    idx_fn = batch_indices(len(x), cfg.batch_size, seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay ** (1.0 / cfg.decay_steps))

    def step_fn(batch, step):
        xb, yb = batch
        loss = ((model(xb, normalised_output=True) - model.normalise_y(yb)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        apply_max_norm(model.net, cfg.max_norm)
        if after_step is not None:
            after_step(model)
        return {"loss": loss.item()}

    def batch_fn(step):
        i = torch.as_tensor(idx_fn(step))
        return X[i], Y[i]

    def run():
        train.seed_everything(seed)
        return train.fit(step_fn, batch_fn, models={"model": model}, optimizers={"opt": opt},
                         schedulers={"lr": sched}, num_steps=cfg.num_steps, checkpoint=ckpt, config=config,
                         checkpoint_every=max(100, cfg.num_steps // 4), desc=name, progress=progress)
    history = train.load_or_train(ckpt, {"model": model}, run, config)
    model.eval()
    return history


def train_lifter(train_set, cfg, *, seed: int = 0, name: str = "martinez", progress: bool = True):
    """A Martinez lifter (2D px -> root-relative 3D mm) trained on the 3D-labelled samples of a
    PoseSet. Returns (model, history)."""
    from .models.martinez import MartinezNet
    s = train_set[train_set.has_3d]
    x = check_2d(s.poses_2d).reshape(len(s), -1)                     # (N, 34)
    y = to_target(s.poses_3d)                                         # (N, 48)
    model = Standardised(MartinezNet(cfg), x.shape[1], y.shape[1])
    hist = train_regressor(model, x, y, cfg, seed=seed, name=name, progress=progress,
                           config={"dataset": s.meta.get("dataset", "")})
    return model, hist


def lift_with(model: nn.Module, poses_2d) -> np.ndarray:
    """A trained Martinez lifter applied to (N, 17, 2) px -> (N, 17, 3) root-relative mm."""
    p = check_2d(poses_2d)
    return from_output(predict(model, p.reshape(len(p), -1)))


def evaluate_lifter(pred_3d, test_set, joints=None) -> dict:
    """MPJPE (root-aligned) and P-MPJPE (similarity-aligned), averaged over samples and per action
    (with the Human3.6M 'Average' over actions). ``joints`` optionally restricts the evaluated joints
    (e.g. Drover's 14). Returns dict(mpjpe, p_mpjpe, per_action_mpjpe, per_action_p_mpjpe, errors)."""
    gt = test_set.poses_3d
    pred = np.asarray(pred_3d, np.float64)
    if len(pred) != len(gt):
        raise ValueError(f"evaluate_lifter: {len(pred)} predictions for {len(gt)} test samples")
    if joints is None:
        e1 = metrics.mpjpe(pred, gt, reduction="none")
    else:                                                             # subsets: align the centroids
        gt = gt[:, list(joints)]
        gt, pred = gt - gt.mean(1, keepdims=True), pred - pred.mean(1, keepdims=True)
        e1 = metrics.mpjpe(pred, gt, root=None, reduction="none")
    e2 = metrics.p_mpjpe(pred, gt, reduction="none")
    return dict(mpjpe=float(e1.mean()), p_mpjpe=float(e2.mean()),
                per_action_mpjpe=metrics.per_action(e1, test_set.action),
                per_action_p_mpjpe=metrics.per_action(e2, test_set.action), errors=e2)


# -- exported models and the plain user call -------------------------------------------------------
def default_export(kind: str) -> Path:
    """Where a chapter exports its trained ``kind`` ('martinez', 'drover', 'wang') for :func:`lift`."""
    return train.checkpoint_dir() / f"{kind}_lifter.pt"


def export(path, kind: str, models: dict, config: dict, **extra) -> Path:
    """Save a self-contained lifter file (kind, config, state dicts, extras) read by :func:`lift`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"kind": kind, "config": config, "models": {k: m.state_dict() for k, m in models.items()},
                **extra}, tmp)
    tmp.replace(path)
    return path


def load_export(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no exported lifter at {path}: run its chapter (or lifting.export) first")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    if blob.get("kind") not in ("martinez", "drover", "wang"):
        raise ValueError(f"{path}: not an exported posecore lifter")
    return blob


def lift(poses_2d, intrinsics=None, checkpoint=None, kind: str = "martinez") -> np.ndarray:
    """The plain call: 2D poses (N, 17, 2) px (+ intrinsics (N, 4) or (4,) where the model needs the
    camera) -> 3D poses (N, 17, 3) mm, from an exported lifter file (default: ``kind``'s)."""
    blob = load_export(checkpoint or default_export(kind))
    p = check_2d(poses_2d)
    module = importlib.import_module(f"posecore.models.{blob['kind']}")
    return module.lift_from_export(blob, p, None if intrinsics is None else check_intrinsics(intrinsics, len(p)))


def _martinez_from_export(blob):
    from .models.martinez import MartinezConfig, MartinezNet
    cfg = MartinezConfig(**blob["config"])
    model = Standardised(MartinezNet(cfg), cfg.in_features, cfg.out_features)
    model.load_state_dict(blob["models"]["model"])
    return model.eval()


# -- a toy data source for tests and smoke runs ----------------------------------------------------
_TEMPLATE = np.array([[0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0],
                      [130, 880, 0], [0, -230, 0], [0, -480, 0], [0, -580, -30], [0, -700, 0], [180, -470, 0],
                      [180, -200, 0], [180, 50, 0], [-180, -470, 0], [-180, -200, 0], [-180, 50, 0]], float)


def toy_poseset(n: int, seed: int = 0, depth=(3500.0, 6500.0), camera: str = "54138969", noise: float = 0.35):
    """``n`` random plausible skeletons (template bones with random directions and a random body scale,
    random heading) in front of a Human3.6M camera, projected without distortion: a tiny stand-in for
    the embedded benchmark in tests."""
    from .data import PoseSet
    rng = np.random.default_rng(seed)
    bones = _TEMPLATE - _TEMPLATE[list(max(p, 0) for p in PARENTS)]           # (17, 3) parent -> child
    length = np.linalg.norm(bones, axis=1)
    d = bones[None] + noise * length[None, :, None] * rng.normal(size=(n, NUM_JOINTS, 3))
    d *= (length / np.maximum(np.linalg.norm(d, axis=2), 1e-9))[..., None] * rng.uniform(0.85, 1.15, (n, 1, 1))
    pose = np.zeros((n, NUM_JOINTS, 3))
    for j, p in enumerate(PARENTS):
        if p >= 0:
            pose[:, j] = pose[:, p] + d[:, j]
    a = rng.uniform(0, 2 * np.pi, n)
    Ry = np.stack([np.stack([np.cos(a), 0 * a, np.sin(a)], 1), np.stack([0 * a, 1 + 0 * a, 0 * a], 1),
                   np.stack([-np.sin(a), 0 * a, np.cos(a)], 1)], 1)           # (n, 3, 3) about camera y
    root = np.stack([rng.uniform(-400, 400, n), rng.uniform(-200, 200, n), rng.uniform(*depth, n)], 1)
    pose = pose @ Ry.transpose(0, 2, 1) + root[:, None]
    c = H36M_INTRINSICS[camera]
    K = np.array([*c["f"], *c["c"]], np.float32)
    return PoseSet.create(project(pose, K), pose, K, camera=camera, subject="toy",
                          action=np.array(ACTIONS)[rng.integers(0, len(ACTIONS), n)],
                          meta={"dataset": "posecore-toy", "split": "toy"})


# -- Drover et al.: adversarial training from 2D alone ---------------------------------------------
def train_drover(train_set, cfg, *, seed: int = 0, name: str = "drover", progress: bool = True):
    """Train Drover's generator and discriminator on a lab training PoseSet (its 2D poses feed the
    generator; real 2D = the same poses + ``cfg.extra_cameras`` virtual views of each 3D skeleton).
    The 3D labels are used only for those virtual views and for ``mm_per_unit`` (the one scalar that
    gives the scale-free output millimetres). Returns (generator, discriminator, history, info)."""
    from .models import drover as D
    s = train_set[train_set.has_3d]
    x_in = D.to_unit_camera(s.poses_2d, s.intrinsics)                # (N, 14, 2), unit focal
    scale = D.scale_factor(x_in, cfg.d)
    rng = np.random.default_rng(seed)
    real = x_in if not cfg.extra_cameras else np.concatenate(
        [x_in, D.virtual_views(s.poses_3d, cfg.extra_cameras, cfg.elevation, rng)])
    gen_in = torch.as_tensor(x_in * scale, dtype=torch.float32)
    real = torch.as_tensor(real * scale, dtype=torch.float32)
    noise = cfg.noise_px / float(np.mean(s.intrinsics[:, 0])) * scale  # px -> normalised units
    G, Dn = D.Generator(cfg), D.Discriminator(cfg)
    opt = {"G": torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999)),
           "D": torch.optim.Adam(Dn.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))}
    gi, ri = batch_indices(len(gen_in), cfg.batch_size, seed), batch_indices(len(real), cfg.batch_size, seed + 1)
    ce = nn.functional.cross_entropy

    def batch_fn(step):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        x = gen_in[torch.as_tensor(gi(step))]
        if noise > 0:
            x = D.centre(x + noise * torch.randn(x.shape, generator=g))
        return x, real[torch.as_tensor(ri(step))], g

    def step_fn(batch, step):
        x, r, g = batch
        ones, zeros = torch.ones(len(x), dtype=torch.long), torch.zeros(len(x), dtype=torch.long)
        with torch.no_grad():
            fake, _ = D.random_projection(G(x), cfg.d, cfg.elevation, g)
        loss_d = ce(Dn(r), ones) + ce(Dn(fake), zeros)
        opt["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        opt["D"].step()
        fake, _ = D.random_projection(G(x), cfg.d, cfg.elevation, g)
        loss_g = ce(Dn(fake), ones)                                  # non-saturating generator loss
        opt["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opt["G"].step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

    config = dict(asdict(cfg), seed=seed, n=len(s), dataset=s.meta.get("dataset", ""), x_sum=float(x_in.sum()))
    ckpt = checkpoint_path(name, config)
    models = {"generator": G, "discriminator": Dn}

    def run():
        train.seed_everything(seed)
        return train.fit(step_fn, batch_fn, models=models, optimizers=opt, num_steps=cfg.num_steps,
                         checkpoint=ckpt, config=config, checkpoint_every=max(100, cfg.num_steps // 4),
                         desc=name, progress=progress)
    history = train.load_or_train(ckpt, models, run, config)
    G.eval(), Dn.eval()
    with torch.no_grad():                                             # the one scalar giving mm
        X = D.centre(G(gen_in[:20000]).double()).numpy()
    gt = s.poses_3d[:20000, list(D.JOINTS_14)]
    mm_per_unit = float(D.head_root(D.centre(gt)).mean() / D.head_root(X).mean())
    return G, Dn, history, {"scale": scale, "mm_per_unit": mm_per_unit}


# -- chapter helpers: paper-vs-ours tables, claim checks, good and failed cases --------------------
def markdown_table(header, rows) -> str:
    """A plain Markdown table (floats with one decimal); display with IPython.display.Markdown."""
    fmt = lambda v: f"{v:.1f}" if isinstance(v, (float, np.floating)) else ("–" if v is None else str(v))
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows])


def check_claim(claims: list, text: str, ok: bool, detail: str = "") -> bool:
    """Append (claim, 'reproduced' / 'not reproduced', detail) to ``claims`` and print it."""
    verdict = "reproduced" if ok else "not reproduced"
    claims.append((text, verdict, detail))
    print(f"[{verdict:>14}] {text}  {detail}")
    return ok


def show_cases(pred, gt, errors, what: str = "", k: int = 1):
    """Interactive overlays (prediction vs ground truth, root-centred mm) of the ``k`` best and worst
    samples by ``errors`` (N,)."""
    from . import viz
    order = np.argsort(errors)
    for kind, idx in (("good", order[:k]), ("failed", order[::-1][:k])):
        for i in idx:
            p, g = np.asarray(pred[i], float), np.asarray(gt[i], float)
            viz.show(viz.skeleton_figure([p - p[:1], g - g[:1]], ["prediction", "ground truth"], mode="overlay",
                                         title=f"{what} {kind} case #{i}: {errors[i]:.1f} mm"))
