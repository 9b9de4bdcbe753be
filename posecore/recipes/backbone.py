"""The shared 2D backbone of the image chapters: Zhou et al.'s stage 1 -- a stacked hourglass trained on
2D heatmaps of lab and in-the-wild images -- trained once per configuration and loaded by every image
recipe (Zhou, and Yang, FBI and Wang's image network on top of it).

- :class:`BackboneConfig` / :func:`config` -- the network, batches, optimiser and schedule per profile.
- :class:`FreshBatches` -- deterministic mini-batches rendered afresh at every step (new crop jitter and
  scene styles each step, so the network never sees the same image twice), half lab and half wild, each
  image mirrored with probability 1/2 (left and right joints swapped: :func:`flip_batch`).
- :func:`train_backbone` -- train (or load: the checkpoint is named by a hash of the configuration,
  the data and the code) and return the network with its history (heatmap loss every 10 steps and the
  held-out PCKh@0.5 / paired-joint ratio at ``eval_every``).
- :func:`evaluate_2d` -- PCKh@0.5 and the left/right diagnostic (predicted / true distance between the
  left and right joint of each pair: a network that collapses each pair onto its midpoint scores ~0).

Why flipping: the rendered bodies wear the same clothes on both sides, so left and right differ only in
where they are relative to the body's facing (feet point forward, hair at the back). Without mirrored
copies a small network trained briefly settles on the pair's midpoint (measured before this recipe:
ratio 0.2-1.4 % of the crop vs 6.6-15.7 % in the ground truth). Mirroring with the joints swapped is
the standard hourglass augmentation (Newell et al.'s code flips with probability 1/2).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import artefacts, metrics, profiles, train
from ..data.images import decode_joints
from ..losses import heatmap_loss, pair_overlap_loss
from ..models.hourglass import FacingHead, HourglassConfig, StackedHourglass, facing_target
from ..skeleton import FLIP_PERMUTATION
from . import checkpoint_path
from .images import flip_outputs, optimizer, pool_indices, schedulers, train_stage

# the behaviour version of this recipe's training (posecore.artefacts: bump it when what it computes changes)
STAGE = artefacts.stage("backbone", 2)


@dataclass(frozen=True)
class BackboneConfig:
    """Stage 1 of Zhou et al.: the paper trains the 2 x 2 hourglass (256 features, 256 px) on MPII's 2D
    labels with RMSprop, lr 2.5e-4, batch 6, 240k iterations. ``lr_schedule``: 'constant' (paper) or
    'onecycle' (linear warm-up over the first 5 %, cosine decay to ~0: our CPU-scale choice).
    ``wild_fraction`` of each batch comes from the wild training split (2D labels), the rest from the
    lab training split. ``flip``: mirror each image with probability 1/2; ``jitter``: crop scale /
    shift jitter (:class:`~posecore.data.images.ImageDataset` ``augment``). ``precision``: the forward
    pass in training ('fp32', 'bf16' autocast, or 'auto' = bf16 where the device computes it natively:
    :func:`posecore.train.resolve_precision`); evaluation and the stored weights are fp32.
    ``facing_weight``: weight of an auxiliary loss (our addition, not the paper's) that asks the pooled
    features of every stack whether the body faces the camera (:class:`~posecore.models.hourglass.FacingHead`;
    the answer is read from the 2D labels: the left shoulder and hip lie right of the right ones in the
    image), so that the features carry the front/back evidence the heatmaps need to tell a left joint
    from its right partner; 0 switches it off. ``pair_weight``: weight of a left/right repulsion (ours:
    :func:`posecore.losses.pair_overlap_loss`, the overlap of the two maps of each pair whose joints lie
    apart), so that a map cannot settle on the same two-peaked answer for both joints of a pair; 0 off."""
    resolution: int = 256
    stacks: int = 2
    modules: int = 2
    features: int = 256
    depth: int = 4
    batch_size: int = 6
    steps: int = 240_000
    optimizer: str = "rmsprop"
    lr: float = 2.5e-4
    lr_schedule: str = "constant"
    wild_fraction: float = 0.5
    flip: bool = True
    jitter: bool = True
    sigma: float = 1.0
    heatmap_stride: int = 4
    eval_every: int = 10_000
    n_eval: int = 600
    seed: int = 0
    precision: str = "fp32"
    facing_weight: float = 0.0
    pair_weight: float = 0.0

    def __post_init__(self):
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"BackboneConfig.optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "onecycle"):
            raise ValueError(f"BackboneConfig.lr_schedule must be 'constant' or 'onecycle', got {self.lr_schedule!r}")
        if not 0.0 <= self.wild_fraction < 1.0:
            raise ValueError(f"BackboneConfig.wild_fraction must be in [0, 1), got {self.wild_fraction}")
        if self.eval_every < 1 or (self.eval_every % 10 and self.eval_every < self.steps):
            raise ValueError(f"BackboneConfig.eval_every must be a multiple of 10 (the logging interval) or "
                             f">= steps, got {self.eval_every}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ValueError(f"BackboneConfig.precision must be 'fp32', 'bf16' or 'auto', got {self.precision!r}")
        if self.facing_weight < 0 or self.pair_weight < 0:
            raise ValueError(f"BackboneConfig.facing_weight and pair_weight must be >= 0, got {self.facing_weight}, "
                             f"{self.pair_weight}")
        if self.batch_size < 2 or self.steps < 1:
            raise ValueError(f"BackboneConfig: batch_size must be >= 2 and steps >= 1, got "
                             f"{self.batch_size}, {self.steps}")

    @classmethod
    def for_profile(cls, profile: str) -> "BackboneConfig":
        return profiles.pick(
            profile,
            # CI: a toy hourglass on 32-px images for a few steps: proves the code path only
            smoke=cls(resolution=32, stacks=1, modules=1, features=16, depth=2, batch_size=4, steps=3,
                      optimizer="adam", lr=1e-3, lr_schedule="onecycle", eval_every=3, n_eval=16,
                      facing_weight=0.1, pair_weight=1.0),
            # 2 CPU cores: 64-px images with 32 x 32 heatmaps (heatmap_stride 2), 2 stacks x 1 module of
            # width 64, Adam with a one-cycle schedule, batch 32 (chapter 05 lists what was tried), the
            # auxiliary facing loss and the left/right repulsion; bf16 autocast where native (a whole
            # step, rendering included, in 0.65x the fp32 time on one thread of an AVX512-BF16 CPU). The
            # book loads the shipped one (`make checkpoints`: 90 min on one bf16 thread; ~99 min expected on 2 fp32 cores)
            quick=cls(resolution=64, stacks=2, modules=1, features=64, depth=3, batch_size=32, steps=16000,
                      optimizer="adam", lr=2.5e-3, lr_schedule="onecycle", heatmap_stride=2, eval_every=500,
                      n_eval=600, precision="auto", facing_weight=0.1, pair_weight=1.0),
            # the paper's stage 1 (with flips, as the hourglass code)
            full=cls(),
        )

    def hourglass(self) -> HourglassConfig:
        return HourglassConfig(stacks=self.stacks, modules=self.modules, features=self.features, depth=self.depth,
                               resolution=self.resolution, heatmap_stride=self.heatmap_stride)


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = BackboneConfig


def config(profile: str | None = None, **overrides) -> BackboneConfig:
    """The one backbone configuration of a profile, with a chapter's explicit overrides (None = keep)."""
    return profiles.override(BackboneConfig.for_profile(profiles.resolve(profile)), **overrides)


# --- batches --------------------------------------------------------------------------------------
def flip_batch(batch: dict, mask) -> dict:
    """Mirror the images of ``batch`` where ``mask`` (B,) bool is True: image and heatmaps flipped
    left-right, crop x -> R - 1 - x (heatmap x -> h - 1 - x), and the left and right joints swapped
    (:data:`~posecore.skeleton.FLIP_PERMUTATION`) in every per-joint array; root-relative 3D poses get
    x -> -x (a mirror about the camera's y-z plane; exact for the root-relative pose up to the crop's
    principal-point offset, which the 2D labels carry). Returns a new dict."""
    mask = torch.as_tensor(mask, dtype=torch.bool, device=batch["image"].device)
    if mask.shape != (batch["image"].shape[0],):
        raise ValueError(f"flip_batch: mask must be ({batch['image'].shape[0]},), got {tuple(mask.shape)}")
    perm = torch.as_tensor(FLIP_PERMUTATION, device=mask.device)
    R = batch["image"].shape[-1]
    out = dict(batch)

    def sel(a, b):
        m = mask.view((-1,) + (1,) * (a.ndim - 1))
        return torch.where(m, b, a)

    out["image"] = sel(batch["image"], batch["image"].flip(-1))
    if "heatmaps" in batch:
        out["heatmaps"] = sel(batch["heatmaps"], batch["heatmaps"].flip(-1)[:, perm])
    for k, size in (("joints_2d", R), ("joints_heatmap", batch["heatmaps"].shape[-1] if "heatmaps" in batch else None)):
        if k in batch and size is not None:
            j = batch[k][:, perm].clone()
            j[..., 0] = size - 1 - j[..., 0]
            out[k] = sel(batch[k], j)
    for k in ("joints_visible", "joints_occluded", "depth"):
        if k in batch:
            out[k] = sel(batch[k], batch[k][:, perm])
    if "poses_3d" in batch:
        p = batch["poses_3d"][:, perm].clone()
        p[..., 0] = -p[..., 0]
        out["poses_3d"] = sel(batch["poses_3d"], p)
    return out


class FreshBatches:
    """``batch_fn(step)``: ``B - round(wild_fraction * B)`` lab and ``round(wild_fraction * B)`` wild
    images, drawn uniformly from the whole lab split and from the wild split less its held-out images
    (:func:`~posecore.recipes.images.wild_holdout`, the image chapters' 2D evaluation) by an RNG seeded
    with (seed, step) and rendered with
    the render seed of epoch ``step`` (``lab`` / ``wild`` are ImageDatasets with ``augment`` on for crop
    jitter; their scene styles change with the epoch too), then mirrored with probability 1/2 when
    ``flip``. Deterministic in (seed, step), so a resumed run sees the same batches."""

    def __init__(self, lab, wild=None, batch_size: int = 32, wild_fraction: float = 0.5, flip: bool = True,
                 seed: int = 0, device="cpu"):
        self.lab, self.wild, self.flip, self.seed, self.device = lab, wild, flip, seed, device
        self.n_wild = int(round(wild_fraction * batch_size)) if wild is not None else 0
        self.n_lab = batch_size - self.n_wild
        self.candidates = {"train": pool_indices(len(lab), 0, seed, "train"),
                           "wild_train": pool_indices(len(wild), 0, seed, "wild_train") if wild is not None else None}

    def __call__(self, step: int) -> dict:
        rng = np.random.default_rng([self.seed, 31337, step])
        parts = []
        for ds, n, split in ((self.lab, self.n_lab, "train"), (self.wild, self.n_wild, "wild_train")):
            if n:
                if hasattr(ds, "set_epoch"):
                    ds.set_epoch(step)
                cand = self.candidates[split]
                b = ds.get_batch(cand[rng.integers(0, len(cand), n)])
                parts.append({k: b[k].to(self.device) for k in ("image", "heatmaps", "joints_visible", "joints_2d")})
        batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        if self.flip:
            batch = flip_batch(batch, torch.as_tensor(rng.random(len(batch["image"])) < 0.5))
        return batch


# --- evaluation -----------------------------------------------------------------------------------
@torch.no_grad()
def predict_2d(net: StackedHourglass, images: torch.Tensor, batch_size: int = 100, flip_test: bool = False) -> torch.Tensor:
    """Crop-px 2D joints (N, J, 2) decoded from the last stack's heatmaps of ``images`` (N, 3, R, R);
    ``flip_test``: from the heatmaps of each image and its mirror averaged
    (:func:`posecore.recipes.images.flip_outputs`)."""
    was = net.training
    net.eval()
    R = net.config.resolution
    out = []
    for s in range(0, len(images), batch_size):
        o = net(images[s:s + batch_size])
        if flip_test:
            o = flip_outputs(o, net(images[s:s + batch_size].flip(-1)))
        out.append(decode_joints(o["heatmaps"][-1], R)[0])
    net.train(was)
    return torch.cat(out)


def evaluate_2d(pred_2d, gt_2d, visible, head_size=None) -> dict:
    """``pckh`` (%, PCKh@0.5 with MPII's head size: ``head_size`` (N,) crop px, 0.6 x the head box's
    diagonal, :func:`posecore.data.render.head_sizes` for renders; without it the joints' head size),
    ``pckh_joints`` (PCKh@0.5 with the head size of :func:`posecore.metrics.head_size_from_joints`, the
    book's convention before renderer VERSION 2), ``pair_ratio``
    (:func:`posecore.metrics.paired_joint_ratio`) and ``partner_nearer`` (% of visible left/right
    pairs whose predicted joint lies nearer its partner's true position than its own:
    :func:`posecore.metrics.partner_nearer`) of crop-px predictions."""
    pred_2d, gt_2d = np.asarray(pred_2d, np.float64), np.asarray(gt_2d, np.float64)
    visible = np.asarray(visible, bool)
    joints = np.asarray(metrics.head_size_from_joints(gt_2d), np.float64)
    head = None if head_size is None else np.asarray(head_size, np.float64).reshape(-1)
    head = joints if head is None or not np.isfinite(head).any() else head     # photos without head boxes
    out = {}
    for name, h in (("pckh", head), ("pckh_joints", joints)):
        ok = h > 0
        out[name] = float(metrics.pckh(pred_2d[ok], gt_2d[ok], h[ok], visible=visible[ok]))
    out["pair_ratio"] = metrics.paired_joint_ratio(pred_2d, gt_2d, visible)
    out["partner_nearer"] = metrics.partner_nearer(pred_2d, gt_2d, visible)
    return out


# --- training -------------------------------------------------------------------------------------
def stage_config(cfg: BackboneConfig, data_id: str, precision: str) -> dict:
    """What the backbone's checkpoint is keyed by (with :data:`STAGE`): ``cfg``, the data's id and the
    resolved ``precision`` (bf16 and fp32 runs train different weights)."""
    return dict(asdict(cfg), data=data_id, precision=precision)


def checkpoint(cfg: BackboneConfig, data_id: str, name: str = "backbone", device="cpu"):
    """(path, keyed config) of the backbone trained with ``cfg`` on the data named ``data_id`` (with
    the precision resolved on ``device``)."""
    sc = stage_config(cfg, data_id, train.resolve_precision(cfg.precision, device))
    return checkpoint_path(name, sc, STAGE, sc["precision"]), sc


def train_backbone(cfg: BackboneConfig, lab, wild, eval_sets: dict | None = None, *, data_id: str = "",
                   name: str = "backbone", device="cpu", progress: bool = True) -> tuple[StackedHourglass, list]:
    """Train (or load) the backbone. ``lab`` / ``wild``: ImageDatasets of the lab and wild training splits
    (``augment=cfg.jitter``, heatmaps at ``cfg.sigma``); ``eval_sets``: {name: batch dict with
    ``image``, ``joints_2d``, ``joints_visible``} evaluated every ``cfg.eval_every`` steps (logged as
    ``<name>_pckh`` / ``<name>_pair_ratio``; e.g. held-out lab-test images). Returns (network in eval
    mode, history)."""
    train.seed_everything(cfg.seed)
    net = StackedHourglass(cfg.hourglass()).to(device)
    models = {"model": net}
    params = list(net.parameters())
    if cfg.facing_weight > 0:
        facing = models["facing"] = FacingHead(cfg.features, cfg.stacks).to(device)
        params += list(facing.parameters())
    opt = optimizer(params, cfg.optimizer, cfg.lr)
    scheds = schedulers(opt, cfg.lr_schedule, cfg.lr, cfg.steps)
    batches = FreshBatches(lab, wild, cfg.batch_size, cfg.wild_fraction, cfg.flip, cfg.seed, device)
    eval_sets = eval_sets or {}
    precision = train.resolve_precision(cfg.precision, device)

    def step_fn(batch, step):
        with train.autocast(precision, device):
            out = net(batch["image"])
        loss = heatmap_loss([h.float() for h in out["heatmaps"]], batch["heatmaps"], batch["joints_visible"])
        logs = {"hm": loss.item()}
        if cfg.facing_weight > 0:
            target, weight = facing_target(batch["joints_2d"], batch["joints_visible"], cfg.resolution)
            logits = facing(out["features"])
            aux = sum(torch.nn.functional.binary_cross_entropy_with_logits(z, target, weight=weight)
                      for z in logits) / len(logits)
            loss = loss + cfg.facing_weight * aux
            logs["facing"] = aux.item()
            logs["facing_acc"] = float(100 * (((logits[-1] > 0).float() == target) * (weight > 0)).sum()
                                       / (weight > 0).sum().clamp_min(1))
        if cfg.pair_weight > 0:
            hr = batch["heatmaps"].shape[-1]
            jhm = (batch["joints_2d"].float() + 0.5) * hr / cfg.resolution - 0.5      # crop px -> heatmap px
            pair = pair_overlap_loss(out["heatmaps"], jhm, batch["joints_visible"])
            loss = loss + cfg.pair_weight * pair
            logs["pair"] = pair.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            for k, b in eval_sets.items():
                ev = evaluate_2d(predict_2d(net, b["image"].to(device)).cpu(), b["joints_2d"], b["joints_visible"],
                                 b.get("head_size"))
                logs.update({f"{k}_{m}": v for m, v in ev.items()})
        return logs

    ckpt, sc = checkpoint(cfg, data_id, name, device)
    history = train_stage(step_fn, batches, models=models, optimizers={"opt": opt}, schedulers=scheds,
                          steps=cfg.steps, checkpoint=ckpt, config=sc, seed=cfg.seed + 1, desc="2D backbone",
                          progress=progress, checkpoint_every=max(50, min(cfg.steps // 8, 1000)))
    net.eval()
    return net, history


# --- the one call of every image chapter ------------------------------------------------------------
def load_data(cfg: BackboneConfig, dataset: str = "synth", data_root=None, device="cpu", photos=None) -> dict:
    """The backbone's training ImageDatasets (lab and wild training splits, crop jitter per
    ``cfg.jitter``; the wild split's bodies are drawn from its hidden 3D poses, its labels stay 2D) and
    its held-out evaluation batches (``cfg.n_eval`` lab-test and wild-test images, rendered once), plus
    ``data_id`` naming the data. ``photos``: a :class:`~posecore.recipes.photo_data.PhotoSources` -- the
    same from the datasets' photographs instead of renders (``dataset`` / ``data_root`` unused; without
    a wild 3D test set ``eval`` holds ``lab`` only)."""
    from .. import data
    from ..data.images import ImageDataset
    from .images import data_id as images_data_id
    from .images import eval_indices
    if photos is not None:
        from . import photo_data
        common = dict(resolution=cfg.resolution, heatmap_resolution=cfg.hourglass().heatmap_resolution,
                      sigma=cfg.sigma, seed=cfg.seed, device=device)
        train = photo_data.datasets(photos, augment=cfg.jitter, splits=("train", "wild_train"), **common)
        held = photo_data.datasets(photos, splits=("test", "wild_test"), **common)
        evals = {}
        for name, split in (("lab", "test"), ("wild", "wild_test")):
            if split not in held:          # no wild 3D test set: no wild evaluation
                continue
            b = held[split].get_batch(eval_indices(len(held[split]), cfg.n_eval, cfg.seed))
            evals[name] = {k: b[k].cpu() for k in ("image", "joints_2d", "joints_visible", "head_size") if k in b}
        return dict(lab=train["train"], wild=train["wild_train"], eval=evals,
                    data_id=photo_data.data_id(train | held, cfg.resolution))
    kw = dict(data_root=data_root) if data_root is not None else {}
    sets = {s: data.load(dataset, s, **kw) for s in ("train", "wild_train", "test", "wild_test")}
    hidden = data.load(dataset, "wild_train", reveal_hidden=True, **kw).poses_3d if dataset == "synth" else None
    R = cfg.resolution
    common = dict(resolution=R, heatmap_resolution=cfg.hourglass().heatmap_resolution, sigma=cfg.sigma,
                  seed=cfg.seed, device=device)
    lab = ImageDataset(sets["train"], augment=cfg.jitter, **common)
    wild = ImageDataset(sets["wild_train"], augment=cfg.jitter, **common,
                        **({"render_poses_3d": hidden} if hidden is not None else {}))
    evals = {}
    for name, split in (("lab", "test"), ("wild", "wild_test")):
        ds = ImageDataset(sets[split], **common)
        b = ds.get_batch(eval_indices(len(ds), cfg.n_eval, cfg.seed))
        evals[name] = {k: b[k].cpu() for k in ("image", "joints_2d", "joints_visible", "head_size")}
    return dict(lab=lab, wild=wild, eval=evals, data_id=images_data_id(sets, R, hidden))


SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "backbone.pt"


def shipped_key(cfg: BackboneConfig, data_id: str, precision: str) -> str:
    """The key a shipped backbone of ``cfg`` on ``data_id``, trained in ``precision``, carries."""
    return artefacts.key(STAGE, stage_config(cfg, data_id, precision), precision=precision)


def shipped(cfg: BackboneConfig, data_id: str, path=SHIPPED) -> dict | None:
    """The backbone shipped in the package (``posecore/weights/backbone.pt``, made by ``make
    checkpoints``) if its key is the key of ``cfg`` on the data ``data_id`` now (the same stage
    versions, configuration, data content and torch major.minor), else None. Its precision is the one
    it was trained in (bf16 where the machine that made it computes bf16 natively): shipped weights
    are a finished result, loaded on any machine. Read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        return None
    blob = torch.load(path, map_location="cpu", weights_only=True)
    precision = (blob.get("identity") or {}).get("precision")
    if blob.get("kind") != "backbone" or precision not in ("fp32", "bf16"):
        return None
    if blob.get("key") != shipped_key(cfg, data_id, precision):
        return None
    return blob


def get(cfg: BackboneConfig, dataset: str = "synth", data_root=None, device="cpu", progress: bool = True,
        use_shipped: bool = True, photos=None) -> dict:
    """The shared backbone of ``cfg``, for every image chapter: the shipped one when it matches ``cfg``
    and the data (``use_shipped``), else trained once per (configuration, data, code) and cached.
    Returns ``net`` (StackedHourglass, eval mode), ``state`` (its state dict), ``id`` (pass ``(state,
    id)`` to the recipes as their stage 1), ``history`` (heatmap loss every 10 steps; lab/wild PCKh@0.5
    and pair ratio every ``cfg.eval_every``), ``train_seconds`` (wall time of its training run),
    ``eval`` (lab / wild metrics on the held-out batches, measured now), ``source`` ('shipped' or the
    checkpoint's file name) and ``data_id``. ``photos``: train and evaluate on photographs
    (:func:`load_data`)."""
    d = load_data(cfg, dataset, data_root, device, photos=photos)
    blob = shipped(cfg, d["data_id"]) if use_shipped else None
    if blob is not None:
        net = StackedHourglass(cfg.hourglass()).to(device)
        net.load_state_dict(blob["state"])
        net.eval()
        history, seconds = blob["history"], float(blob["train_seconds"])
        source, bid = f"shipped: posecore/weights/backbone.pt (git commit {blob['git_commit'][:12]})", \
            f"backbone-{blob['key']}"
    else:
        net, history = train_backbone(cfg, d["lab"], d["wild"], d["eval"], data_id=d["data_id"], device=device,
                                      progress=progress)
        path, _ = checkpoint(cfg, d["data_id"], device=device)
        seconds = history[-1]["time_s"] if history else 0.0
        source, bid = f"checkpoint {path.name} in the cache", path.stem
    final = {k: evaluate_2d(predict_2d(net, b["image"].to(device)).cpu(), b["joints_2d"], b["joints_visible"],
                            b.get("head_size"))
             for k, b in d["eval"].items()}
    return dict(net=net, state={k: v.detach().clone() for k, v in net.state_dict().items()}, id=bid,
                history=history, train_seconds=seconds, eval=final, source=source, data_id=d["data_id"])
