"""Zhou et al. ICCV'17, how it trains: the four variants of Tables 1-2, the three training stages, the
per-profile configuration (:func:`config`) and the runs that chapters 05 and 06 share.

- :data:`VARIANTS` -- 3D / 3D+2D data, without / with the geometric loss.
- :class:`ImageTrainConfig` -- batch size, optimiser, the three stages' iteration counts, loss weights.
- :func:`make_step_fn` / :func:`train_variant` -- (1) the 2D module alone on the 2D labels (heatmap
  loss), (2) the whole network with ``lambda_geo = 0``, (3) end-to-end with the geometric loss on.
  Each stage is a :func:`posecore.train.fit` run with its own checkpoint, named by the hash of
  everything it depends on, so variants share their common stages and a finished run is loaded.
- :class:`RunConfig` / :func:`config` -- everything the chapters run, per profile (the shared image
  data is its ``data``: :mod:`posecore.recipes.image_data`); :func:`run_variants` -- training and
  evaluation of every variant.

Networks and the depth maths: :mod:`posecore.models.zhou`; losses: :mod:`posecore.losses`; mixed
batches and cached images: :mod:`posecore.recipes.images`; metrics: :func:`posecore.evaluate.evaluate_images`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from .. import artefacts, profiles, train
from ..losses import LAMBDA_GEO, LAMBDA_REG, depth_loss, geometric_loss, heatmap_loss
from ..models.zhou import ZhouConfig, ZhouNet
from . import checkpoint_path
from .backbone import BackboneConfig
from .image_data import ImageDataConfig, with_overrides
from .images import (MixedBatches, evaluate_splits, optimizer, schedulers, train_stage)

# the behaviour versions of Zhou's three stages (posecore.artefacts: bump one when what it computes
# changes); each starts from the one before (stage 1 is the shared backbone when one is given, and the
# backbone's own key is then part of the data)
_S1 = artefacts.stage("zhou-stage1", 1)
_S2 = artefacts.stage("zhou-stage2", 1, (_S1,))
STAGES = {1: _S1, 2: _S2, 3: artefacts.stage("zhou-stage3", 1, (_S2,))}


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
    seed: int = 0                       # initialisation and batch order
    pool_seed: int = 0                  # which images form the training pool (the data, shared by seeds)

    def __post_init__(self):
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"ImageTrainConfig.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ZhouConfig(**self.model))
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"ImageTrainConfig.optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.batch_size < 2:
            raise ValueError(f"ImageTrainConfig.batch_size must be >= 2, got {self.batch_size}")


# --- the three stages -----------------------------------------------------------------------------
def make_step_fn(model: ZhouNet, optimizer, stage: int, cfg: ImageTrainConfig, canonical, variant: Variant):
    """``step_fn(batch, step)`` of one stage. Stage 1: heatmap loss only (the optimiser holds only the
    2D module's parameters). Stage 2: + ``lambda_reg`` x depth L2 on the 3D-labelled images. Stage 3:
    + ``lambda_geo`` x geometric loss (if the variant has it) on the 2D-only images, or, for the
    3D-only variant, on the lab images. As in the paper, the geometric loss's gradient flows through
    the depth regressor into the shared hourglass features (only the ground-truth 2D it compares with
    is constant)."""
    R = model.config.hourglass.resolution
    geo_on = stage == 3 and variant.geo and cfg.lambda_geo > 0

    def step_fn(batch, step):
        images, is_wild = batch["image"], batch["is_wild"]
        out = model(images)
        vis = batch.get("joints_visible")
        l_hm = heatmap_loss(out["heatmaps"], batch["heatmaps"], vis)
        logs = {"hm": l_hm.item()}
        loss = l_hm
        if stage >= 2:
            l_d = depth_loss(out["depth"], batch["depth_target"], batch["has_3d"].bool())
            loss = loss + cfg.lambda_reg * l_d
            logs["depth"] = l_d.item()
        if geo_on:
            rows = is_wild if variant.use_wild else torch.ones_like(is_wild)
            l_g = geometric_loss(out["depth"], batch["joints_2d"], canonical, R, rows=rows, visible=vis)
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
                lr_schedule=cfg.lr_schedule, pool_seed=cfg.pool_seed,
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
    return checkpoint_path(f"{name}-stage{stage}", sc, STAGES[stage]), sc


def train_variant(variant: Variant | str, cfg: ImageTrainConfig, lab, wild, canonical, *, name: str = "zhou",
                  data_id: str = "", device="cpu", progress: bool = True, stages=(1, 2, 3),
                  backbone=None) -> tuple[ZhouNet, dict]:
    """Train (or load) one variant through the three stages. ``lab`` / ``wild``: ImageDatasets of the
    lab (3D) and wild (2D-only) training splits; ``canonical``: canonical bone lengths (BONES order,
    mm) for the geometric loss; ``data_id``: a string naming the data (part of the checkpoint hash).
    ``backbone``: ``(state_dict, backbone_id)`` of a shared 2D module (:mod:`posecore.recipes.backbone`,
    the paper's stage 1 trained once for every variant): stage 1 is then this backbone, loaded, and
    ``backbone_id`` replaces stage 1's settings in the later stages' checkpoint names; without it
    stage 1 trains here, per variant (``cfg.stage1_steps``).
    Returns (model in eval mode, {stage: history}); ``stages=(1, 2)`` stops after stage 2."""
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    train.seed_everything(cfg.seed)
    model = ZhouNet(cfg.model).to(device)
    steps = {1: cfg.stage1_steps, 2: cfg.stage2_steps, 3: cfg.stage3_steps}
    histories = {}
    if backbone is not None:
        state, backbone_id = backbone
        model.hourglass.load_state_dict(state)
        data_id = f"{data_id}|backbone:{backbone_id}"
        histories[1] = []
    for stage in stages:
        if stage == 1 and backbone is not None:
            continue
        ckpt, sc = stage_checkpoint(cfg, variant, stage, data_id, name)
        params = model.parameters_2d() if stage == 1 else model.parameters()
        opt = optimizer(params, cfg.optimizer, cfg.lr)
        batches = MixedBatches(lab, wild if variant.use_wild else None, cfg.batch_size, cfg.wild_fraction,
                               seed=cfg.seed, stage=stage, pool=cfg.train_pool, device=device,
                               pool_seed=cfg.pool_seed)
        histories[stage] = train_stage(make_step_fn(model, opt, stage, cfg, canonical, variant), batches,
                                       models={"model": model}, optimizers={"opt": opt},
                                       schedulers=schedulers(opt, cfg.lr_schedule, cfg.lr, steps[stage]),
                                       steps=steps[stage], checkpoint=ckpt, config=sc, seed=cfg.seed + stage,
                                       desc=f"{variant.name} stage {stage}", progress=progress)
    model.eval()
    return model, histories


# --- the chapters' runs (05 and its ablation 06 share them) ----------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """Everything chapters 05 and 06 run after the shared 2D backbone (:mod:`posecore.recipes.backbone`,
    which fixes the hourglass and the image resolution); :meth:`for_profile` gives the three scales.
    ``data``: the image data the image chapters share (pools, evaluation subsets, data seed:
    :class:`posecore.recipes.image_data.ImageDataConfig`)."""
    reg_modules: int = 2
    batch_size: int = 6
    stage2_steps: int = 200_000
    stage3_steps: int = 40_000
    optimizer: str = "rmsprop"
    lr: float = 2.5e-4
    lambda_reg: float = LAMBDA_REG
    lambda_geo: float = LAMBDA_GEO
    lr_schedule: str = "constant"
    eval_batch: int = 32
    seed: int = 0               # training seed (initialisation of the depth regressor, batch order)
    data: ImageDataConfig = field(default_factory=ImageDataConfig)

    @classmethod
    def for_profile(cls, profile: str) -> "RunConfig":
        return profiles.pick(
            profile,
            # CI: a few steps per stage: proves the code path only
            smoke=cls(reg_modules=1, batch_size=4, stage2_steps=2, stage3_steps=2, optimizer="adam", lr=1e-3,
                      lr_schedule="cosine", eval_batch=32, data=ImageDataConfig.for_profile("smoke")),
            # 2 CPU cores: on the quick backbone (64 px, 2 x 1 hourglass of width 64), Adam, a few hundred
            # steps per stage from the shared backbone
            quick=cls(reg_modules=1, batch_size=16, stage2_steps=400, stage3_steps=200, optimizer="adam", lr=1e-3,
                      lr_schedule="cosine", eval_batch=64, data=ImageDataConfig.for_profile("quick")),
            # the paper: batch 6, RMSprop 2.5e-4, 200k/40k after the 240k-iteration 2D stage
            full=cls(),
        )

    def train_config(self, backbone: BackboneConfig) -> ImageTrainConfig:
        return ImageTrainConfig(model=ZhouConfig(hourglass=backbone.hourglass(), reg_modules=self.reg_modules),
                                batch_size=self.batch_size, stage1_steps=backbone.steps,
                                stage2_steps=self.stage2_steps, stage3_steps=self.stage3_steps,
                                optimizer=self.optimizer, lr=self.lr, lambda_reg=self.lambda_reg,
                                lambda_geo=self.lambda_geo, train_pool=self.data.train_pool,
                                lr_schedule=self.lr_schedule, seed=self.seed, pool_seed=self.data.data_seed)


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = RunConfig


def config(profile: str | None = None, **overrides) -> RunConfig:
    """The one configuration of the Zhou runs for a profile, with a chapter's explicit overrides (the
    data fields, e.g. ``train_pool``, go to its ``data``)."""
    return with_overrides(RunConfig.for_profile(profiles.resolve(profile)), **overrides)


def run_variants(cfg: RunConfig, d: dict, backbone_cfg: BackboneConfig, backbone, variants=tuple(VARIANTS),
                 device="cpu", progress=True) -> dict:
    """Train (or load) each variant from the shared ``backbone`` (``(state_dict, backbone_id)`` of
    :func:`posecore.recipes.backbone.get`) and evaluate it on the lab test, the wild test and the
    2D-only wild training images. The lab test's 3D pose is scaled to the canonical bone sum (Sec.
    4.1.2); the wild test's to the subject's true bone sum (the known global scale, as the official
    3DHP evaluation). Returns {variant: dict(model, history, test, wild_test, wild_train, pred, seconds,
    steps)}; ``steps``: the variant's training steps after the shared backbone (stages 2 and 3: every
    variant trains both, the 'wo geo' ones without the geometric loss, so compared variants train
    equally long)."""
    tc = cfg.train_config(backbone_cfg)
    out = {}
    for name in variants:
        t0 = time.perf_counter()
        model, hist = train_variant(name, tc, d["images"]["train"], d["images"]["wild_train"], d["canonical"],
                                    data_id=d["data_id"], device=device, progress=progress, backbone=backbone)
        t1 = time.perf_counter()
        res = dict(model=model, history=hist, train_seconds=t1 - t0, steps=tc.stage2_steps + tc.stage3_steps,
                   **evaluate_splits(model, d, cfg.eval_batch, device=device))
        res["eval_seconds"] = time.perf_counter() - t1
        out[name] = res
    return out
