"""Yang et al. CVPR'18, how it trains: the supervised generator, the alternating adversarial stage
with the multi-source discriminator, the rows of the paper's Table 2 (plus our controls) and the
per-profile configuration.

- :data:`VARIANTS` -- Baseline (fix 2D), Baseline, Map, Geo, Full (fix 2D), Full (w/o pretrain), Full
  (the paper's Table 2), and four rows of ours: Full without the image source (real samples are
  always lab images, so an image-only cue can flag every wild image as fake), the supervised control
  (the Baseline trained for the adversarial stage's extra steps with no discriminator: is a gain
  adversarial or just more training?) and Full at two larger adversarial weights (x100 the paper's,
  and the book's former 1e-4 on our mean losses: an upward sweep from the paper's weight, which
  :func:`lambda_of` rescales to our means; see :class:`YangConfig`). :func:`total_steps`: every row's
  generator steps (the adversarial rows, the control and 'w/o pretrain' train equally long).
- :func:`pose_loss` -- paper Eq. 2: heatmap L2 on every image + ``lambda_reg`` x depth L2 on the
  3D-labelled ones.
- :func:`discriminator_inputs` -- what D sees of a real (ground truth of a lab image) or fake (G's
  prediction on a lab or wild image) sample: the image, the pose ``(x, y, z)`` for the geometric
  descriptor (x, y from a soft-argmax of G's heatmaps, so the adversarial gradient reaches the 2D
  module), the heatmaps and depths for the depth maps.
- :func:`train_supervised` (stage 2 from the shared backbone; ``fix_2d`` trains only the depth
  regressor), :func:`train_adversarial` (stage 3: one D step then one G step per iteration,
  ``L_D`` = BCE(real, 1) + BCE(fake, 0), ``L_G = lambda_adv * BCE(D(fake), 1) + L_pose``),
  :func:`train_variant` and :func:`run_variants` (train or load, then evaluate every row).
- :func:`curve_on_total_steps` (Fig. 5 against total generator steps) and
  :func:`protocol_2_per_action` (Table 1's Protocol #2 per action).

Every stage is a :func:`posecore.train.fit` run with its own checkpoint named by the hash of what it
depends on, so rows that share a stage (every adversarial row starts from the one supervised
Baseline, as in the paper) train it once, and a finished run is loaded. Networks and the descriptor
maths: :mod:`posecore.models.yang`; data, image pools and the wild-test protocol are chapter 05's
(:func:`posecore.recipes.image_data.load`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from .. import artefacts, metrics, profiles, train
from ..evaluate import evaluate_images
from ..losses import LAMBDA_REG, depth_loss, heatmap_loss
from ..models.hourglass import heatmap_to_image
from ..models.yang import SOURCES, DiscriminatorConfig, MultiSourceDiscriminator, generator_config, soft_argmax
from ..models.zhou import ZhouConfig, ZhouNet, canonical_bone_sum
from . import checkpoint_path
from .backbone import BackboneConfig
from .image_data import ImageDataConfig, with_overrides
from .images import MixedBatches, evaluate_splits, optimizer, predict, schedulers, train_stage

# the behaviour versions of Yang's two stages (posecore.artefacts); both start from the shared backbone
# (its key is part of the data), the adversarial stage from the supervised one
SUPERVISED = artefacts.stage("yang-supervised", 1)
# 2: the adversarial weight is the paper's over J x h x w (its losses are sums, ours means); the row
# without pretraining trains the supervised stage's steps too (equal total steps)
ADVERSARIAL = artefacts.stage("yang-adversarial", 2, (SUPERVISED,))


# --- rows of Table 2 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One row. ``adversarial``: train the adversarial stage after (or, without ``pretrain``, instead
    of) the supervised stage 2; ``sources``: D's information sources; ``fix_2d``: the 2D module stays
    the shared backbone in every stage (only the depth regressor learns);
    ``lambda_factor``: this row's adversarial weight over the paper's (0: the supervised control --
    the adversarial stage's steps with no D); ``lambda_means``: > 0, the weight applied as it is to our
    mean losses instead (the book's weight before the rescale: 1e-4 on means, ~1.7e4 x the paper's);
    ``paper``: a row of the paper's Table 2 (else ours)."""
    name: str
    adversarial: bool = True
    sources: tuple = SOURCES
    fix_2d: bool = False
    pretrain: bool = True
    lambda_factor: float = 1.0
    lambda_means: float = 0.0
    paper: bool = True


VARIANTS = {v.name: v for v in (
    Variant("Baseline (fix 2D)", adversarial=False, fix_2d=True),
    Variant("Baseline", adversarial=False),
    Variant("Map", sources=("image", "maps")),
    Variant("Geo", sources=("image", "geo")),
    Variant("Full (fix 2D)", fix_2d=True),
    Variant("Full (w/o pretrain)", pretrain=False),
    Variant("Full"),
    Variant("Full (no image source)", sources=("geo", "maps"), paper=False),
    Variant("Baseline + stage-3 steps (no D)", lambda_factor=0.0, paper=False),
    Variant("Full (lambda x100)", lambda_factor=100.0, paper=False),
    Variant("Full (lambda 1e-4 on means)", lambda_means=1e-4, paper=False),
)}
PAPER_ROWS = tuple(n for n, v in VARIANTS.items() if v.paper)


def lambda_of(variant: Variant, lambda_adv: float, heatmap_resolution: int, num_joints: int = 17) -> float:
    """The adversarial weight a row applies to our losses: the paper's Eqs. 2 and 5 sum the heatmap
    error over J x h x w and add ``lambda_adv`` x the adversarial loss; ours average the heatmap error,
    so the same balance is ``lambda_adv / (J h w)``, times ``variant.lambda_factor`` (or
    ``variant.lambda_means`` as it is, where set)."""
    if variant.lambda_means > 0:
        return variant.lambda_means
    return variant.lambda_factor * lambda_adv / (num_joints * heatmap_resolution ** 2)


def total_steps(variant: Variant, cfg: "YangConfig") -> int:
    """The generator steps a row trains after the shared backbone: the supervised stage (with
    pretraining) plus the adversarial stage (adversarial rows, the no-D control included); a row
    without pretraining trains the adversarial stage for both stages' steps, so every row of the
    adversarial comparisons has trained equally long."""
    if not variant.adversarial:
        return cfg.stage2_steps
    return cfg.stage2_steps + cfg.adv_steps


# --- configuration ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class YangConfig:
    """Everything the chapter trains after the shared 2D backbone (which fixes the hourglass and the
    resolution). Paper: batch 12 for all steps, 200k supervised and 120k adversarial iterations,
    lambda_adv = 1e-4; G RMSprop 2.5e-4 (the Zhou / Newell setting: the paper names no optimiser), D
    Adam 1e-4 (0.5, 0.999), one D step per G step (not given; our choice). ``lambda_reg``: the paper's
    Eq. 2 puts no weight on the depth term; we use Zhou's 0.1 in Zhou's depth units. ``lambda_adv`` is
    the paper's weight on its summed heatmap loss; our losses are means, so the weight applied is
    ``lambda_adv / (J h w)`` (:func:`lambda_of`); rows 'Full (lambda x100)' and 'Full (lambda 1e-4 on
    means)' (the book's weight before, ~1.7e4 x the paper's at 32 x 32 heatmaps) sweep it upwards. ``soft_argmax_beta``: sharpness of the soft-argmax
    that turns G's heatmaps into the descriptor's x, y (heatmaps peak at ~1, so beta sets how far
    below the peak a pixel's weight falls: exp(-beta * (1 - value))). ``d_width``: each D embedding's
    size. ``curve_every`` / ``n_curve``: lab-test MPJPE on ``n_curve`` images every ``curve_every``
    adversarial steps (the paper's Fig. 5; 0 = off). ``data``: the image data every image chapter
    shares (:class:`posecore.recipes.image_data.ImageDataConfig`), so chapters 05 and 07 train on the
    same rendered image pools and score the same images."""
    reg_modules: int = 1
    reg_blocks: int = 3
    batch_size: int = 12
    stage2_steps: int = 200_000
    adv_steps: int = 120_000
    optimizer: str = "rmsprop"
    lr: float = 2.5e-4
    lr_schedule: str = "constant"
    lambda_reg: float = LAMBDA_REG
    lambda_adv: float = 1e-4
    d_lr: float = 1e-4
    d_width: int = 256
    soft_argmax_beta: float = 100.0
    wild_fraction: float = 0.5
    curve_every: int = 0
    n_curve: int = 200
    eval_batch: int = 32
    seed: int = 0
    data: ImageDataConfig = field(default_factory=ImageDataConfig)

    def __post_init__(self):
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"YangConfig.optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"YangConfig.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.batch_size < 2 or self.stage2_steps < 0 or self.adv_steps < 0:
            raise ValueError(f"YangConfig: batch_size >= 2 and non-negative step counts required, got "
                             f"{self.batch_size}, {self.stage2_steps}, {self.adv_steps}")
        if self.lambda_adv < 0 or self.soft_argmax_beta <= 0:
            raise ValueError(f"YangConfig: lambda_adv >= 0 and soft_argmax_beta > 0 required, got "
                             f"{self.lambda_adv}, {self.soft_argmax_beta}")
        if self.curve_every < 0 or self.curve_every % 10:
            raise ValueError(f"YangConfig.curve_every must be a non-negative multiple of 10 (the logging "
                             f"interval), got {self.curve_every}")

    @classmethod
    def for_profile(cls, profile: str) -> "YangConfig":
        return profiles.pick(
            profile,
            # CI: a few steps per stage: proves the code path only
            smoke=cls(batch_size=4, stage2_steps=2, adv_steps=2, optimizer="adam", lr=1e-3, lr_schedule="cosine",
                      d_width=16, curve_every=0, data=ImageDataConfig.for_profile("smoke")),
            # 2 CPU cores, on the quick backbone (64 px, 2 x 1 hourglass of width 64): Adam + cosine, a few
            # hundred steps per stage from the shared backbone, the image pools of chapter 05
            quick=cls(batch_size=16, stage2_steps=400, adv_steps=200, optimizer="adam", lr=1e-3, lr_schedule="cosine",
                      d_width=64, curve_every=50, n_curve=200, eval_batch=64, data=ImageDataConfig.for_profile("quick")),
            # the paper: batch 12, 200k + 120k iterations, RMSprop 2.5e-4
            full=cls(curve_every=5000),
        )

    def model(self, backbone: BackboneConfig) -> ZhouConfig:
        """G's network: :func:`posecore.models.yang.generator_config` on the backbone's hourglass."""
        return replace(generator_config(backbone.hourglass()), reg_modules=self.reg_modules,
                       reg_blocks=self.reg_blocks)

    def discriminator(self, backbone: BackboneConfig, sources) -> DiscriminatorConfig:
        hg = backbone.hourglass()
        return DiscriminatorConfig(sources=tuple(sources), width=self.d_width, num_joints=hg.num_joints,
                                   resolution=hg.resolution, heatmap_resolution=hg.heatmap_resolution,
                                   convs=4 if hg.resolution >= 64 else 3)


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = YangConfig


def config(profile: str | None = None, **overrides) -> YangConfig:
    """The one configuration of the Yang runs for a profile, with a chapter's explicit overrides (the
    data fields, e.g. ``train_pool``, go to its ``data``)."""
    return with_overrides(YangConfig.for_profile(profiles.resolve(profile)), **overrides)


def backbone_config(profile: str | None = None, **overrides) -> BackboneConfig:
    """The 2D module every row starts from: the book's shared backbone at 'smoke' and 'quick'; at
    'full' the shared recipe at the paper's size, 4 stacks x 1 module of 256 features at 256 px (the
    final "Full-4s" model of Table 1; the Table 2 ablations used 2 x 1: pass ``stacks=2``). Overrides:
    any :class:`~posecore.recipes.backbone.BackboneConfig` field (None = keep)."""
    from . import backbone
    profile = profiles.resolve(profile)
    base = backbone.config(profile)
    if profile == "full":
        base = replace(base, stacks=4, modules=1)
    return profiles.override(base, **overrides)


# --- losses and what D sees ------------------------------------------------------------------------
def pose_loss(out: dict, batch: dict, lambda_reg: float) -> tuple[torch.Tensor, dict]:
    """Paper Eq. 2 (as means): heatmap L2 over every stack on all images (lab + wild) + ``lambda_reg``
    x depth L2 on the 3D-labelled images. Returns (loss, logs)."""
    l_hm = heatmap_loss(out["heatmaps"], batch["heatmaps"], batch.get("joints_visible"))
    l_d = depth_loss(out["depth"], batch["depth_target"], batch["has_3d"].bool())
    return l_hm + lambda_reg * l_d, {"hm": l_hm.item(), "depth": l_d.item()}


def discriminator_inputs(source: str, batch: dict, out: dict | None = None, beta: float = 100.0,
                         rows=None) -> dict:
    """D's keyword inputs for the samples ``rows`` (bool mask or indices; default all) of ``batch``:
    the ground truth (``source='real'``: 2D joints, normalised depth targets, Gaussian heatmaps) or G's
    prediction ``out`` (``source='fake'``: soft-argmax of the last stack's heatmaps, predicted
    depth, predicted heatmaps). x, y are crop-normalised ``2 u / R - 1``. Returns dict(image, pose
    (n, P, 3), heatmaps (n, P, h, h), depth (n, P))."""
    if source not in ("real", "fake"):
        raise ValueError(f"discriminator_inputs: source must be 'real' or 'fake', got {source!r}")
    image = batch["image"]
    R = image.shape[-1]
    sel = slice(None) if rows is None else rows
    if source == "real":
        uv, z, hm = batch["joints_2d"][sel].float(), batch["depth_target"][sel], batch["heatmaps"][sel]
        if not torch.isfinite(z).all():
            raise ValueError("discriminator_inputs: a real sample has no 3D label (NaN depth target)")
    else:
        if out is None:
            raise ValueError("discriminator_inputs: source 'fake' needs G's output")
        hm = out["heatmaps"][-1][sel]
        uv = heatmap_to_image(soft_argmax(hm, beta), R, hm.shape[-1])       # (n, P, 2) crop px
        z = out["depth"][sel]
    xy = 2.0 * uv / R - 1.0
    return dict(image=image[sel], pose=torch.cat([xy, z[..., None]], -1), heatmaps=hm, depth=z)


def _cat_inputs(a: dict, b: dict) -> dict:
    return {k: torch.cat([a[k], b[k]]) for k in a}


# --- stages ----------------------------------------------------------------------------------------
def _optimizer(params, cfg: YangConfig):
    """G's optimiser over its trainable parameters (the 'fix 2D' rows freeze the hourglass)."""
    return optimizer([p for p in params if p.requires_grad], cfg.optimizer, cfg.lr)


def _freeze_2d(G: ZhouNet, fix_2d: bool) -> None:
    for p in G.hourglass.parameters():
        p.requires_grad_(not fix_2d)


def _stage_config(cfg: YangConfig, backbone_cfg: BackboneConfig, data_id: str, stage: str, **extra) -> dict:
    keep = dict(model=asdict(cfg.model(backbone_cfg)), batch_size=cfg.batch_size, optimizer=cfg.optimizer, lr=cfg.lr,
                lr_schedule=cfg.lr_schedule, lambda_reg=cfg.lambda_reg, wild_fraction=cfg.wild_fraction,
                train_pool=cfg.data.train_pool, pool_seed=cfg.data.data_seed, seed=cfg.seed, data=data_id, stage=stage)
    keep.update(extra)
    return keep


def _batches(lab, wild, cfg: YangConfig, stage: int, device):
    return MixedBatches(lab, wild, cfg.batch_size, cfg.wild_fraction, seed=cfg.seed, stage=stage,
                        pool=cfg.data.train_pool, device=device, pool_seed=cfg.data.data_seed)


def train_supervised(G: ZhouNet, cfg: YangConfig, backbone_cfg: BackboneConfig, lab, wild, data_id: str, *,
                     fix_2d: bool = False, device="cpu", progress: bool = True, name: str = "yang") -> list:
    """Stage 2 (paper: "train the full estimator on Human3.6M" with Eq. 2), half lab / half wild
    batches, from the shared backbone already loaded into ``G``. ``fix_2d``: only the depth regressor
    learns (the hourglass's parameters are frozen and its BatchNorm statistics kept). Trains or loads
    ``G``; returns the history."""
    sc = _stage_config(cfg, backbone_cfg, data_id, "supervised", steps=cfg.stage2_steps, fix_2d=fix_2d)
    ckpt = checkpoint_path(f"{name}-supervised", sc, SUPERVISED)
    _freeze_2d(G, fix_2d)
    opt = _optimizer(G.parameters(), cfg)
    batches = _batches(lab, wild, cfg, 2, device)

    def step_fn(batch, step):
        if fix_2d:
            G.hourglass.eval()
        out = G(batch["image"])
        loss, logs = pose_loss(out, batch, cfg.lambda_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **logs}

    hist = train_stage(step_fn, batches, models={"G": G}, optimizers={"G": opt},
                       schedulers=schedulers(opt, cfg.lr_schedule, cfg.lr, cfg.stage2_steps), steps=cfg.stage2_steps,
                       checkpoint=ckpt, config=sc, seed=cfg.seed + 2,
                       desc=f"yang supervised{' (fix 2D)' if fix_2d else ''}", progress=progress)
    _freeze_2d(G, False)
    return hist


def make_adversarial_step(G: ZhouNet, D, opt_g, opt_d, cfg: YangConfig, lambda_adv: float, fix_2d: bool = False):
    """``step_fn(batch, step)`` of the adversarial stage. One forward of G on the batch (lab + wild
    images); D step on the real samples (ground truth of the batch's lab images) and the fakes (G's
    detached predictions on all images): ``L_D = BCE(D(real), 1) + BCE(D(fake), 0)`` (means, one
    forward over real and fake together); then the G step ``lambda_adv * BCE(D(fake), 1) + L_pose``
    through the updated D (in eval mode: its BatchNorm uses running statistics). Logs D's accuracy
    on the real, lab-fake and wild-fake samples (logit > 0 = "real"). ``D`` None or ``lambda_adv`` 0:
    the supervised loss only (the control)."""
    beta = cfg.soft_argmax_beta
    use_d = D is not None and lambda_adv > 0

    def step_fn(batch, step):
        if fix_2d:
            G.hourglass.eval()
        out = G(batch["image"])
        l_pose, logs = pose_loss(out, batch, cfg.lambda_reg)
        loss = l_pose
        if use_d:
            lab = ~batch["is_wild"]
            real = discriminator_inputs("real", batch, rows=lab)
            fake = discriminator_inputs("fake", batch, out, beta)
            n_real = int(lab.sum())
            # --- D step (G's outputs detached)
            D.train()
            logits = D(**_cat_inputs(real, {k: v.detach() for k, v in fake.items()}))
            target = torch.cat([torch.ones(n_real), torch.zeros(len(logits) - n_real)]).to(logits)
            l_d = (F.binary_cross_entropy_with_logits(logits[:n_real], target[:n_real])
                   + F.binary_cross_entropy_with_logits(logits[n_real:], target[n_real:]))
            opt_d.zero_grad(set_to_none=True)
            l_d.backward()
            opt_d.step()
            with torch.no_grad():
                says_real = logits > 0
                fake_wild = batch["is_wild"]
                logs.update(d_loss=l_d.item(), d_acc_real=says_real[:n_real].float().mean().item(),
                            d_acc_fake_lab=(~says_real[n_real:][~fake_wild]).float().mean().item()
                            if (~fake_wild).any() else float("nan"),
                            d_acc_fake_wild=(~says_real[n_real:][fake_wild]).float().mean().item()
                            if fake_wild.any() else float("nan"))
            # --- G step through the updated D
            D.eval()
            g_logits = D(**fake)
            l_adv = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
            loss = l_pose + lambda_adv * l_adv
            logs["g_adv"] = l_adv.item()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        return {"loss": loss.item(), **logs}

    return step_fn


def train_adversarial(G: ZhouNet, variant: Variant, cfg: YangConfig, backbone_cfg: BackboneConfig, lab, wild,
                      data_id: str, *, start_id: str, device="cpu", progress: bool = True, curve_fn=None,
                      name: str = "yang") -> tuple[MultiSourceDiscriminator | None, list]:
    """Stage 3 of ``variant`` from ``G`` as it is (the supervised Baseline, or the backbone with a fresh
    depth regressor for 'w/o pretrain'; ``start_id`` names that start in the checkpoint).
    ``curve_fn(G) -> dict`` (optional) is logged every ``cfg.curve_every`` steps (Fig. 5). Returns
    (D or None for the control, history). A row without pretraining trains ``stage2_steps +
    adv_steps`` here (:func:`total_steps`)."""
    hg = backbone_cfg.hourglass()
    lam = lambda_of(variant, cfg.lambda_adv, hg.heatmap_resolution, hg.num_joints)
    steps = cfg.adv_steps + (0 if variant.pretrain else cfg.stage2_steps)
    D = None
    if lam > 0:
        train.seed_everything(cfg.seed + 31)
        D = MultiSourceDiscriminator(cfg.discriminator(backbone_cfg, variant.sources)).to(device)
    sc = _stage_config(cfg, backbone_cfg, data_id, "adversarial", steps=steps, start=start_id,
                       sources=list(variant.sources) if D is not None else [], fix_2d=variant.fix_2d,
                       lambda_adv=lam, d_lr=cfg.d_lr, d_width=cfg.d_width, beta=cfg.soft_argmax_beta,
                       curve_every=cfg.curve_every, n_curve=cfg.n_curve)
    ckpt = checkpoint_path(f"{name}-adversarial", sc, ADVERSARIAL)
    _freeze_2d(G, variant.fix_2d)
    opt_g = _optimizer(G.parameters(), cfg)
    models, opts = {"G": G}, {"G": opt_g}
    opt_d = None
    if D is not None:
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(0.5, 0.999))
        models["D"], opts["D"] = D, opt_d
    step_fn = make_adversarial_step(G, D, opt_g, opt_d, cfg, lam, variant.fix_2d)
    callbacks = []
    if curve_fn is not None and cfg.curve_every > 0:
        def evaluate(state):
            G.eval()
            logs = curve_fn(G)
            G.train()
            if variant.fix_2d:
                G.hourglass.eval()
            return logs
        callbacks.append(train.EvalCallback(evaluate, cfg.curve_every))

    def start_of_curve():
        G.eval()
        return curve_fn(G)
    hist = train_stage(step_fn, _batches(lab, wild, cfg, 3, device), models=models, optimizers=opts,
                       schedulers=schedulers(opt_g, cfg.lr_schedule, cfg.lr, steps), steps=steps,
                       checkpoint=ckpt, config=sc, seed=cfg.seed + 3, callbacks=callbacks,
                       first_log=start_of_curve if callbacks else None, desc=f"yang {variant.name}",
                       progress=progress)
    _freeze_2d(G, False)
    return D, hist


def train_variant(variant: Variant | str, cfg: YangConfig, backbone_cfg: BackboneConfig, backbone, lab, wild,
                  data_id: str, *, device="cpu", progress: bool = True, curve_fn=None):
    """Train (or load) one row from the shared ``backbone`` (``(state_dict, backbone_id)``): stage 2
    (supervised; frozen 2D module for the 'fix 2D' rows), then, for adversarial rows, stage 3 (from
    stage 2, or from the backbone with a fresh depth regressor without ``pretrain``). Returns dict(G
    (eval mode), D, history={'supervised': [...], 'adversarial': [...]})."""
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    state, backbone_id = backbone
    train.seed_everything(cfg.seed)
    G = ZhouNet(cfg.model(backbone_cfg)).to(device)
    G.hourglass.load_state_dict(state)
    data_id = f"{data_id}|backbone:{backbone_id}"
    hist = {"supervised": [], "adversarial": []}
    start_id = "backbone"
    if variant.pretrain:
        hist["supervised"] = train_supervised(G, cfg, backbone_cfg, lab, wild, data_id, fix_2d=variant.fix_2d,
                                              device=device, progress=progress)
        start_id = f"supervised(fix_2d={variant.fix_2d})"
    D = None
    if variant.adversarial:
        D, hist["adversarial"] = train_adversarial(G, variant, cfg, backbone_cfg, lab, wild, data_id,
                                                   start_id=start_id, device=device, progress=progress,
                                                   curve_fn=curve_fn)
    G.eval()
    return dict(G=G, D=D, history=hist)


def curve(d: dict, cfg: YangConfig, device="cpu"):
    """``curve_fn(G) -> {'curve_mpjpe': lab-test MPJPE (mm) on the first cfg.n_curve evaluated images}``."""
    idx = d["eval_idx"]["test"][:cfg.n_curve]
    bone_sum = canonical_bone_sum(d["canonical"])

    def fn(G):
        p = predict(G, d["images"]["test"], idx, cfg.eval_batch, device=device)
        return {"curve_mpjpe": evaluate_images(p, bone_sum)["mpjpe"]}
    return fn


def curve_on_total_steps(variant: Variant | str, cfg: YangConfig, history: list) -> tuple[list, list]:
    """Fig. 5's points of a row against its TOTAL generator steps after the backbone: the adversarial
    stage's ``curve_mpjpe`` logs (``history``: the row's ``history['adversarial']``) shifted by the
    supervised stage's ``cfg.stage2_steps`` where the row was pretrained (a row without pretraining
    starts at 0). Returns (steps, lab MPJPE mm); empty for a row without an adversarial stage."""
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    offset = cfg.stage2_steps if variant.pretrain else 0
    pts = [(int(h["step"]) + offset, float(h["curve_mpjpe"])) for h in history
           if "curve_mpjpe" in h and np.isfinite(h["curve_mpjpe"])]
    return [p[0] for p in pts], [p[1] for p in pts]


def protocol_2_per_action(pred_3d, gt_3d, actions) -> dict:
    """Protocol #2 of the paper's Table 1: P-MPJPE (mm, after a similarity Procrustes alignment:
    :func:`posecore.metrics.p_mpjpe`) per action (subactions merged) and ``'Average'`` over the actions,
    as Protocol #1's ``per_action`` (:func:`posecore.metrics.per_action`). ``pred_3d``, ``gt_3d``
    (N, J, 3) root-relative mm; ``actions`` (N,) the samples' actions in the same order."""
    pred_3d, gt_3d = np.asarray(pred_3d, np.float64), np.asarray(gt_3d, np.float64)
    actions = np.asarray(actions).astype(str)
    if len(actions) != len(pred_3d):
        raise ValueError(f"protocol_2_per_action: {len(pred_3d)} poses but {len(actions)} actions")
    return metrics.per_action(np.asarray(metrics.p_mpjpe(pred_3d, gt_3d, reduction="none")), actions)


def run_variants(cfg: YangConfig, d: dict, backbone_cfg: BackboneConfig, backbone, variants=tuple(VARIANTS),
                 device="cpu", progress: bool = True) -> dict:
    """Train (or load) each row and evaluate it as chapter 05 does (lab test at the canonical bone sum,
    wild test at the true one, held-out 2D-only wild images). ``d``: :func:`posecore.recipes.image_data.load`
    (``cfg`` has its data fields; every split also gets ``pckh_soft``, the PCKh of the soft-argmax 2D
    the discriminator sees, and the lab test ``per_action_p2``, Protocol #2 per action:
    :func:`protocol_2_per_action`). Returns {row: dict(G, D, history, pred, test, wild_test,
    wild_train, train_seconds, eval_seconds, steps (generator steps after the backbone:
    :func:`total_steps`), lambda_adv (the weight applied to our mean losses; 0 without D))}."""
    fn = curve(d, cfg, device) if cfg.curve_every > 0 else None
    out = {}
    for name in variants:
        t0 = time.perf_counter()
        res = train_variant(name, cfg, backbone_cfg, backbone, d["images"]["train"], d["images"]["wild_train"],
                            d["data_id"], device=device, progress=progress, curve_fn=fn)
        t1 = time.perf_counter()
        res.update(train_seconds=t1 - t0, **evaluate_splits(res["G"], d, cfg.eval_batch, device=device,
                                                            soft_beta=cfg.soft_argmax_beta))
        p = res["pred"]["test"]
        if "pred_3d" in res["test"]:
            acts = np.asarray(d["sets"]["test"].action[p["index"]])[p["has_3d"]]
            res["test"]["per_action_p2"] = protocol_2_per_action(res["test"]["pred_3d"], res["test"]["gt_3d"], acts)
        v = VARIANTS[name]
        hg = backbone_cfg.hourglass()
        res.update(steps=total_steps(v, cfg),
                   lambda_adv=lambda_of(v, cfg.lambda_adv, hg.heatmap_resolution, hg.num_joints) if v.adversarial else 0.0)
        res["eval_seconds"] = time.perf_counter() - t1
        out[name] = res
    return out


__all__ = ["Variant", "VARIANTS", "PAPER_ROWS", "lambda_of", "total_steps", "YangConfig", "config", "backbone_config",
           "pose_loss", "discriminator_inputs", "train_supervised", "make_adversarial_step", "train_adversarial",
           "train_variant", "curve", "curve_on_total_steps", "protocol_2_per_action", "run_variants"]
