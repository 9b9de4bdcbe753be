"""Training and evaluation of the image models (Zhou et al. ICCV'17 and the later image chapters).

Pieces, top to bottom:

- :data:`VARIANTS` -- the four training variants of Zhou et al.'s Tables 1-2 (3D / 3D+2D data,
  without / with the geometric loss).
- :class:`ImageTrainConfig` -- batch size, optimiser, the three stages' iteration counts, loss weights.
- :class:`MixedBatches` -- ``batch_fn(step)`` for :func:`posecore.train.fit`: deterministic in
  ``step``; half the batch from the 2D-only wild training split and half from the 3D-labelled lab
  training split (all lab for the 3D-only variants); adds the normalised depth targets.
- :func:`make_step_fn` / :func:`train_variant` -- the three stages: (1) the 2D module alone on the 2D
  labels (heatmap loss), (2) the whole network with ``lambda_geo = 0``, (3) end-to-end with the
  geometric loss on. Each stage is a :func:`posecore.train.fit` run with its own checkpoint, named by
  the hash of everything it depends on, so variants share their common stages (e.g. stage 1 of
  '3D+2D/wo geo' and '3D+2D/w geo') and a finished run is loaded instead of retrained.
- :func:`predict` / :func:`evaluate` -- 2D joints (sub-pixel decoded heatmap peaks) and depths on an
  :class:`~posecore.data.images.ImageDataset`; the 3D pose of Sec. 4.1.2 (bone-sum scaling, root from
  the ground truth); 2D PCKh@0.5, MPJPE (per sample, per action), 3DHP PCK@150 mm / AUC per scene,
  left/right symmetry errors in mm and in 256-normalised pixels, and two diagnostic 3D errors that
  separate the 2D and depth contributions (ground-truth 2D + predicted depth; predicted 2D +
  ground-truth depth).

Units: crops are ``R x R`` px; heatmaps ``h = R / 4``; depths are normalised as in
:func:`posecore.models.zhou.depth_target` (pixels / (R / 2)).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from . import metrics, train
from .losses import LAMBDA_GEO, LAMBDA_REG, depth_loss, geometric_loss, heatmap_loss
from .models.hourglass import decode_heatmaps as _decode_hg, heatmap_to_image
from .models.zhou import ZhouConfig, ZhouNet, assemble_pose_3d, depth_target
from .skeleton import BONES, ROOT


# --- variants and configuration -------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row of Zhou et al.'s Tables 1-2: which data and whether the geometric loss is on."""
    name: str
    use_wild: bool      # 2D-only in-the-wild images in the mini-batches (half of each batch)
    geo: bool           # geometric loss in stage 3 (on the 2D-only images; on the lab images if none)


VARIANTS = {v.name: v for v in (
    Variant("3D/wo geo", use_wild=False, geo=False),
    Variant("3D/w geo", use_wild=False, geo=True),
    Variant("3D+2D/wo geo", use_wild=True, geo=False),
    Variant("3D+2D/w geo", use_wild=True, geo=True),
)}


@dataclass(frozen=True)
class ImageTrainConfig:
    """Training of one variant. The paper: RMSprop, lr 2.5e-4, batch 6, 240k / 200k / 40k iterations."""
    model: ZhouConfig = field(default_factory=ZhouConfig)
    batch_size: int = 6
    stage1_steps: int = 240_000
    stage2_steps: int = 200_000
    stage3_steps: int = 40_000
    optimizer: str = "rmsprop"          # 'rmsprop' (paper) or 'adam'
    lr: float = 2.5e-4
    lambda_reg: float = LAMBDA_REG
    lambda_geo: float = LAMBDA_GEO
    wild_fraction: float = 0.5
    train_pool: int = 0                 # > 0: draw training images from this many per split only
    lr_schedule: str = "constant"       # 'constant' (paper) or 'cosine' (to 5% at the end of every stage)
    seed: int = 0

    def __post_init__(self):
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"ImageTrainConfig.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ZhouConfig(**self.model))
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"ImageTrainConfig.optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.batch_size < 2:
            raise ValueError(f"ImageTrainConfig.batch_size must be >= 2, got {self.batch_size}")


def _optimizer(params, cfg: ImageTrainConfig):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.RMSprop(params, lr=cfg.lr)


# --- a rendered-image cache ----------------------------------------------------------------------
class CachedImages:
    """Renders ``indices`` of an ImageDataset once (in chunks of ``chunk``) and serves
    ``get_batch(indices)`` for those indices from memory, images stored as uint8 (the renderer
    quantises to 8 bits, so this is lossless). With ``path`` the cache is saved there and reloaded by
    later runs (chapter 06 reuses chapter 05's renders). ``len()`` is the underlying dataset's; asking
    for an index that was not rendered raises KeyError naming it."""

    def __init__(self, ds, indices, chunk: int = 64, path=None, progress: bool = False):
        from pathlib import Path
        self.ds, self.indices = ds, np.asarray(indices, np.int64)
        self.pos = {int(i): k for k, i in enumerate(self.indices)}
        path = Path(path) if path is not None else None
        if path is not None and path.exists():
            blob = torch.load(path, map_location="cpu", weights_only=False)
            if np.array_equal(blob["indices"], self.indices):
                self.data = blob["data"]
                return
        parts = []
        for s in range(0, len(self.indices), chunk):
            b = ds.get_batch(self.indices[s:s + chunk])
            b = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in b.items()}
            b["image"] = (b["image"].clamp(0, 1) * 255).round().to(torch.uint8)
            parts.append(b)
        self.data = {k: torch.cat([p[k] for p in parts]) if isinstance(parts[0][k], torch.Tensor)
                     else np.concatenate([p[k] for p in parts]) for k in parts[0]}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            torch.save({"indices": self.indices, "data": self.data}, tmp)
            tmp.replace(path)

    def __len__(self) -> int:
        return len(self.ds)

    def get_batch(self, indices) -> dict:
        try:
            rows = torch.as_tensor([self.pos[int(i)] for i in np.asarray(indices).reshape(-1)], dtype=torch.long)
        except KeyError as e:
            raise KeyError(f"CachedImages: index {e.args[0]} was not rendered into this cache") from None
        out = {k: (v[rows] if isinstance(v, torch.Tensor) else v[rows.numpy()]) for k, v in self.data.items()}
        out["image"] = out["image"].float() / 255.0
        return out


# --- mixed mini-batches ---------------------------------------------------------------------------
def _to(batch: dict, device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _cat(a: dict, b: dict) -> dict:
    out = {}
    for k in a:
        if isinstance(a[k], torch.Tensor):
            out[k] = torch.cat([a[k], b[k].to(a[k].device)])
        else:
            out[k] = np.concatenate([np.asarray(a[k]), np.asarray(b[k])])
    return out


class MixedBatches:
    """``batch_fn(step)``: ``round(wild_fraction * B)`` images of ``wild`` (2D labels only) and the rest
    from ``lab`` (3D labels), drawn by an RNG seeded with (seed, stage, step), so a resumed run sees
    the same batches. The batch dict of :meth:`ImageDataset.get_batch` plus ``is_wild`` (B,) bool and
    ``depth_target`` (B, J) normalised depths (NaN where there is no 3D label)."""

    def __init__(self, lab, wild=None, batch_size: int = 6, wild_fraction: float = 0.5, seed: int = 0,
                 stage: int = 0, pool: int = 0, device="cpu"):
        self.lab, self.wild = lab, wild
        self.batch_size, self.seed, self.stage, self.device = batch_size, seed, stage, device
        self.n_wild = int(round(wild_fraction * batch_size)) if wild is not None else 0
        self.n_lab = batch_size - self.n_wild
        self.lab_pool = pool_indices(len(lab), pool, seed, "train")
        self.wild_pool = pool_indices(len(wild), pool, seed, "wild_train") if wild is not None else None

    def __call__(self, step: int) -> dict:
        rng = np.random.default_rng([self.seed, self.stage, step])
        li = rng.choice(self.lab_pool, self.n_lab, replace=len(self.lab_pool) < self.n_lab)
        batch = self.lab.get_batch(li)
        is_wild = [torch.zeros(self.n_lab, dtype=torch.bool)]
        if self.n_wild:
            wi = rng.choice(self.wild_pool, self.n_wild, replace=len(self.wild_pool) < self.n_wild)
            batch = _cat(batch, self.wild.get_batch(wi))
            is_wild.append(torch.ones(self.n_wild, dtype=torch.bool))
        batch = _to(batch, self.device)
        batch["is_wild"] = torch.cat(is_wild).to(self.device)
        batch["depth_target"] = batch_depth_target(batch)
        return batch


def pool_indices(n: int, pool: int, seed: int, split: str) -> np.ndarray:
    """The training images of a split when the training draws from a fixed pool of ``pool`` images
    (sorted; all ``n`` when ``pool`` is 0 or >= n). Deterministic in (seed, split)."""
    if not 0 < pool < n:
        return np.arange(n)
    salt = int.from_bytes(split.encode()[:8].ljust(8, b"\0"), "little")
    return np.sort(np.random.default_rng([seed, salt, 977]).choice(n, pool, replace=False))


def batch_depth_target(batch: dict) -> torch.Tensor:
    """Normalised depth targets (B, J) of a batch; NaN rows where ``has_3d`` is False."""
    R = batch["image"].shape[-1]
    has = batch["has_3d"].bool()
    p3 = batch["poses_3d"].float()
    t = torch.full(p3.shape[:2], float("nan"), device=p3.device)
    if has.any():
        t[has] = depth_target(batch["joints_2d"][has].float(), p3[has], R)
    return t


# --- the three stages -----------------------------------------------------------------------------
def make_step_fn(model: ZhouNet, optimizer, stage: int, cfg: ImageTrainConfig, canonical, variant: Variant):
    """``step_fn(batch, step)`` of one stage. Stage 1: heatmap loss only (the optimiser holds only the
    2D module's parameters). Stage 2: + ``lambda_reg`` x depth L2 on the 3D-labelled images. Stage 3:
    + ``lambda_geo`` x geometric loss (if the variant has it) on the 2D-only images -- whose depth
    gradient stops at the depth regressor (``geo_rows``) -- or, for the 3D-only variant, on the lab
    images through a second pass of the depth regressor on detached 2D-module features."""
    R = model.config.hourglass.resolution
    geo_on = stage == 3 and variant.geo and cfg.lambda_geo > 0

    def step_fn(batch, step):
        images, is_wild = batch["image"], batch["is_wild"]
        geo_rows = is_wild if (geo_on and variant.use_wild) else None
        out = model(images, geo_rows=geo_rows)
        vis = batch.get("joints_visible")
        l_hm = heatmap_loss(out["heatmaps"], batch["heatmaps"], vis)
        logs = {"hm": l_hm.item()}
        loss = l_hm
        if stage >= 2:
            l_d = depth_loss(out["depth"], batch["depth_target"], batch["has_3d"].bool())
            loss = loss + cfg.lambda_reg * l_d
            logs["depth"] = l_d.item()
        if geo_on:
            if variant.use_wild:
                d, rows = out["depth"], is_wild
            else:
                d, rows = model.depth(out["merged"].detach()), torch.ones_like(is_wild)
            l_g = geometric_loss(d, batch["joints_2d"], canonical, R, rows=rows, visible=vis)
            loss = loss + cfg.lambda_geo * l_g
            logs["geo"] = l_g.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        logs["loss"] = loss.item()
        return logs

    return step_fn


def stage_config(cfg: ImageTrainConfig, variant: Variant, stage: int, data_id: str) -> dict:
    """What a stage's result depends on (hashed into its checkpoint name): the model, the data, the
    batches, the optimiser and every earlier stage; stage 3 of a 'wo geo' variant is the same run
    whatever the variant's name, and stages 1-2 do not depend on ``geo``."""
    c = asdict(cfg)
    keep = dict(model=c["model"], batch_size=cfg.batch_size, optimizer=cfg.optimizer, lr=cfg.lr,
                wild_fraction=cfg.wild_fraction if variant.use_wild else 0.0, train_pool=cfg.train_pool,
                lr_schedule=cfg.lr_schedule,
                seed=cfg.seed, data=data_id, use_wild=variant.use_wild, stage1_steps=cfg.stage1_steps)
    if stage >= 2:
        keep.update(stage2_steps=cfg.stage2_steps, lambda_reg=cfg.lambda_reg)
    if stage >= 3:
        keep.update(stage3_steps=cfg.stage3_steps, geo=variant.geo,
                    lambda_geo=cfg.lambda_geo if variant.geo else 0.0)
    keep["stage"] = stage
    return keep


def stage_checkpoint(cfg: ImageTrainConfig, variant: Variant, stage: int, data_id: str, name: str = "zhou"):
    sc = stage_config(cfg, variant, stage, data_id)
    return train.checkpoint_dir() / f"{name}-stage{stage}-{train.config_hash(sc)}.pt", sc


def train_variant(variant: Variant | str, cfg: ImageTrainConfig, lab, wild, canonical, *, name: str = "zhou",
                  data_id: str = "", device="cpu", progress: bool = True, stages=(1, 2, 3)) -> tuple[ZhouNet, dict]:
    """Train (or load) one variant through the three stages. ``lab`` / ``wild``: ImageDatasets of the
    lab (3D) and wild (2D-only) training splits; ``canonical``: canonical bone lengths (BONES order,
    mm) for the geometric loss; ``data_id``: a string naming the data (part of the checkpoint hash).
    Returns (model in eval mode, {stage: history}); ``stages=(1, 2)`` stops after stage 2."""
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    train.seed_everything(cfg.seed)
    model = ZhouNet(cfg.model).to(device)
    steps = {1: cfg.stage1_steps, 2: cfg.stage2_steps, 3: cfg.stage3_steps}
    histories = {}
    for stage in stages:
        ckpt, sc = stage_checkpoint(cfg, variant, stage, data_id, name)
        params = model.parameters_2d() if stage == 1 else model.parameters()
        opt = _optimizer(params, cfg)
        batches = MixedBatches(lab, wild if variant.use_wild else None, cfg.batch_size, cfg.wild_fraction,
                               seed=cfg.seed, stage=stage, pool=cfg.train_pool, device=device)
        step_fn = make_step_fn(model, opt, stage, cfg, canonical, variant)
        scheds = {}
        if cfg.lr_schedule == "cosine":
            scheds["lr"] = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps[stage], 1),
                                                                      eta_min=0.05 * cfg.lr)

        def run(stage=stage, step_fn=step_fn, batches=batches, opt=opt, ckpt=ckpt, sc=sc, scheds=scheds):
            train.seed_everything(cfg.seed + stage)
            return train.fit(step_fn, batches, models={"model": model}, optimizers={"opt": opt},
                             schedulers=scheds, num_steps=steps[stage], checkpoint=ckpt, config=sc,
                             checkpoint_every=max(50, steps[stage] // 4), log_every=10,
                             desc=f"{variant.name} stage {stage}", progress=progress)
        histories[stage] = train.load_or_train(ckpt, {"model": model}, run, sc)
    model.eval()
    return model, histories


# --- prediction and evaluation --------------------------------------------------------------------
def _decoder():
    """The images module's heatmap decoder and heatmap->crop mapping when it exists, else the
    hourglass module's (same conventions: heatmap pixel centres at integer coordinates)."""
    try:
        from .data import images
        return images.decode_heatmaps
    except (ImportError, AttributeError):
        return _decode_hg


@torch.no_grad()
def predict(model: ZhouNet, ds, indices=None, batch_size: int = 32, device="cpu") -> dict:
    """Run ``model`` over ``ds`` (an ImageDataset) at ``indices`` (default all). Returns numpy arrays:
    ``joints_2d`` (N, J, 2) predicted crop px, ``depth`` (N, J) normalised, ``maxvals`` (N, J), and the
    labels ``gt_2d`` (N, J, 2) crop px, ``visible``, ``gt_3d`` (N, J, 3) root-relative mm, ``has_3d``,
    ``intrinsics_crop`` (N, 4), ``index``, ``scene``; ``seconds`` the wall time."""
    model.eval()
    indices = np.arange(len(ds)) if indices is None else np.asarray(indices)
    decode = _decoder()
    R = model.config.hourglass.resolution
    keys = ("joints_2d", "joints_visible", "poses_3d", "has_3d", "intrinsics_crop", "index", "depth")
    out = {k: [] for k in ("pred_2d", "pred_depth", "maxvals") + keys + ("scene",)}
    t0 = time.perf_counter()
    for s in range(0, len(indices), batch_size):
        b = ds.get_batch(indices[s:s + batch_size])
        o = model(b["image"].to(device))
        hm = o["heatmaps"][-1].float()
        coords, maxvals = decode(hm)
        out["pred_2d"].append(heatmap_to_image(coords, R, hm.shape[-1]).cpu().numpy())
        out["pred_depth"].append(o["depth"].float().cpu().numpy())
        out["maxvals"].append(maxvals.cpu().numpy())
        for k in keys:
            v = b[k]
            out[k].append(v.cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
        out["scene"].append(np.asarray(b["scene"]).astype(str))
    res = {k: np.concatenate(v) for k, v in out.items()}
    return dict(joints_2d=res["pred_2d"], depth=res["pred_depth"], maxvals=res["maxvals"], gt_2d=res["joints_2d"],
                visible=res["joints_visible"].astype(bool), gt_3d=res["poses_3d"], gt_depth=res["depth"],
                has_3d=res["has_3d"].astype(bool), intrinsics_crop=res["intrinsics_crop"], index=res["index"],
                scene=res["scene"], resolution=R, seconds=time.perf_counter() - t0)


def pose_3d(joints_2d, depth_norm, resolution: int, canonical_bone_sum: float) -> np.ndarray:
    """The paper's 3D pose from crop-px 2D joints and normalised depths: root-relative mm (N, J, 3)."""
    j = torch.as_tensor(np.asarray(joints_2d), dtype=torch.float64)
    d = torch.as_tensor(np.asarray(depth_norm), dtype=torch.float64) * (resolution / 2)
    return assemble_pose_3d(j, d, float(canonical_bone_sum)).numpy()


def gt_depth_norm(pred: dict) -> np.ndarray:
    """Normalised ground-truth depths of a prediction dict's 3D-labelled samples (for diagnostics)."""
    p3 = torch.as_tensor(pred["gt_3d"], dtype=torch.float64)
    return depth_target(torch.as_tensor(pred["gt_2d"], dtype=torch.float64), p3, pred["resolution"]).numpy()


def evaluate(pred: dict, canonical_bone_sum: float, actions=None) -> dict:
    """Metrics of a :func:`predict` output. Always: ``pckh`` (2D PCKh@0.5 %, head size from the
    ground-truth neck-head distance) and ``symmetry_px`` (Table 4 in 256-normalised px of the
    predicted (2D, depth) pose). With 3D labels: ``pred_3d`` (root-relative mm, the bone-sum scaled
    pose), ``errors`` (N,) MPJPE mm, ``mpjpe``, ``per_action`` (if ``actions``), ``pck`` / ``auc`` (3DHP,
    all samples) and ``pck_scene`` / ``auc_scene`` per scene kind, ``symmetry_mm``, and the diagnostics
    ``mpjpe_gt2d`` (ground-truth 2D + predicted depth) and ``mpjpe_gtdepth`` (predicted 2D + ground-truth
    depth)."""
    R = pred["resolution"]
    gt2, p2, vis = pred["gt_2d"], pred["joints_2d"], pred["visible"]
    head = np.asarray(metrics.head_size_from_joints(gt2), np.float64)
    ok = head > 0
    out = {"pckh": float(metrics.pckh(p2[ok], gt2[ok], head[ok], visible=vis[ok]))}
    px_pose = np.concatenate([p2 - p2[:, ROOT:ROOT + 1], (pred["depth"] - pred["depth"][:, :1])[..., None] * R / 2], -1)
    out["symmetry_px"] = metrics.symmetry_error(px_pose * (256.0 / R))
    has = pred["has_3d"]
    if has.any():
        gt3 = pred["gt_3d"][has].astype(np.float64)
        p3 = pose_3d(p2[has], pred["depth"][has], R, canonical_bone_sum)
        errors = np.asarray(metrics.mpjpe(p3, gt3, reduction="none"))
        out.update(pred_3d=p3, gt_3d=gt3, errors=errors, mpjpe=float(errors.mean()),
                   pck=float(metrics.pck3d(p3, gt3)), auc=float(metrics.auc3d(p3, gt3)),
                   symmetry_mm=metrics.symmetry_error(p3))
        if actions is not None:
            out["per_action"] = metrics.per_action(errors, np.asarray(actions)[has])
        scenes = pred["scene"][has]
        out["pck_scene"] = {s: float(metrics.pck3d(p3[scenes == s], gt3[scenes == s])) for s in sorted(set(scenes))}
        out["auc_scene"] = {s: float(metrics.auc3d(p3[scenes == s], gt3[scenes == s])) for s in sorted(set(scenes))}
        gtd = gt_depth_norm({k: (v[has] if isinstance(v, np.ndarray) and len(v) == len(has) else v)
                             for k, v in pred.items()})
        out["mpjpe_gt2d"] = float(metrics.mpjpe(pose_3d(gt2[has], pred["depth"][has], R, canonical_bone_sum), gt3))
        out["mpjpe_gtdepth"] = float(metrics.mpjpe(pose_3d(p2[has], gtd, R, canonical_bone_sum), gt3))
    return out


def crop_to_image(joints_crop, intrinsics_crop, intrinsics) -> np.ndarray:
    """Crop px -> original image px, for a crop that is a scale + shift of the image (its
    ``intrinsics_crop`` against the camera's ``intrinsics``, both (N, 4) fx, fy, cx, cy)."""
    Kc = np.asarray(intrinsics_crop, np.float64)[:, None, :]
    K = np.asarray(intrinsics, np.float64)[:, None, :]
    return (np.asarray(joints_crop, np.float64) - Kc[..., 2:4]) / Kc[..., 0:2] * K[..., 0:2] + K[..., 2:4]


def canonical_bone_sum(canonical) -> float:
    """Sum of the canonical bone lengths (BONES order, mm)."""
    c = np.asarray(canonical, np.float64)
    if c.shape != (len(BONES),):
        raise ValueError(f"canonical bone lengths: expected {len(BONES)} values, got shape {c.shape}")
    return float(c.sum())





# --- the Zhou chapters (05 and its ablation 06 share these runs) ----------------------------------
@dataclass(frozen=True)
class ZhouChapterConfig:
    """Everything chapters 05 and 06 run; :meth:`for_profile` gives the three scales. ``n_eval_*``
    cap the evaluated images per split (0: all)."""
    resolution: int = 256
    stacks: int = 2
    modules: int = 2
    features: int = 256
    hg_depth: int = 4
    reg_modules: int = 2
    batch_size: int = 6
    stage1_steps: int = 240_000
    stage2_steps: int = 200_000
    stage3_steps: int = 40_000
    optimizer: str = "rmsprop"
    lr: float = 2.5e-4
    lambda_reg: float = LAMBDA_REG
    lambda_geo: float = LAMBDA_GEO
    train_pool: int = 0
    lr_schedule: str = "constant"
    n_eval_lab: int = 0
    n_eval_wild: int = 0
    n_eval_wild_2d: int = 2000
    eval_batch: int = 32
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: str) -> "ZhouChapterConfig":
        from .profiles import pick
        return pick(
            profile,
            # CI: a toy hourglass on 32-px images, a few steps per stage: proves the code path only
            smoke=cls(resolution=32, stacks=1, modules=1, features=16, hg_depth=2, reg_modules=1, batch_size=4,
                      stage1_steps=2, stage2_steps=2, stage3_steps=2, optimizer="adam", lr=1e-3, train_pool=24,
                      lr_schedule="cosine",
                      n_eval_lab=12, n_eval_wild=12, n_eval_wild_2d=8, eval_batch=32),
            # 2 CPU cores, <= 20 min for the four variants (500/500/250 steps took 20.9 min on an idle machine): 64-px images, Zhou's 2 x 2 hourglass at
            # width 64 and recursion depth 3 (16 -> 2 px), Adam, a few hundred steps per stage
            quick=cls(resolution=64, stacks=2, modules=2, features=64, hg_depth=3, reg_modules=1, batch_size=16,
                      stage1_steps=400, stage2_steps=400, stage3_steps=200, optimizer="adam", lr=1e-3,
                      lr_schedule="cosine", train_pool=1200, n_eval_lab=600, n_eval_wild=600, n_eval_wild_2d=300, eval_batch=64),
            # the paper: 256 px, 2 x 2 hourglass of 256 features, batch 6, RMSprop 2.5e-4, 240k/200k/40k
            full=cls(),
        )

    def train_config(self) -> ImageTrainConfig:
        from .models.hourglass import HourglassConfig
        hg = HourglassConfig(stacks=self.stacks, modules=self.modules, features=self.features, depth=self.hg_depth,
                             resolution=self.resolution)
        return ImageTrainConfig(model=ZhouConfig(hourglass=hg, reg_modules=self.reg_modules),
                                batch_size=self.batch_size, stage1_steps=self.stage1_steps,
                                stage2_steps=self.stage2_steps, stage3_steps=self.stage3_steps,
                                optimizer=self.optimizer, lr=self.lr, lambda_reg=self.lambda_reg,
                                lambda_geo=self.lambda_geo, train_pool=self.train_pool,
                                lr_schedule=self.lr_schedule, seed=self.seed)


def eval_indices(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """A fixed, sorted random subset of ``n`` of ``n_total`` samples (all when n is 0 or >= n_total)."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng([seed, 4242]).choice(n_total, n, replace=False))


def load_zhou_data(cfg: ZhouChapterConfig, dataset: str = "synth", data_root=None, cache: bool = True,
                   progress: bool = False, device="cpu") -> dict:
    """The four splits as PoseSets and ImageDatasets, the canonical skeleton (lab-training average bone
    lengths, BONES order, mm) and the evaluation subsets. With ``cfg.train_pool > 0`` the training
    images are a fixed pool per split, rendered once into a :class:`CachedImages` (saved under the
    checkpoint folder, so a second chapter reuses it), and the 2D-only evaluation images of the wild
    training split are drawn from outside that pool (held out); the evaluation images of every split
    are cached likewise. ``device``: where uncached images are rendered (the GPU for ``full``)."""
    from . import data
    from .data.images import ImageDataset
    from .models.zhou import canonical_bone_lengths
    kw = dict(data_root=data_root) if data_root is not None else {}
    sets = {s: data.load(dataset, s, **kw) for s in ("train", "test", "wild_train", "wild_test")}
    hidden = data.load(dataset, "wild_train", reveal_hidden=True, **kw).poses_3d if dataset == "synth" else None
    R = cfg.resolution
    ds = {s: ImageDataset(p, resolution=R, seed=cfg.seed, device=device,
                          **({"render_poses_3d": hidden} if s == "wild_train" and hidden is not None else {}))
          for s, p in sets.items()}
    canonical = canonical_bone_lengths(sets["train"].poses_3d).numpy()
    pools = {s: pool_indices(len(sets[s]), cfg.train_pool, cfg.seed, s) for s in ("train", "wild_train")}
    n_w = len(sets["wild_train"])
    outside = np.setdiff1d(np.arange(n_w), pools["wild_train"]) if cfg.train_pool > 0 else np.arange(n_w)
    idx = {"test": eval_indices(len(sets["test"]), cfg.n_eval_lab, cfg.seed),
           "wild_test": eval_indices(len(sets["wild_test"]), cfg.n_eval_wild, cfg.seed),
           "wild_train": outside[eval_indices(len(outside), cfg.n_eval_wild_2d, cfg.seed)]}
    data_id = "|".join(f"{s}:{p.meta.get('dataset', dataset)}:{len(p)}" for s, p in sets.items()) + f"|R{R}"
    if cache:
        need = {"train": pools["train"] if cfg.train_pool > 0 else None,
                "wild_train": np.union1d(pools["wild_train"], idx["wild_train"]) if cfg.train_pool > 0 else None,
                "test": idx["test"], "wild_test": idx["wild_test"]}
        for s, ind in need.items():
            if ind is None:
                continue
            key = train.config_hash(dict(data=data_id, split=s, seed=cfg.seed, idx=ind.tolist()))
            t0 = time.perf_counter()
            ds[s] = CachedImages(ds[s], ind, path=train.checkpoint_dir() / "images" / f"{s}-{key}.pt")
            if progress:
                print(f"{s}: {len(ind)} images ready in {time.perf_counter() - t0:.1f} s")
    return dict(sets=sets, images=ds, canonical=canonical, eval_idx=idx, data_id=data_id, pools=pools)


def run_zhou_variants(cfg: ZhouChapterConfig, d: dict, variants=tuple(VARIANTS), device="cpu", progress=True) -> dict:
    """Train (or load) each variant and evaluate it on the lab test, the wild test and the 2D-only wild
    training images. Returns {variant: dict(model, history, test, wild_test, wild_train, pred, seconds)}."""
    tc = cfg.train_config()
    bone_sum = canonical_bone_sum(d["canonical"])
    out = {}
    for name in variants:
        t0 = time.perf_counter()
        model, hist = train_variant(name, tc, d["images"]["train"], d["images"]["wild_train"], d["canonical"],
                                    data_id=d["data_id"], device=device, progress=progress)
        t1 = time.perf_counter()
        res = dict(model=model, history=hist, pred={}, train_seconds=t1 - t0)
        for split in ("test", "wild_test", "wild_train"):
            p = predict(model, d["images"][split], d["eval_idx"][split], cfg.eval_batch, device=device)
            res["pred"][split] = p
            res[split] = evaluate(p, bone_sum, actions=d["sets"][split].action[p["index"]])
        res["eval_seconds"] = time.perf_counter() - t1
        out[name] = res
    return out


# --- tables ---------------------------------------------------------------------------------------
def fmt(v, digits: int = 1) -> str:
    """A number for a table ('—' for None / NaN)."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else str(v)


def markdown_table(header, rows, digits: int = 1):
    """An IPython Markdown table (``header`` list of str, ``rows`` lists of cells)."""
    from IPython.display import Markdown
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c, digits) for c in r) + " |" for r in rows]
    return Markdown("\n".join(lines))


__all__ = ["VARIANTS", "Variant", "ImageTrainConfig", "ZhouChapterConfig", "CachedImages", "MixedBatches",
           "pool_indices", "make_step_fn", "stage_checkpoint", "train_variant", "predict", "evaluate", "pose_3d",
           "crop_to_image", "canonical_bone_sum", "load_zhou_data", "run_zhou_variants", "eval_indices",
           "markdown_table", "fmt"]
