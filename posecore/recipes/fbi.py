"""FBI (ECCV'18 challenge report), how it trains: the two branches of the multimodal generator, the
refinement regressor with the weighted loss, the rows of the chapter and the per-profile configuration.

- Explicit branch (coarse 3D): chapter 07's generator (:data:`EXPLICIT`) -- fine-tuned with the
  conditional (image-seeing) multi-source discriminator ("Full"), its equal-steps control without a
  discriminator ("Baseline + stage-3 steps (no D)") and the supervised "Baseline" -- trained or loaded
  through :func:`posecore.recipes.yang.train_variant` (so both chapters share one run per seed).
- Implicit branch: :class:`posecore.models.fbi.FBINet`, its hourglass started from the shared 2D
  backbone (a copy: the branches share no weights), trained on lab images with FBI labels from their
  3D ground truth (:func:`train_fbi_branch`); ``wild_labels`` adds FBI labels of the wild training
  images (our extension: simulated annotations from their hidden 3D).
- :func:`train_branches` -- every branch of one pipeline seed (the explicit ones from chapter 07's
  rows at that seed, the FBI branch(es) trained with it).
- :func:`refine_images` / :func:`refiner_indices` -- the refiner's lab training images, drawn outside
  the branches' training pool (where the pool leaves any out).
- :func:`branch_outputs` -- every branch's predictions on a set of images (the refiner's inputs).
- :data:`VARIANTS` / :func:`train_refiner` -- the refinement regressor (Martinez network, 2 residual
  blocks) on the chosen inputs, with the paper's weighted loss (alpha fixed from the mean L0 after an
  L2 warm-up) or plain L2; "Base" is the regressor on the 2D joints alone. :func:`row_steps`: a row's
  training steps per stage (explicit branch, FBI branch, refiner), for equal-steps comparisons.
- :func:`permutation_correlation` -- the correlation of two per-action quantities with a permutation
  test over the action labels (the hard-actions claim).

Networks and the encoding: :mod:`posecore.models.fbi`. Data and image pools: chapter 05's
(:func:`posecore.recipes.image_data.load` with the Yang configuration's data).
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import artefacts, metrics, profiles, train
from ..models.fbi import (DEFAULT_TAU_DEG, FBINet, FBINetConfig, fbi_labels, fbi_loss, one_hot, refiner_input,
                          weighted_regression_loss)
from ..models.lifter import Standardised, from_output, predict as predict_mlp, to_target
from ..models.martinez import MartinezConfig, MartinezNet
from ..data.images import decode_joints
from ..skeleton import bone_lengths
from . import checkpoint_path, yang
from .backbone import BackboneConfig
from .images import CachedImages, MixedBatches, cache_path, eval_indices, optimizer, schedulers, train_stage
from .regression import REGRESSION, train_regressor

# the behaviour versions of the FBI branch and the refinement regressor (posecore.artefacts); the
# refiner's inputs (the branches' outputs) are part of its data digest, and it trains through the
# regression trainer (its upstream)
BRANCH = artefacts.stage("fbi-branch", 1)
REFINER = artefacts.stage("fbi-refiner", 1, (REGRESSION,))


# --- rows ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One refinement regressor. ``parts``: its inputs (:data:`posecore.models.fbi.PARTS`); ``coarse``:
    which explicit branch gives 2D and depth (a key of :data:`EXPLICIT`: 'adversarial' = Yang 'Full',
    'control' = Yang 'Baseline + stage-3 steps (no D)', the same steps without a discriminator,
    'supervised' = Yang 'Baseline'; or 'truth' = ground-truth 2D and depth); ``fbi``: 'predicted' (the
    lab-trained branch), 'wild' (the branch trained with wild labels too), 'truth' (true labels,
    one-hot); ``weighted``:
    the paper's loss (else L2); ``capped``: the weighted loss with the config's cap on L1's exponent
    (False: the formula as written); ``tau``: the FBI threshold of true labels (degrees); ``paper``: a
    row of the paper's Table 1 (else an ablation or ours)."""
    name: str
    parts: tuple = ("2d", "depth", "fbi")
    coarse: str = "adversarial"
    fbi: str = "predicted"
    weighted: bool = True
    capped: bool = True
    tau: float = DEFAULT_TAU_DEG
    paper: bool = False


VARIANTS = {r.name: r for r in (
    Variant("Base", parts=("2d",), weighted=False, paper=True),
    Variant("Final", paper=True),
    Variant("w/o FBI", parts=("2d", "depth")),
    Variant("w/o coarse 3D", parts=("2d", "fbi")),
    # the explicit branch trained as long as Final's, without the discriminator (equal steps)
    Variant("w/o adversarial", coarse="control"),
    Variant("L2 loss", weighted=False),
    Variant("Final, L1 as written (no cap)", capped=False),
    Variant("oracle FBI", fbi="truth"),
    Variant("Final, FBI branch with wild labels", fbi="wild"),
    # oracle inputs (ours): what FBI can add to a lifter that sees the true 2D
    Variant("true 2D", parts=("2d",), coarse="truth", weighted=False),
    Variant("true 2D + true FBI", parts=("2d", "fbi"), coarse="truth", fbi="truth", weighted=False),
    Variant("true 2D + true FBI (tau 5)", parts=("2d", "fbi"), coarse="truth", fbi="truth", weighted=False, tau=5.0),
    Variant("true 2D + true FBI (tau 20)", parts=("2d", "fbi"), coarse="truth", fbi="truth", weighted=False, tau=20.0),
)}


# the explicit branches: Variant.coarse -> chapter 07's row (posecore.recipes.yang.VARIANTS)
EXPLICIT = {"adversarial": "Full", "control": "Baseline + stage-3 steps (no D)", "supervised": "Baseline"}


# --- configuration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FBIConfig:
    """What the chapter trains besides chapter 07's generator. The paper gives no schedule: the FBI
    branch trains like the explicit branch's supervised stage (``fbi_steps`` at batch ``batch_size``,
    the Zhou / Newell RMSprop 2.5e-4 at 'full'); the refiner is a Martinez network with two residual
    blocks (the paper's "two cascaded linear regression blocks used in [11]") trained on ``n_refine``
    lab training images (0: all) whose inputs come from the frozen branches. ``eps`` = 1e-3 (paper);
    alpha = 1 - mean L0 over the training set after ``warmup`` of the steps with L0 alone.
    ``l1_max_exponent``: caps L1's exponent L0 / (1 - alpha) (ours; None = the paper's formula, which
    overflowed on our per-sample losses: a sample 15x the mean L0 weighed e^15 more and the loss reached
    1e7; capped at 5 the largest weight is e^5 ~ 150). ``tau_deg``: the "parallel" threshold of the FBI
    labels (not in the paper)."""
    fbi_steps: int = 200_000
    batch_size: int = 12
    optimizer: str = "rmsprop"
    lr: float = 2.5e-4
    lr_schedule: str = "constant"
    tau_deg: float = DEFAULT_TAU_DEG
    reg_modules: int = 1
    reg_blocks: int = 3
    n_refine: int = 0
    refiner_width: int = 1024
    refiner_steps: int = 200_000
    refiner_batch: int = 64
    refiner_lr: float = 1e-3
    refiner_dropout: float = 0.5
    eps: float = 1e-3
    warmup: float = 0.3
    l1_max_exponent: float | None = 5.0
    eval_batch: int = 32
    seed: int = 0
    data_seed: int = 0

    def __post_init__(self):
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"FBIConfig.optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"FBIConfig.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if not 0.0 < self.warmup < 1.0:
            raise ValueError(f"FBIConfig.warmup must be a fraction in (0, 1), got {self.warmup}")
        if self.batch_size < 2 or self.fbi_steps < 0 or self.refiner_steps < 1 or self.eps < 0:
            raise ValueError("FBIConfig: batch_size >= 2, fbi_steps >= 0, refiner_steps >= 1 and eps >= 0 required")

    @classmethod
    def for_profile(cls, profile: str) -> "FBIConfig":
        return profiles.pick(
            profile,
            smoke=cls(fbi_steps=2, batch_size=4, optimizer="adam", lr=1e-3, lr_schedule="cosine", n_refine=48,
                      refiner_width=32, refiner_steps=20, refiner_batch=16),
            # 2 CPU cores: the FBI branch as long as chapter 07's supervised stage, a 256-wide refiner
            quick=cls(fbi_steps=400, batch_size=16, optimizer="adam", lr=1e-3, lr_schedule="cosine", n_refine=3000,
                      refiner_width=256, refiner_steps=1000, refiner_batch=128, eval_batch=64),
            full=cls(),
        )

    def fbi_net(self, backbone: BackboneConfig) -> FBINetConfig:
        return FBINetConfig(hourglass=backbone.hourglass(), reg_modules=self.reg_modules, reg_blocks=self.reg_blocks)

    def refiner(self, in_features: int) -> MartinezConfig:
        return MartinezConfig(in_features=in_features, width=self.refiner_width, num_blocks=2,
                              dropout=self.refiner_dropout, lr=self.refiner_lr, batch_size=self.refiner_batch,
                              num_steps=self.refiner_steps, decay_steps=max(self.refiner_steps, 1))


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = FBIConfig


def config(profile: str | None = None, **overrides) -> FBIConfig:
    """The one FBI configuration for a profile, with a chapter's explicit overrides (None = keep)."""
    return profiles.override(FBIConfig.for_profile(profiles.resolve(profile)), **overrides)


def row_steps(row: "Variant | str", ycfg, cfg: FBIConfig) -> dict:
    """The training steps behind a row after the shared 2D backbone (which every branch starts from and
    is not counted): ``explicit`` -- the generator steps of the explicit branch that gives the row's 2D
    (and depth), :func:`posecore.recipes.yang.total_steps` of its chapter-07 row under ``ycfg`` (0 for
    true inputs); ``fbi`` -- the FBI branch's ``cfg.fbi_steps`` when the row reads a predicted FBI (0
    without FBI or with true labels); ``refiner`` -- ``cfg.refiner_steps``; and their ``total``."""
    row = VARIANTS[row] if isinstance(row, str) else row
    explicit = 0 if row.coarse == "truth" else yang.total_steps(yang.VARIANTS[EXPLICIT[row.coarse]], ycfg)
    fbi = cfg.fbi_steps if "fbi" in row.parts and row.fbi != "truth" else 0
    out = dict(explicit=int(explicit), fbi=int(fbi), refiner=int(cfg.refiner_steps))
    out["total"] = sum(out.values())
    return out


# --- the implicit branch ---------------------------------------------------------------------------
def batch_fbi_labels(batch: dict, wild_poses_3d=None, tau_deg: float = DEFAULT_TAU_DEG) -> tuple:
    """FBI labels (B, 14) int64 of a :class:`MixedBatches` batch and the rows that have them: lab
    rows from their 3D labels; wild rows from ``wild_poses_3d[index]`` (the hidden 3D that rendered
    them: our simulated annotations) when given. Returns (labels, rows (B,) bool)."""
    has = batch["has_3d"].bool().cpu().numpy()
    wild = batch["is_wild"].cpu().numpy() if "is_wild" in batch else ~has
    p3 = batch["poses_3d"].float().cpu().numpy().copy()
    rows = has.copy()
    if wild_poses_3d is not None and wild.any():
        idx = np.asarray(batch["index"])[wild]
        p3[wild] = wild_poses_3d[idx]
        rows |= wild
    lab = np.full((len(p3), 14), 2, np.int64)
    if rows.any():
        lab[rows] = fbi_labels(p3[rows], tau_deg)
    dev = batch["image"].device
    return torch.as_tensor(lab, device=dev), torch.as_tensor(rows, device=dev)


def train_fbi_branch(cfg: FBIConfig, backbone_cfg: BackboneConfig, backbone, lab, wild=None, *, data_id: str,
                     wild_poses_3d=None, train_pool: int = 0, device="cpu", progress: bool = True) -> tuple:
    """Train (or load) the FBI branch from a copy of the shared ``backbone`` (``(state, id)``): batches
    of lab images (labels from their 3D), plus, with ``wild`` and ``wild_poses_3d``, half wild images
    labelled from their hidden 3D. Cross-entropy over the 14 bones; ``train_pool`` as chapter 05's.
    Returns (FBINet in eval mode, history)."""
    state, backbone_id = backbone
    train.seed_everything(cfg.seed)
    net = FBINet(cfg.fbi_net(backbone_cfg)).to(device)
    net.hourglass.load_state_dict(state)
    use_wild = wild is not None and wild_poses_3d is not None
    sc = dict(model=asdict(cfg.fbi_net(backbone_cfg)), steps=cfg.fbi_steps, batch_size=cfg.batch_size,
              optimizer=cfg.optimizer, lr=cfg.lr, lr_schedule=cfg.lr_schedule, tau=cfg.tau_deg, wild=use_wild,
              train_pool=train_pool, pool_seed=cfg.data_seed, seed=cfg.seed, data=f"{data_id}|backbone:{backbone_id}")
    ckpt = checkpoint_path("fbi-branch", sc, BRANCH)
    opt = optimizer(net.parameters(), cfg.optimizer, cfg.lr)
    batches = MixedBatches(lab, wild if use_wild else None, cfg.batch_size, 0.5, seed=cfg.seed, stage=7,
                           pool=train_pool, device=device, pool_seed=cfg.data_seed)

    def step_fn(batch, step):
        labels, rows = batch_fbi_labels(batch, wild_poses_3d if use_wild else None, cfg.tau_deg)
        out = net(batch["image"])
        loss = fbi_loss(out["fbi_logits"], labels, rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            acc = (out["fbi_logits"].argmax(-1) == labels)[rows].float().mean().item()
        return {"loss": loss.item(), "acc": acc}

    hist = train_stage(step_fn, batches, models={"net": net}, optimizers={"opt": opt},
                       schedulers=schedulers(opt, cfg.lr_schedule, cfg.lr, cfg.fbi_steps), steps=cfg.fbi_steps,
                       checkpoint=ckpt, config=sc, seed=cfg.seed + 7,
                       desc=f"FBI branch{' (+ wild labels)' if use_wild else ''}", progress=progress)
    net.eval()
    return net, hist


def train_branches(seed: int, ycfg, cfg: FBIConfig, backbone_cfg: BackboneConfig, backbone, d: dict, hidden=None, *,
                   explicit=("adversarial", "control"), device="cpu", progress: bool = False) -> dict:
    """Every branch of pipeline seed ``seed``: the explicit branches named in ``explicit`` (keys of
    :data:`EXPLICIT`) -- chapter 07's rows trained (or loaded: chapter 07's runs at that seed) under
    ``dataclasses.replace(ycfg, seed=seed)`` -- and the FBI branch trained with ``FBIConfig.seed = seed``
    on lab labels ('predicted') and, with ``hidden`` (the wild training images' hidden 3D), on wild
    labels too ('wild'), from the explicit branches' training pool (``ycfg.data``: train_pool and
    data_seed). ``d``: :func:`posecore.recipes.image_data.load`. Returns dict(explicit={name: ZhouNet},
    fbi={name: FBINet}, fbi_history={name: history}, seconds={'explicit', 'fbi', 'fbi wild'})."""
    ys = dataclasses.replace(ycfg, seed=seed)
    fs = dataclasses.replace(cfg, seed=seed, data_seed=ycfg.data.data_seed)
    lab, wild = d["images"]["train"], d["images"]["wild_train"]
    t = time.perf_counter()
    nets = {k: yang.train_variant(EXPLICIT[k], ys, backbone_cfg, backbone, lab, wild, d["data_id"], device=device,
                                  progress=progress)["G"] for k in explicit}
    sec = {"explicit": time.perf_counter() - t}
    fbi, hist = {}, {}
    t = time.perf_counter()
    fbi["predicted"], hist["predicted"] = train_fbi_branch(fs, backbone_cfg, backbone, lab, data_id=d["data_id"],
                                                           train_pool=ys.data.train_pool, device=device,
                                                           progress=progress)
    sec["fbi"] = time.perf_counter() - t
    if hidden is not None:
        t = time.perf_counter()
        fbi["wild"], hist["wild"] = train_fbi_branch(fs, backbone_cfg, backbone, lab, wild, data_id=d["data_id"],
                                                     wild_poses_3d=hidden, train_pool=ys.data.train_pool,
                                                     device=device, progress=progress)
        sec["fbi wild"] = time.perf_counter() - t
    return dict(explicit=nets, fbi=fbi, fbi_history=hist, seconds=sec)


# --- the refiner's images and the branches' outputs on a set of images --------------------------------
def refiner_indices(n_train: int, n: int, branch_pool, seed: int = 0) -> tuple:
    """The refiner's lab training images: ``n`` (0: all) of the lab training split's ``n_train`` images
    outside ``branch_pool`` (the images the branches train on: chapter 05's pool,
    :func:`posecore.recipes.images.pool_indices`), a fixed sorted draw of ``seed`` (the data seed, the
    same for every training seed), so the refiner sees the branches' errors on images they did not
    learn. When the pool is the whole split (``train_pool`` 0, e.g. the 'full' profile) no image is
    left out and they are drawn from the whole split (the paper's one training set). Returns (indices,
    disjoint: whether they lie outside the pool)."""
    rest = np.setdiff1d(np.arange(n_train), np.asarray(branch_pool, np.int64))
    disjoint = len(rest) > 0
    cand = rest if disjoint else np.arange(n_train)
    return cand[eval_indices(len(cand), n, seed + 61)], disjoint


def refine_images(d: dict, n: int, seed: int = 0, branch_pool=None) -> tuple:
    """The lab training images the refiner learns from (:func:`refiner_indices`; ``branch_pool``
    default: ``d['pools']['train']``, the explicit and FBI branches' lab pool), rendered once and cached
    beside chapter 05's pools. Returns (images, indices, disjoint)."""
    ds = d["images"]["train"]
    base = getattr(ds, "ds", ds)                               # the ImageDataset under a CachedImages pool
    pool = d["pools"]["train"] if branch_pool is None else branch_pool
    idx, disjoint = refiner_indices(len(d["sets"]["train"]), n, pool, seed)
    path = cache_path("train-refine", data=d["data_id"], split="train", seed=seed, idx=idx.tolist(), use="fbi-refine")
    return CachedImages(base, idx, path=path), idx, disjoint


@torch.no_grad()
def branch_outputs(images, indices, explicit: dict, fbi_nets: dict, batch_size: int = 64, device="cpu",
                   wild_poses_3d=None, taus=(DEFAULT_TAU_DEG,)) -> dict:
    """Every branch on ``images`` at ``indices``: for each explicit net (name -> ZhouNet) the 2D joints
    (crop px) and normalised depths; for each FBI net (name -> FBINet) the FBI probabilities (N, 14, 3);
    and the ground truth: 2D, depth, root-relative 3D (lab: the labels; wild: ``wild_poses_3d`` when
    given), true FBI labels per tau in ``taus``. Returns a dict of numpy arrays."""
    from .images import batch_depth_target
    out = {"explicit": {k: {"joints_2d": [], "depth": []} for k in explicit}, "fbi": {k: [] for k in fbi_nets},
           "gt_2d": [], "gt_depth": [], "gt_3d": [], "index": [], "scene": [], "has_3d": []}
    indices = np.asarray(indices)
    R = None
    for s in range(0, len(indices), batch_size):
        b = images.get_batch(indices[s:s + batch_size])
        b = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()}
        R = b["image"].shape[-1]
        for k, net in explicit.items():
            net.eval()
            o = net(b["image"])
            out["explicit"][k]["joints_2d"].append(decode_joints(o["heatmaps"][-1], R)[0].cpu().numpy())
            out["explicit"][k]["depth"].append(o["depth"].float().cpu().numpy())
        for k, net in fbi_nets.items():
            net.eval()
            out["fbi"][k].append(torch.softmax(net(b["image"])["fbi_logits"].float(), -1).cpu().numpy())
        p3 = b["poses_3d"].float().cpu().numpy().copy()
        has = b["has_3d"].bool().cpu().numpy()
        if wild_poses_3d is not None and (~has).any():
            p3[~has] = wild_poses_3d[np.asarray(b["index"])[~has]]
            p3[~has] -= p3[~has][:, :1]
        b["has_3d"] = torch.ones_like(b["has_3d"]) if wild_poses_3d is not None else b["has_3d"]
        b["poses_3d"] = torch.as_tensor(p3, device=b["image"].device)
        dt = batch_depth_target(b).cpu().numpy()
        out["gt_2d"].append(b["joints_2d"].float().cpu().numpy())
        out["gt_depth"].append(dt)
        out["gt_3d"].append(p3)
        out["has_3d"].append(b["has_3d"].bool().cpu().numpy())
        out["index"].append(np.asarray(b["index"]))
        out["scene"].append(np.asarray(b["scene"]).astype(str))
    cat = lambda v: np.concatenate(v) if v else np.zeros((0,))
    res = {"explicit": {k: {kk: cat(vv) for kk, vv in v.items()} for k, v in out["explicit"].items()},
           "fbi": {k: cat(v) for k, v in out["fbi"].items()}, "resolution": R}
    res.update({k: cat(out[k]) for k in ("gt_2d", "gt_depth", "gt_3d", "index", "scene", "has_3d")})
    ok = res["has_3d"]
    res["fbi_true"] = {float(t): np.where(ok[:, None], fbi_labels(np.nan_to_num(res["gt_3d"]), t), -1) for t in taus}
    return res


def variant_input(row: Variant, outs: dict) -> np.ndarray:
    """The refiner input (N, D) of ``row`` from :func:`branch_outputs` (explicit nets named by
    ``row.coarse``, keys of :data:`EXPLICIT`; FBI nets 'predicted' and 'wild'). 2D is crop-normalised
    (2 u / R - 1) so the coarse 3D pose's three axes share one unit."""
    R = outs["resolution"]
    if row.coarse == "truth":
        j2d, depth = outs["gt_2d"], outs["gt_depth"]
    else:
        e = outs["explicit"][row.coarse]
        j2d, depth = e["joints_2d"], e["depth"]
    fbi = None
    if "fbi" in row.parts:
        fbi = one_hot(outs["fbi_true"][float(row.tau)]) if row.fbi == "truth" else outs["fbi"][row.fbi]
    return refiner_input(row.parts, joints_2d=2.0 * j2d / R - 1.0, depth=depth, fbi=fbi)


# --- the refinement regressor -----------------------------------------------------------------------
def train_refiner(x: np.ndarray, y: np.ndarray, cfg: FBIConfig, *, weighted: bool, capped: bool = True, seed: int = 0,
                  name: str = "fbi-refiner", meta: dict | None = None, progress: bool = True) -> tuple:
    """The refinement regressor on (N, D) inputs -> (N, 48) root-relative 3D mm (:func:`to_target`):
    a standardised Martinez network with two residual blocks trained by
    :func:`posecore.recipes.regression.train_regressor` (Adam, exponential decay, max-norm) with this
    paper's loss as its ``loss_fn``. Per-sample L0 = mean squared error over the
    standardised coordinates. ``weighted``: the first ``cfg.warmup`` of the steps minimise L0 alone;
    then alpha = 1 - (mean L0 over the whole training set, eval mode) is fixed (a buffer saved in the
    checkpoint) and the loss is :func:`weighted_regression_loss` (eps = ``cfg.eps``, L1's exponent
    capped at ``cfg.l1_max_exponent`` unless ``capped`` is False); else L0 throughout.
    Returns (model, history, alpha or None)."""
    assert x.ndim == 2 and y.ndim == 2 and len(x) == len(y), f"train_refiner: x {x.shape}, y {y.shape}"
    mcfg = cfg.refiner(x.shape[1])
    train.seed_everything(seed)
    model = Standardised(MartinezNet(mcfg), x.shape[1], y.shape[1])
    model.register_buffer("alpha", torch.tensor(float("nan")))
    cap = cfg.l1_max_exponent if weighted and capped else None
    conf = dict(meta or {}, model=asdict(mcfg), weighted=weighted, eps=cfg.eps if weighted else 0.0,
                warmup=cfg.warmup if weighted else 0.0, max_exponent=cap, seed=seed,
                data=artefacts.array_digest(x, y))
    X, Y = torch.as_tensor(x), torch.as_tensor(y)
    warm = int(round(cfg.warmup * mcfg.num_steps)) if weighted else mcfg.num_steps

    def loss_fn(step, xb, yb):
        if weighted and step > warm and not torch.isfinite(model.alpha):
            with torch.no_grad():
                model.eval()
                l0_all = ((model(X, normalised_output=True) - model.normalise_y(Y)) ** 2).mean(1)
                model.alpha.fill_(1.0 - float(l0_all.mean()))
                model.train()
        l0 = ((model(xb, normalised_output=True) - model.normalise_y(yb)) ** 2).mean(1)     # (B,) per sample
        loss = weighted_regression_loss(l0, float(model.alpha), cfg.eps, cap) if step > warm else l0.mean()
        return loss, {"loss": loss.detach(), "l0": l0.detach().mean()}
    hist = train_regressor(model, x, y, mcfg, seed=seed, name=name, progress=progress, stage=REFINER,
                           loss_fn=loss_fn, key_config=conf)
    alpha = float(model.alpha)
    return model, hist, (alpha if np.isfinite(alpha) else None)


def evaluate_refined(pred_3d, gt_3d, actions=None, scale: str = "none") -> dict:
    """3D metrics of refined poses (N, 17, 3) root-relative mm: ``errors`` (N,), ``mpjpe``, ``p_mpjpe``,
    ``pck`` / ``auc`` (3DHP, 14 joints), ``per_action`` (with 'Average') when ``actions`` is given.
    ``scale='true'``: each prediction rescaled to its ground truth's bone-length sum first (the wild
    test's known global scale, as chapters 05 and 07). A prediction with NaN or inf (a diverged
    regressor) gives NaN metrics and ``diverged`` True."""
    p, g = np.asarray(pred_3d, np.float64), np.asarray(gt_3d, np.float64)
    if not np.isfinite(p).all():
        nan = float("nan")
        out = dict(pred_3d=p, errors=np.full(len(p), nan), mpjpe=nan, p_mpjpe=nan, pck=nan, auc=nan, diverged=True)
        if actions is not None:
            out["per_action"] = {a: nan for a in list(dict.fromkeys(np.asarray(actions).tolist())) + ["Average"]}
        return out
    if scale == "true":
        p = p * (bone_lengths(g).sum(-1) / np.maximum(bone_lengths(p).sum(-1), 1e-9))[:, None, None]
    elif scale != "none":
        raise ValueError(f"evaluate_refined: scale must be 'none' or 'true', got {scale!r}")
    e = np.asarray(metrics.mpjpe(p, g, reduction="none"))
    out = dict(pred_3d=p, errors=e, mpjpe=float(e.mean()), diverged=False,
               p_mpjpe=float(np.mean(metrics.p_mpjpe(p, g, reduction="none"))), pck=float(metrics.pck3d(p, g)),
               auc=float(metrics.auc3d(p, g)))
    if actions is not None:
        out["per_action"] = metrics.per_action(e, np.asarray(actions))
    return out


def run_variants(cfg: FBIConfig, train_outs: dict, eval_outs: dict, variants=tuple(VARIANTS), seeds=(0,),
                 actions=None, progress: bool = False) -> dict:
    """Train (or load) the refiner of every row in ``variants`` for each seed on ``train_outs`` (:func:`branch_outputs` on
    the refiner's lab images; the chapter calls it once per pipeline seed, with that seed's branches) and evaluate it on each split of ``eval_outs`` ({split: branch_outputs};
    'test' per action with ``actions``, wild splits at the true scale). Returns {row: {seed: dict(
    model, alpha, history, train_seconds, <split>: metrics)}}."""
    y = to_target(train_outs["gt_3d"])
    res = {}
    for name in variants:
        row = VARIANTS[name]
        x = variant_input(row, train_outs)
        res[name] = {}
        for s in seeds:
            t0 = time.perf_counter()
            model, hist, alpha = train_refiner(x, y, cfg, weighted=row.weighted, capped=row.capped, seed=s,
                                               progress=progress, meta=dict(row=asdict(row)))
            r = dict(model=model, alpha=alpha, history=hist, train_seconds=time.perf_counter() - t0)
            for split, o in eval_outs.items():
                p = from_output(predict_mlp(model, variant_input(row, o)))
                r[split] = evaluate_refined(p, o["gt_3d"], actions=actions if split == "test" else None,
                                            scale="none" if split == "test" else "true")
            res[name][s] = r
    return res


def permutation_correlation(x, y, *, n_perm: int = 20_000, seed: int = 0) -> dict:
    """Pearson's r of paired per-group values (e.g. per action: a difficulty from one run and a gain
    from others) and its one-sided permutation p-value: the share of re-pairings of ``y`` with ``x``
    (shuffled group labels) whose r is at least the observed one -- every permutation with at most 8
    groups, else ``n_perm`` random ones (p = (1 + hits) / (1 + n_perm)). NaN r and p with fewer than 3
    groups, a non-finite value or a constant side. Returns dict(r, p, n, permutations, exact)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"permutation_correlation: {len(x)} vs {len(y)} values")
    n = len(x)
    nan = dict(r=float("nan"), p=float("nan"), n=n, permutations=0, exact=False)
    if n < 3 or not (np.isfinite(x).all() and np.isfinite(y).all()) or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan
    xs, ys = x - x.mean(), y - y.mean()
    xs, ys = xs / np.linalg.norm(xs), ys / np.linalg.norm(ys)
    r = float(xs @ ys)
    exact = n <= 8
    if exact:
        perms = np.asarray(list(itertools.permutations(range(n))))
    else:
        g = np.random.default_rng([seed, 8191])
        perms = np.argsort(g.random((n_perm, n)), axis=1)
    hits = int(np.sum(ys[perms] @ xs >= r - 1e-12))
    p = hits / len(perms) if exact else (1 + hits) / (1 + n_perm)
    return dict(r=r, p=float(p), n=n, permutations=int(len(perms)), exact=exact)


__all__ = ["Variant", "VARIANTS", "EXPLICIT", "FBIConfig", "config", "row_steps", "batch_fbi_labels",
           "train_fbi_branch", "train_branches", "refiner_indices", "refine_images", "branch_outputs", "variant_input",
           "train_refiner", "evaluate_refined", "run_variants", "permutation_correlation"]
