"""Wang et al. 2019, the image half: an image network trained on lab images with their 3D labels and on
in-the-wild images with 3D labels *generated* by the lifting half (chapters 03-04), with "the first
two stages" of Zhou et al. (the shared 2D backbone, then heatmap + depth L2) -- no geometric loss, no
adversarial term; "each training batch contains both the Human3.6M and in-the-wild images in the
ratio of 1:1" (Secs. 3.5-3.6, 4.2, 4.4). Plus the action-classification probe of Fig. 6.

- :data:`VARIANTS` -- which 3D labels the wild images carry: the generator's (with / without geometric
  search; with each image's true camera intrinsics or with an assumed nominal camera, as the paper's
  2D datasets have no intrinsics) or, possible only on synthetic data, the hidden true 3D (the ceiling
  of any generator).
- :class:`WangImageConfig` / :func:`config` -- the per-profile settings (steps = Zhou's stages 2 + 3,
  so the Wang and Zhou rows see the same compute; the probe's window, width, steps and seeds).
- :func:`wild_labels` -- the label generator (:func:`posecore.recipes.wang.generate_labels`) on the
  wild training split's 2D labels; :func:`label_quality` measures labels against a hidden truth.
- :class:`Relabelled` -- an image set whose 3D labels are replaced (the wild images then count as
  3D-labelled in :class:`~posecore.recipes.images.MixedBatches`, whose depth targets follow).
- :func:`train_variant` -- Zhou's stage 2 on 1:1 lab / relabelled-wild batches from the shared backbone
  (:func:`posecore.recipes.zhou.train_variant`, checkpointed and resumable); :func:`evaluate_model`
  -- lab test, wild test and wild training images as chapter 05 measures them.
- :func:`predict_sequences` / :func:`probe_features` / :func:`train_probe` / :func:`run_probe` -- the
  probe: whole clips through every model (each image rendered once), body-frame windows of 25
  frames, an MLP per seed, mean per-class accuracy on held-out windows (lab: later in time than every
  training window, :func:`posecore.models.probe.split_in_time`; wild: held-out clips).
- :func:`depth_tracking` -- Fig. 7 as numbers: do the predicted root-relative depths follow the true
  ones over time (correlation, error of the frame-to-frame change)?
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .. import metrics, profiles, train
from ..data.images import decode_joints
from ..evaluate import evaluate_images
from ..models.probe import ProbeConfig, ProbeMLP, body_frame
from ..models.zhou import canonical_bone_sum, pose_3d
from . import wang as wang_recipe
from . import zhou as zhou_recipe
from .images import evaluate_splits, predict


# --- rows ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """A Wang-style image network: the wild images' 3D labels are ``labels`` ('generated': the label
    generator with geometric search, the paper; 'generated_no_gs': the reconstruction alone; 'true':
    the hidden ground truth, an oracle only synthetic data allows; 'generated_assumed_f': the generator
    with geometric search on a nominal camera of focal :data:`NOMINAL_FOCAL` px for every image instead
    of its true intrinsics -- all that a 2D dataset without intrinsics allows)."""
    name: str
    labels: str
    paper: bool = False


VARIANTS = {r.name: r for r in (
    Variant("Wang", "generated", paper=True),
    Variant("Wang w/o geometric search", "generated_no_gs"),
    Variant("Wang (assumed focal)", "generated_assumed_f"),
    Variant("oracle: true wild 3D", "true"),
)}
LABELS = ("generated", "generated_no_gs", "generated_assumed_f", "true")


# --- configuration ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WangImageConfig:
    """``steps``: the stage-2 steps of a Wang row (None: Zhou's stage 2 + stage 3 of the profile, the
    compute of the Zhou row it is compared with). ``n_train_eval``: wild *training* images (from the
    training pool) on which the network is compared with its labels and with the truth. The probe:
    ``window`` frames (the paper: 25), windows started every ``stride`` frames, an MLP of ``probe_width``
    trained ``probe_steps`` steps of batch ``probe_batch`` (Adam ``probe_lr``, weight decay
    ``probe_wd``), ``probe_seeds`` seeds per network; ``probe_cameras``: the lab-test cameras whose clips
    are predicted (0: all); ``probe_max_frames``: the first frames of each wild clip that are predicted
    (0: all); ``probe_wild_passes``: how many of the wild training split's passes through each motion
    (two, each with new random cameras: :func:`clip_passes`) are predicted, as separate clips (0: all);
    ``probe_lab_frames``: the first frames of each lab clip that are predicted (0: whole clips). The lab probe splits
    each lab motion in time (:func:`posecore.models.probe.split_in_time`): windows wholly in the first
    ``probe_train_fraction`` of the motion's frames (the ``probe_gap``-frame gap taken out first) train,
    windows wholly after the gap test; only lab clips of at least :attr:`min_lab_clip` frames give both
    and are predicted. ``eval_batch``: images per forward pass when predicting whole clips.
    ``depth_min_std``: Fig. 7's correlation counts a (window, joint) only where the true depth moves
    (its standard deviation over the window >= this, mm)."""
    steps: int | None = None
    n_train_eval: int = 300
    window: int = 25
    stride: int = 5
    probe_width: int = 256
    probe_steps: int = 3000
    probe_batch: int = 64
    probe_lr: float = 1e-3
    probe_wd: float = 1e-4
    probe_seeds: int = 5
    probe_cameras: int = 0
    probe_max_frames: int = 0
    probe_lab_frames: int = 0
    probe_wild_passes: int = 0
    probe_gap: int = 10
    probe_train_fraction: float = 0.5
    eval_batch: int = 64
    depth_min_std: float = 10.0

    def __post_init__(self):
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"WangImageConfig.steps must be >= 0 or None, got {self.steps}")
        if self.window < 2 or self.stride < 1 or self.probe_seeds < 1 or self.probe_gap < 0:
            raise ValueError(f"WangImageConfig: window >= 2, stride >= 1, probe_seeds >= 1, probe_gap >= 0 required, "
                             f"got {self.window}, {self.stride}, {self.probe_seeds}, {self.probe_gap}")
        if not 0.0 < self.probe_train_fraction < 1.0:
            raise ValueError(f"WangImageConfig: 0 < probe_train_fraction < 1 required, got {self.probe_train_fraction}")

    @classmethod
    def for_profile(cls, profile: str) -> "WangImageConfig":
        return profiles.pick(
            profile,
            # CI: proves the code path only
            smoke=cls(n_train_eval=8, window=5, stride=5, probe_width=16, probe_steps=5, probe_seeds=2,
                      probe_cameras=1, probe_max_frames=10, probe_wild_passes=1, probe_lab_frames=12, probe_gap=2,
                      eval_batch=64),
            # 2 CPU cores: Zhou's quick stages 2 + 3 (600 steps) per row; the probe on two lab cameras (whole
            # lab clips: the 5 of >= 60 frames, 4 actions), the first 60 frames of each wild clip (one of the two
            # camera passes of the wild training split)
            quick=cls(n_train_eval=300, stride=2, probe_steps=200, probe_seeds=5, probe_cameras=2, probe_max_frames=60,
                      probe_wild_passes=1),
            # the paper's 25-frame windows; all of Zhou's stage 2 + 3 steps
            full=cls(n_train_eval=2000),
        )

    def row_steps(self, zcfg: "zhou_recipe.RunConfig") -> int:
        return self.steps if self.steps is not None else zcfg.stage2_steps + zcfg.stage3_steps

    @property
    def min_lab_clip(self) -> int:
        """The fewest frames a lab motion needs for one training and one test window of the probe
        (:func:`posecore.models.probe.split_in_time` with ``probe_gap`` and ``probe_train_fraction``)."""
        n = 2 * self.window + self.probe_gap
        while True:
            k = int(np.floor(self.probe_train_fraction * (n - self.probe_gap)))
            if k >= self.window and n - self.probe_gap - k >= self.window:
                return n
            n += 1


# every recipe module names its configuration Config (and makes it with config(profile, **overrides))
Config = WangImageConfig


def config(profile: str | None = None, **overrides) -> WangImageConfig:
    """The one configuration of the Wang image runs for a profile, with a chapter's explicit overrides."""
    return profiles.override(WangImageConfig.for_profile(profiles.resolve(profile)), **overrides)


# --- labels ----------------------------------------------------------------------------------------
# the focal length (px) of the nominal camera put on 2D-only photos without intrinsics (MPII): ~ a 55
# degree horizontal field of view of a 1280 px wide photo
NOMINAL_FOCAL = 1200.0


def intrinsics_known(ps) -> np.ndarray:
    """(N,) bool: does each sample of the PoseSet ``ps`` carry camera intrinsics (MPII's placeholder
    [1, 1, 0, 0] means unknown)?"""
    K = np.asarray(ps.intrinsics, np.float64)
    return ~((K[:, 0] <= 1.0) & (K[:, 1] <= 1.0))


def label_camera(ps, focal: float | None = None) -> np.ndarray:
    """(N, 4) intrinsics the label generator uses for the PoseSet ``ps``: its own, or where they are
    unknown (MPII's placeholder [1, 1, 0, 0]) a nominal camera -- focal :data:`NOMINAL_FOCAL` px,
    principal point at the centre of the sample's annotated joints (the person on the optical axis, as
    the paper's crops centre each person). ``focal``: the nominal camera with this focal on *every*
    sample, known intrinsics or not (the 'assumed focal' labels: what a 2D dataset without intrinsics,
    the paper's LSP / MPII / AI Challenger, allows)."""
    K = np.asarray(ps.intrinsics, np.float64).copy()
    unknown = ~intrinsics_known(ps) if focal is None else np.ones(len(K), bool)
    f = NOMINAL_FOCAL if focal is None else float(focal)
    if not f > 0:
        raise ValueError(f"label_camera: focal must be > 0 px, got {focal}")
    if unknown.any():
        p, vis = np.asarray(ps.poses_2d, np.float64)[unknown], np.asarray(ps.visible, bool)[unknown]
        n = np.maximum(vis.sum(1, keepdims=True), 1)
        K[unknown] = np.concatenate([np.full((len(p), 2), f), (p * vis[..., None]).sum(1) / n], 1)
    return K


def wild_labels(lifter, wild_train, hidden_3d=None, assumed_focal: float | None = None) -> dict:
    """The 3D labels of the wild training split for every row: {labels kind: (poses (N, 17, 3)
    root-relative mm, valid (N,) bool)}. 'generated': the generator with geometric search (the
    paper's labels; a sample whose root depth cannot be found is invalid and stays 2D-only);
    'generated_no_gs': the reconstruction alone; 'generated_assumed_f' (when ``assumed_focal`` is
    given): the generator with geometric search on the nominal camera of that focal for every sample
    (:func:`label_camera`); 'true': ``hidden_3d`` (N, 17, 3) when given. Samples with an unannotated
    joint (MPII) are invalid in all generated sets; unknown intrinsics: :func:`label_camera`."""
    poses_2d, K = wild_train.poses_2d, label_camera(wild_train)
    complete = np.asarray(wild_train.visible, bool).all(1)

    def generated(K):
        labels, valid, _, rel = wang_recipe.generate_labels(lifter, poses_2d, K)
        gen = np.zeros_like(rel, dtype=np.float32)
        gen[valid] = labels - labels[:, :1]
        return gen, valid, rel

    gen, valid, rel = generated(K)
    out = {"generated": (gen, valid & complete),
           "generated_no_gs": ((rel - rel[:, :1]).astype(np.float32), complete.copy())}
    if assumed_focal is not None:
        gen_f, valid_f, _ = generated(label_camera(wild_train, focal=assumed_focal))
        out["generated_assumed_f"] = (gen_f, valid_f & complete)
    if hidden_3d is not None:
        h = np.asarray(hidden_3d, np.float32)
        if h.shape != rel.shape:
            raise ValueError(f"wild_labels: hidden_3d must be {rel.shape}, got {h.shape}")
        out["true"] = (h - h[:, :1], np.ones(len(h), bool))
    return out


def labels_id(poses: np.ndarray, valid: np.ndarray) -> str:
    """A short digest of a label set (part of the checkpoint name of the network trained on it)."""
    h = hashlib.sha256(np.ascontiguousarray(poses, np.float32).tobytes())
    h.update(np.ascontiguousarray(valid, bool).tobytes())
    return h.hexdigest()[:16]


def label_quality(poses, valid, truth) -> dict:
    """Labels (N, 17, 3) root-relative mm vs the truth on the valid samples: ``mpjpe``, ``p_mpjpe``,
    ``pck`` (@150 mm, 14 joints), ``valid`` (count), ``invalid`` (count)."""
    p, t = np.asarray(poses)[valid], np.asarray(truth)[valid]
    return dict(mpjpe=float(metrics.mpjpe(p, t)), p_mpjpe=float(metrics.p_mpjpe(p, t)),
                pck=float(metrics.pck3d(p, t)), valid=int(valid.sum()), invalid=int((~valid).sum()))


class Relabelled:
    """``ds`` (an ImageDataset or CachedImages) with its 3D labels replaced: ``get_batch`` returns
    ``poses_3d`` (root-relative mm), ``depth`` (its z) and ``has_3d`` from ``poses`` (N, 17, 3) and
    ``valid`` (N,) at the batch's indices; images and 2D labels unchanged. The wild images then train
    the depth regressor like lab images (:func:`posecore.recipes.images.batch_depth_target` scales
    each sample's depth by its 2D / 3D bone-length ratio, so generated depths match the 2D labels)."""

    def __init__(self, ds, poses, valid):
        poses, valid = np.asarray(poses, np.float32), np.asarray(valid, bool)
        if poses.shape != (len(ds), 17, 3) or valid.shape != (len(ds),):
            raise ValueError(f"Relabelled: labels must be ({len(ds)}, 17, 3) and ({len(ds)},), got "
                             f"{poses.shape}, {valid.shape}")
        self.ds = ds
        self.poses = np.where(valid[:, None, None], poses - poses[:, :1], 0.0).astype(np.float32)
        self.valid = valid

    def __len__(self) -> int:
        return len(self.ds)

    def get_batch(self, indices) -> dict:
        b = self.ds.get_batch(indices)
        idx = np.asarray(indices).reshape(-1)
        dev = b["image"].device
        p = torch.as_tensor(self.poses[idx], device=dev)                 # (B, 17, 3) root-relative mm
        b["poses_3d"] = p.to(b["poses_3d"].dtype) if isinstance(b.get("poses_3d"), torch.Tensor) else p
        b["depth"] = p[..., 2]
        has = torch.as_tensor(self.valid[idx], device=dev)
        b["has_3d"] = has.to(b["has_3d"].dtype) if isinstance(b.get("has_3d"), torch.Tensor) else has
        return b


# --- training and evaluation -----------------------------------------------------------------------
def train_variant(row: Variant | str, zcfg, backbone_cfg, backbone, d: dict, labels: dict, *, seed: int = 0,
              steps: int = 600, device="cpu", progress: bool = True):
    """Train (or load) one row: Zhou's network from the shared ``backbone`` (``(state_dict, id)``),
    stage 2 only (heatmap L2 + ``lambda_reg`` x depth L2) for ``steps`` steps on 1:1 batches of lab
    images (their 3D) and wild training images carrying ``labels[row.labels]``; Zhou's optimiser and
    schedule of the profile (``zcfg``: :class:`posecore.recipes.zhou.RunConfig`). ``d``:
    :func:`posecore.recipes.image_data.load`. Returns (model in eval mode, history)."""
    row = VARIANTS[row] if isinstance(row, str) else row
    poses, valid = labels[row.labels]
    wild = Relabelled(d["images"]["wild_train"], poses, valid)
    tc = replace(zcfg.train_config(backbone_cfg), stage2_steps=steps, seed=seed)
    variant = zhou_recipe.Variant(f"wang-image:{row.labels}", use_wild=True, geo=False)
    data_id = f"{d['data_id']}|wild-3d:{row.labels}:{labels_id(poses, valid)}"
    model, hist = zhou_recipe.train_variant(variant, tc, d["images"]["train"], wild, d["canonical"], name="wang-image",
                                            data_id=data_id, device=device, progress=progress, stages=(2,),
                                            backbone=backbone)
    return model, hist[2]


def evaluate_model(model, d: dict, zcfg, device="cpu") -> dict:
    """Chapter 05's measurements of an image network: lab test (3D at the canonical bone sum, per
    action), wild test (at each subject's true bone sum: the known global scale of the 3DHP protocol)
    and held-out wild training images (2D only): :func:`posecore.recipes.images.evaluate_splits`.
    Returns {split: evaluate_images(...)} + 'pred'."""
    return evaluate_splits(model, d, zcfg.eval_batch, device=device)


def training_images_check(model, d: dict, labels: dict, indices, batch_size: int = 64, device="cpu") -> dict:
    """Does the network copy its labels or recover the truth? On wild *training* images ``indices``
    (from its training pool) the network's 3D (at each target's own bone sum) against every label set
    in ``labels`` ({kind: (poses, valid)}, e.g. the generated labels and the hidden truth): {kind: MPJPE
    mm over the valid samples}."""
    p = predict(model, d["images"]["wild_train"], indices, batch_size, device=device)   # one pass for every label set
    bone_sum = canonical_bone_sum(d["canonical"])
    out = {}
    for kind, (poses, valid) in labels.items():
        rel = np.asarray(poses, np.float32)[p["index"]]
        q = dict(p, gt_3d=rel - rel[:, :1], has_3d=np.asarray(valid, bool)[p["index"]])
        out[kind] = evaluate_images(q, bone_sum, scale="true")["mpjpe"]
    return out


# --- the action probe ------------------------------------------------------------------------------
@torch.no_grad()
def predict_sequences(models: dict, ds, indices, canonical_sum: float, batch_size: int = 64, device="cpu") -> dict:
    """Every model of ``models`` ({name: ZhouNet-like}) over the images ``indices`` of the ImageDataset
    ``ds``, each image rendered once: {name: pose_3d (N, 17, 3) root-relative mm at the canonical bone
    sum}, plus '2d:<name>' (N, 17, 2) crop px for each model. Eval mode; progress-free."""
    indices = np.asarray(indices)
    out = {k: [] for k in models} | {f"2d:{k}": [] for k in models}
    for m in models.values():
        m.eval()
    for s in range(0, len(indices), batch_size):
        b = ds.get_batch(indices[s:s + batch_size])
        x = b["image"].to(device)
        R = x.shape[-1]
        for k, m in models.items():
            o = m(x)
            j2d = decode_joints(o["heatmaps"][-1], R)[0].cpu().numpy()             # (B, 17, 2) crop px
            out[k].append(pose_3d(j2d, o["depth"].float().cpu().numpy(), R, canonical_sum))
            out[f"2d:{k}"].append(j2d)
    return {k: np.concatenate(v).astype(np.float32) for k, v in out.items()}


def clip_indices(groups, frames, candidates=None, max_per_clip: int = 0, min_len: int = 0) -> np.ndarray:
    """The samples of every clip (same ``groups`` label) among ``candidates`` (default all), the first
    ``max_per_clip`` of each in frame order (0: all), sorted; a clip left with fewer than ``min_len``
    samples is dropped."""
    groups, frames = np.asarray(groups), np.asarray(frames)
    cand = np.arange(len(groups)) if candidates is None else np.asarray(candidates)
    if max_per_clip <= 0 and min_len <= 0:
        return np.sort(cand)
    keep = []
    for g in dict.fromkeys(groups[cand].tolist()):
        idx = cand[groups[cand] == g]
        idx = idx[np.argsort(frames[idx], kind="stable")]
        idx = idx[:max_per_clip] if max_per_clip > 0 else idx
        if len(idx) >= min_len:
            keep.append(idx)
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def clip_passes(groups, frames) -> np.ndarray:
    """(N,) int: which pass through its clip each sample belongs to, for data that store one clip's
    frames several times over in sequence (posecore-synth's wild training split renders every motion
    twice, each time through new random cameras, under one subject / sequence): in storage order, a
    group's pass count goes up wherever its frame number does not increase. Without it, windows over
    such a clip would interleave the passes (frames 0, 0, 1, 1, ...)."""
    groups, frames = np.asarray(groups), np.asarray(frames)
    if groups.shape != frames.shape or groups.ndim != 1:
        raise ValueError(f"clip_passes: groups and frames must be matching (N,) arrays, got {groups.shape}, {frames.shape}")
    out = np.zeros(len(groups), np.int64)
    for g in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == g)
        out[idx] = np.r_[0, np.cumsum(np.diff(frames[idx]) <= 0)]
    return out


def pose_2d_features(poses_2d) -> np.ndarray:
    """(N, 17, 2) -> (N, 17, 2) 2D poses with the pelvis at 0, divided by each pose's mean bone length
    (the 2D-only probe input: no depth, no camera normalisation)."""
    from ..skeleton import PARENTS
    p = np.asarray(poses_2d, np.float64)
    p = p - p[:, :1]
    par = np.asarray(PARENTS)
    child = np.flatnonzero(par >= 0)
    s = np.linalg.norm(p[:, child] - p[:, par[child]], axis=-1).mean(-1)      # (N,)
    return (p / np.maximum(s, 1e-6)[:, None, None]).astype(np.float32)


def probe_features(poses, win: np.ndarray) -> np.ndarray:
    """Windows ``win`` (W, T) of per-frame poses: 3D (N, 17, 3) mm are put into each frame's body
    frame (:func:`posecore.models.probe.body_frame`), 2D features (N, 17, 2) are used as they are.
    Returns (W, T * 17 * C) float32."""
    p = np.asarray(poses)
    if p.shape[-1] == 3:
        p = body_frame(p, on_degenerate="camera")
    return p[win].reshape(len(win), -1).astype(np.float32)                    # (W, T, 17, C) -> (W, T*17*C)


def train_probe(x_train, y_train, x_test, y_test, n_classes: int, cfg: WangImageConfig, seed: int = 0) -> dict:
    """One probe: standardise with the training windows' statistics (near-constant features zeroed), train the MLP (Adam, cross-entropy,
    ``cfg.probe_steps`` steps of ``cfg.probe_batch``, batches drawn by a seeded RNG), then classify the
    test windows. Returns dict(accuracy = mean per-class accuracy % over the classes present in the
    test set, overall %, confusion (n_classes, n_classes) counts)."""
    assert x_train.ndim == 2 and len(x_train) == len(y_train) and x_test.shape[1] == x_train.shape[1], \
        f"train_probe: x_train {x_train.shape}, y_train {np.shape(y_train)}, x_test {x_test.shape}"
    if len(x_train) == 0 or len(x_test) == 0:
        raise ValueError(f"train_probe: no windows (train {len(x_train)}, test {len(x_test)}); clips shorter "
                         f"than the window?")
    mu, sd = x_train.mean(0), x_train.std(0)
    # features constant in the body frame (the pelvis, the hips' off-axis coordinates) carry only
    # rounding noise: zero them instead of blowing that noise up to unit variance
    sd = np.where(sd > 1e-3 * sd.max(), sd, np.inf)
    Xtr = torch.as_tensor((x_train - mu) / sd, dtype=torch.float32)
    Xte = torch.as_tensor((x_test - mu) / sd, dtype=torch.float32)
    ytr = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    train.seed_everything(seed)
    net = ProbeMLP(ProbeConfig(n_in=x_train.shape[1], n_classes=n_classes, width=cfg.probe_width))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.probe_lr, weight_decay=cfg.probe_wd, fused=True)
    rng = np.random.default_rng([seed, 66])
    net.train()
    for _ in range(cfg.probe_steps):
        i = torch.as_tensor(rng.integers(0, len(Xtr), cfg.probe_batch))
        loss = F.cross_entropy(net(Xtr[i]), ytr[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(Xte).argmax(-1).numpy()
    y_test = np.asarray(y_test)
    conf = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(conf, (y_test, pred), 1)
    present = conf.sum(1) > 0
    per_class = np.diag(conf)[present] / conf.sum(1)[present]
    return dict(accuracy=float(per_class.mean() * 100), overall=float((pred == y_test).mean() * 100), confusion=conf)


def run_probe(features: dict, win_train, y_train, win_test, y_test, n_classes: int, cfg: WangImageConfig) -> dict:
    """The probe for every input of ``features`` ({name: (per-frame train poses, per-frame test poses)}):
    ``cfg.probe_seeds`` seeds each. Returns {name: dict(accuracy=[% per seed], overall=[...])}."""
    out = {}
    for name, (p_train, p_test) in features.items():
        xtr, xte = probe_features(p_train, win_train), probe_features(p_test, win_test)
        runs = [train_probe(xtr, y_train, xte, y_test, n_classes, cfg, seed=s) for s in range(cfg.probe_seeds)]
        out[name] = dict(accuracy=[r["accuracy"] for r in runs], overall=[r["overall"] for r in runs],
                         confusion=runs[0]["confusion"])
    return out


def clip_depth_spread(poses, win: np.ndarray) -> float:
    """Fig. 7 as a number: the mean over windows and joints of the standard deviation over a window's
    frames of each joint's root-relative depth (camera z, mm). Flat depths (the same depth level in
    every frame) give ~0."""
    z = np.asarray(poses)[..., 2]                                              # (N, 17)
    z = z - z[:, :1]
    return float(z[win].std(1)[:, 1:].mean())                                   # (W, T, 17) -> std over T


def depth_tracking(poses, truth, win: np.ndarray, min_std: float = 10.0) -> dict:
    """Fig. 7 as numbers that flat depths *and* frame-to-frame jitter lose: each joint's root-relative
    depth (camera z, mm; fixed cameras) over a window's frames, predicted (``poses`` (N, 17, 3)) against
    true (``truth``). ``corr``: the mean over (window, joint) of the Pearson correlation of the two
    depth trajectories, over the pairs whose true depth moves (standard deviation >= ``min_std`` mm;
    a prediction that does not move at all counts 0); ``dz_error``: the mean absolute error of the
    frame-to-frame depth change (mm per frame, every window and non-root joint); ``spread``:
    :func:`clip_depth_spread` of the prediction; ``pairs``: how many (window, joint) pairs ``corr``
    averages. Invariant to a constant depth offset and (``corr``) to a depth scale."""
    p, t = np.asarray(poses, np.float64), np.asarray(truth, np.float64)
    if p.shape != t.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"depth_tracking: poses {p.shape} and truth {t.shape} differ or are not (N, 17, 3)")
    p, t = p[..., 2], t[..., 2]
    win = np.asarray(win)
    if win.ndim != 2 or win.shape[1] < 2:
        raise ValueError(f"depth_tracking: windows must be (W, T >= 2), got {win.shape}")
    zp = (p - p[:, :1])[win][..., 1:]                                          # (W, T, 16)
    zt = (t - t[:, :1])[win][..., 1:]
    dp, dt = zp - zp.mean(1, keepdims=True), zt - zt.mean(1, keepdims=True)
    sp, st = np.sqrt((dp ** 2).mean(1)), np.sqrt((dt ** 2).mean(1))            # (W, 16)
    moving = st >= min_std
    r = np.where(sp > 1e-9, (dp * dt).mean(1) / np.maximum(sp * st, 1e-12), 0.0)
    corr = float(r[moving].mean()) if moving.any() else float("nan")
    dz = float(np.abs(np.diff(zp, axis=1) - np.diff(zt, axis=1)).mean())
    return dict(corr=corr, dz_error=dz, spread=clip_depth_spread(poses, win), pairs=int(moving.sum()))


__all__ = ["Variant", "VARIANTS", "LABELS", "NOMINAL_FOCAL", "label_camera", "WangImageConfig", "config", "wild_labels", "labels_id", "label_quality",
           "Relabelled", "train_variant", "evaluate_model", "training_images_check", "predict_sequences", "clip_indices",
           "clip_passes", "pose_2d_features", "probe_features", "train_probe", "run_probe", "clip_depth_spread", "depth_tracking",
           "intrinsics_known"]
