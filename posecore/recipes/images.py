"""Shared machinery of the image recipes (the backbone, Zhou, Yang, FBI and Wang's image network): the
stage runner (optimiser, schedule, seeded fit, checkpoint), a rendered-image cache, deterministic mixed lab/wild mini-batches with depth targets, fixed training
pools and evaluation subsets, and batched inference of a heatmap + depth network over an
:class:`~posecore.data.images.ImageDataset`.

Units: crops are ``R x R`` px; heatmaps ``h = R / 4``; depths are normalised as in
:func:`posecore.models.zhou.depth_target` (pixels / (R / 2)).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import artefacts, train
from ..data import render
from ..data.images import decode_joints
from ..models.zhou import depth_target
from ..skeleton import FLIP_PERMUTATION


# --- the identity of rendered data ---------------------------------------------------------------
# the behaviour version of a rendered-image cache (what CachedImages stores of a batch)
IMAGES = artefacts.stage("images", 1)


def data_id(sets: dict, resolution: int, render_poses_3d=None) -> str:
    """The name of the rendered images of ``sets`` ({split: PoseSet}) at ``resolution`` px: the content
    digest of every split (:func:`posecore.artefacts.poseset_digest`), of the hidden 3D poses the wild
    bodies are drawn from (``render_poses_3d``) and the renderer's version (``posecore.data.render
    .VERSION``). The datasets' names stay readable in front."""
    names = "+".join(sorted({str(p.meta.get("dataset", "")) for p in sets.values()}))
    content = {"sets": {s: artefacts.poseset_digest(p) for s, p in sorted(sets.items())},
               "hidden": None if render_poses_3d is None else artefacts.array_digest(render_poses_3d),
               "renderer": render.VERSION, "resolution": int(resolution)}
    return f"{names}|R{resolution}|{artefacts.digest(content)}"


def cache_path(name: str, **what) -> Path:
    """Where a :class:`CachedImages` of ``what`` (the data id, split, seed, indices, ...) is kept:
    ``checkpoint_dir()/images/<name>-<key>.pt`` (:func:`posecore.artefacts.key` of :data:`IMAGES`)."""
    return train.checkpoint_dir() / "images" / f"{name}-{artefacts.key(IMAGES, what)}.pt"


# --- a rendered-image cache ----------------------------------------------------------------------
class CachedImages:
    """Renders ``indices`` of an ImageDataset once (in chunks of ``chunk``) and serves
    ``get_batch(indices)`` for those indices from memory, images stored as uint8 (the renderer
    quantises to 8 bits, so this is lossless). With ``path`` the cache is saved there and reloaded by
    later runs (chapter 06 reuses chapter 05's renders). ``len()`` is the underlying dataset's; asking
    for an index that was not rendered raises KeyError naming it."""

    def __init__(self, ds, indices, chunk: int = 64, path=None, progress: bool = False):
        self.ds, self.indices = ds, np.asarray(indices, np.int64)
        self.pos = {int(i): k for k, i in enumerate(self.indices)}
        path = Path(path) if path is not None else None
        if path is None:
            self.data = self._render(ds, chunk)
            return
        with artefacts.locked(path):                  # a second process waits, then loads this one's renders
            if path.exists():
                blob = torch.load(path, map_location="cpu", weights_only=False)
                if np.array_equal(blob["indices"], self.indices):
                    self.data = blob["data"]
                    return
            self.data = self._render(ds, chunk)
            artefacts.atomic_save({"indices": self.indices, "data": self.data}, path)

    def _render(self, ds, chunk: int) -> dict:
        parts = []
        for s in range(0, len(self.indices), chunk):
            b = ds.get_batch(self.indices[s:s + chunk])
            b = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in b.items()}
            b["image"] = (b["image"].clamp(0, 1) * 255).round().to(torch.uint8)
            parts.append(b)
        return {k: torch.cat([p[k] for p in parts]) if isinstance(parts[0][k], torch.Tensor)
                else np.concatenate([p[k] for p in parts]) for k in parts[0]}

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


# --- the stage runner ----------------------------------------------------------------------------
def optimizer(params, name: str, lr: float) -> torch.optim.Optimizer:
    """'adam' (Adam, torch's defaults) or 'rmsprop' (RMSprop, torch's defaults, as Newell et al.'s
    hourglass and Zhou et al.) over ``params``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"optimizer: 'adam' or 'rmsprop', got {name!r}")


def schedulers(opt, name: str, lr: float, steps: int) -> dict:
    """``{'lr': scheduler}`` for :func:`posecore.train.fit`: 'constant' (none), 'cosine' (cosine decay to
    5 % of ``lr`` over ``steps``) or 'onecycle' (linear warm-up over the first 5 %, cosine decay to ~0)."""
    if name == "constant":
        return {}
    if name == "cosine":
        return {"lr": torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=0.05 * lr)}
    if name == "onecycle":
        return {"lr": torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)}
    raise ValueError(f"schedulers: 'constant', 'cosine' or 'onecycle', got {name!r}")


def train_stage(step_fn, batches, *, models: dict, optimizers: dict, schedulers: dict, steps: int, checkpoint,
                config: dict, seed: int, desc: str, progress: bool = True, checkpoint_every: int | None = None,
                callbacks=(), first_log=None) -> list[dict]:
    """One training stage of an image recipe: load its finished ``checkpoint`` (keyed ``config``), or
    seed everything with ``seed``, and run :func:`posecore.train.fit` for ``steps`` (logging every
    10 steps, checkpointing every ``checkpoint_every``, default a quarter of the run and at least 50
    steps); ``first_log() -> dict``, called after seeding, is logged as step 0 (the start of a curve).
    A recipe writes only its ``step_fn`` (the paper's losses). Returns the history."""
    every = checkpoint_every or max(50, steps // 4)

    def run():
        train.seed_everything(seed)
        first = first_log() if first_log is not None else None
        hist = train.fit(step_fn, batches, models=models, optimizers=optimizers, schedulers=schedulers,
                         num_steps=steps, checkpoint=checkpoint, config=config, checkpoint_every=every,
                         log_every=10, callbacks=callbacks, desc=desc, progress=progress)
        if first is not None and not any(h.get("step") == 0 for h in hist):
            hist.insert(0, {"step": 0, **first})
        return hist
    return train.load_or_train(checkpoint, models, run, config)


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
    the same batches; ``pool_seed`` (default ``seed``) picks the fixed training pool, so runs of
    several training seeds can share one rendered pool. The batch dict of :meth:`ImageDataset.get_batch` plus ``is_wild`` (B,) bool and
    ``depth_target`` (B, J) normalised depths (NaN where there is no 3D label)."""

    def __init__(self, lab, wild=None, batch_size: int = 6, wild_fraction: float = 0.5, seed: int = 0,
                 stage: int = 0, pool: int = 0, device="cpu", pool_seed: int | None = None):
        self.lab, self.wild = lab, wild
        pool_seed = seed if pool_seed is None else pool_seed
        self.batch_size, self.seed, self.stage, self.device = batch_size, seed, stage, device
        self.n_wild = int(round(wild_fraction * batch_size)) if wild is not None else 0
        self.n_lab = batch_size - self.n_wild
        self.lab_pool = pool_indices(len(lab), pool, pool_seed, "train")
        self.wild_pool = pool_indices(len(wild), pool, pool_seed, "wild_train") if wild is not None else None

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


# wild-training images that no image network trains on (the backbone, Zhou, Yang, FBI, Wang's image
# network): the held-out 2D evaluation of every image chapter is drawn from them
WILD_HOLDOUT = 2000


def wild_holdout(n: int) -> np.ndarray:
    """The held-out images of a wild training split of ``n`` images: ``min(WILD_HOLDOUT, n // 4)`` of
    them, fixed (independent of every seed, so no training seed or pool ever reaches them), sorted."""
    k = min(WILD_HOLDOUT, n // 4)
    if k <= 0:
        return np.zeros(0, np.int64)
    return np.sort(np.random.default_rng([5, 20261207]).choice(n, k, replace=False))


def pool_indices(n: int, pool: int, seed: int, split: str) -> np.ndarray:
    """The training images of a split: a fixed pool of ``pool`` of them when the training draws from a
    pool, else all (``pool`` 0 or too large), sorted. The wild training split's candidates exclude
    :func:`wild_holdout`. Deterministic in (seed, split)."""
    cand = np.setdiff1d(np.arange(n), wild_holdout(n)) if split == "wild_train" else np.arange(n)
    if not 0 < pool < len(cand):
        return cand
    salt = int.from_bytes(split.encode()[:8].ljust(8, b"\0"), "little")
    return np.sort(cand[np.random.default_rng([seed, salt, 977]).choice(len(cand), pool, replace=False)])


def batch_depth_target(batch: dict) -> torch.Tensor:
    """Normalised depth targets (B, J) of a batch; NaN rows where ``has_3d`` is False."""
    R = batch["image"].shape[-1]
    has = batch["has_3d"].bool()
    p3 = batch["poses_3d"].float()
    t = torch.full(p3.shape[:2], float("nan"), device=p3.device)
    if has.any():
        t[has] = depth_target(batch["joints_2d"][has].float(), p3[has], R)
    return t


# --- pools, evaluation subsets and inference -------------------------------------------------------
def eval_indices(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """A fixed, sorted random subset of ``n`` of ``n_total`` samples (all when n is 0 or >= n_total)."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng([seed, 4242]).choice(n_total, n, replace=False))


def flip_outputs(out: dict, out_flipped: dict) -> dict:
    """The flip test: ``out`` / ``out_flipped``, an image network's outputs on images and on their
    mirrors, averaged -- the mirror's last heatmaps (B, J, h, w) flipped back left-right with the left
    and right joints swapped (:data:`~posecore.skeleton.FLIP_PERMUTATION`; heatmap x -> w - 1 - x, the
    exact mirror of crop x -> R - 1 - x), its per-joint depths (B, J), where the network has them,
    swapped only (a mirror about the camera's y-z plane keeps every depth). Returns ``{'heatmaps':
    [averaged last heatmaps], 'depth': averaged depths}`` (fp32; no ``depth`` without depths)."""
    hm, hf = out["heatmaps"][-1].float(), out_flipped["heatmaps"][-1].float()
    perm = torch.as_tensor(FLIP_PERMUTATION, device=hm.device)
    assert hm.shape == hf.shape and hm.shape[1] == len(perm), f"flip_outputs: heatmaps {tuple(hm.shape)} / {tuple(hf.shape)}"
    res = {"heatmaps": [0.5 * (hm + hf.flip(-1)[:, perm])]}
    if "depth" in out:
        res["depth"] = 0.5 * (out["depth"].float() + out_flipped["depth"].float()[:, perm])
    return res


@torch.no_grad()
def predict(model, ds, indices=None, batch_size: int = 32, device="cpu", soft_beta: float | None = None,
            flip_test: bool = False) -> dict:
    """Run ``model`` over ``ds`` (an ImageDataset) at ``indices`` (default all). Returns numpy arrays:
    ``joints_2d`` (N, J, 2) predicted crop px, ``depth`` (N, J) normalised, ``maxvals`` (N, J), and the
    labels ``gt_2d`` (N, J, 2) crop px, ``visible``, ``gt_3d`` (N, J, 3) root-relative mm, ``has_3d``,
    ``intrinsics_crop`` (N, 4), ``index``, ``scene``; ``seconds`` the wall time; ``head_size`` (N,) crop
    px where the dataset has head boxes (renders: the rendered head's, in every batch; photos: MPII's,
    :meth:`posecore.data.photos.PhotoDataset.head_size_crop`), else None (PCKh then takes the head
    size from the joints). ``soft_beta``: also ``soft_2d`` (N, J, 2) crop px, the soft-argmax of the
    last heatmaps at that sharpness (what Yang et al.'s discriminator sees). ``flip_test``: every image
    also run mirrored and the two outputs averaged (:func:`flip_outputs`; the stacked hourglass's test
    protocol, Newell et al. 2016), at twice the cost; ``joints_2d_single`` (N, J, 2) then keeps the
    unmirrored pass's 2D."""
    model.eval()
    indices = np.arange(len(ds)) if indices is None else np.asarray(indices)
    R = model.config.hourglass.resolution
    keys = ("joints_2d", "joints_visible", "poses_3d", "has_3d", "intrinsics_crop", "index", "depth")
    out = {k: [] for k in ("pred_2d", "pred_depth", "maxvals") + keys + ("scene", "head_size", "soft_2d", "single_2d")}
    t0 = time.perf_counter()
    for s in range(0, len(indices), batch_size):
        b = ds.get_batch(indices[s:s + batch_size])
        image = b["image"].to(device)
        o = model(image)
        if flip_test:
            out["single_2d"].append(decode_joints(o["heatmaps"][-1], R)[0].cpu().numpy())
            o = flip_outputs(o, model(image.flip(-1)))
        j2d, maxvals = decode_joints(o["heatmaps"][-1], R)
        out["pred_2d"].append(j2d.cpu().numpy())
        out["pred_depth"].append(o["depth"].float().cpu().numpy())
        out["maxvals"].append(maxvals.cpu().numpy())
        if "head_size" in b:
            out["head_size"].append(np.asarray(b["head_size"].cpu() if isinstance(b["head_size"], torch.Tensor)
                                               else b["head_size"], np.float64))
        if soft_beta is not None:
            from ..models.hourglass import heatmap_to_image
            from ..models.yang import soft_argmax
            hm = o["heatmaps"][-1].float()
            out["soft_2d"].append(heatmap_to_image(soft_argmax(hm, soft_beta), R, hm.shape[-1]).cpu().numpy())
        for k in keys:
            v = b[k]
            out[k].append(v.cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
        out["scene"].append(np.asarray(b["scene"]).astype(str))
    res = {k: np.concatenate(v) for k, v in out.items() if v}
    return dict(joints_2d=res["pred_2d"], depth=res["pred_depth"], maxvals=res["maxvals"], gt_2d=res["joints_2d"],
                visible=res["joints_visible"].astype(bool), gt_3d=res["poses_3d"], gt_depth=res["depth"],
                has_3d=res["has_3d"].astype(bool), intrinsics_crop=res["intrinsics_crop"], index=res["index"],
                scene=res["scene"], resolution=R, seconds=time.perf_counter() - t0,
                head_size=res["head_size"] if "head_size" in res and np.isfinite(res["head_size"]).any()
                else _head_sizes(ds, res["index"]),
                flip_test=bool(flip_test),
                **({"soft_2d": res["soft_2d"]} if "soft_2d" in res else {}),
                **({"joints_2d_single": res["single_2d"]} if "single_2d" in res else {}))


def _head_sizes(ds, indices):
    """MPII head-box sizes (crop px) of ``indices`` when ``ds`` (or the dataset a CachedImages wraps) has
    them; None otherwise."""
    base = getattr(ds, "ds", ds)
    if getattr(base, "head_size", None) is None or not hasattr(base, "head_size_crop"):
        return None
    return np.asarray(base.head_size_crop(np.asarray(indices)), np.float64)


# --- scoring an image model -----------------------------------------------------------------------
EVAL_SPLITS = ("test", "wild_test", "wild_train")


def evaluate_splits(model, d: dict, batch_size: int = 32, device="cpu", soft_beta: float | None = None,
                    flip_test: bool = True) -> dict:
    """The one scoring path of an image model over the chapters' evaluation images (``d``:
    :func:`posecore.recipes.image_data.load`): :func:`predict` on each split of :data:`EVAL_SPLITS`
    (lab test, wild test, held-out 2D-only wild training images), then
    :func:`posecore.evaluate.evaluate_images` -- the lab test's 3D at the canonical bone-length sum
    (Zhou et al. Sec. 4.1.2), the wild test's at each subject's true one (the known global scale of the
    3DHP protocol), per action. Returns ``{split: metrics, 'pred': {split: predict(...)}}`` (a split
    that ``d`` lacks, e.g. the wild test of photos without one, is left out). ``soft_beta``: see
    :func:`predict` (adds ``pckh_soft``). ``flip_test`` (default on): the flip test of :func:`predict`
    (adds ``pckh_single``, the unmirrored pass's PCKh)."""
    from ..evaluate import evaluate_images
    from ..models.zhou import canonical_bone_sum
    bone_sum = canonical_bone_sum(d["canonical"])
    out = {"pred": {}}
    for split in EVAL_SPLITS:
        if split not in d["eval_idx"]:     # photos without a wild 3D test set
            continue
        p = predict(model, d["images"][split], d["eval_idx"][split], batch_size, device=device, soft_beta=soft_beta,
                    flip_test=flip_test)
        out["pred"][split] = p
        out[split] = evaluate_images(p, bone_sum, actions=d["sets"][split].action[p["index"]],
                                     scale="true" if split == "wild_test" else "canonical")
    return out
