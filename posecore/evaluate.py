"""Evaluation, tables and verdicts shared by every chapter.

- :func:`evaluate_3d` -- any 3D prediction against a :class:`~posecore.data.PoseSet`: MPJPE
  (root-aligned) and P-MPJPE, per sample and per action (the Human3.6M headline is the mean over
  actions, ``per_action_*['Average']``), optionally on a joint subset.
- :func:`evaluate_images` -- an image network's 2D + depth predictions: PCKh, 3D errors, 3DHP PCK/AUC
  per scene, symmetry, and the diagnostics that separate 2D and depth errors.
- :func:`markdown_table` / :func:`fmt` -- paper-vs-ours tables.
- :func:`check_claim` -- the one verdict of the book (the verdict rule of DEVELOPERS.md): a claim is
  judged only when the models it compares pass their sanity gate, and :func:`seed_comparison`
  says whether a difference exceeds the seed-to-seed spread. :func:`claim_records` writes verdicts
  for :mod:`posecore.results`.

Nothing here trains: it depends on metrics and the models' pure maths only.
"""
from __future__ import annotations

import numpy as np
import torch

from . import metrics
from .models.zhou import depth_target, pose_3d
from .skeleton import ROOT, bone_lengths

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
CANNOT_JUDGE = "cannot judge: the model does not work yet"
SMOKE_CAVEAT = "smoke profile: a few training steps only -- this verdict says nothing about the method"


# --- 3D poses against a PoseSet -------------------------------------------------------------------
def evaluate_3d(pred_3d, test_set, joints=None) -> dict:
    """MPJPE (root-aligned) and P-MPJPE (similarity-aligned) of (N, J, 3) mm predictions against
    ``test_set.poses_3d``, averaged over samples and per action (with the Human3.6M 'Average' over
    actions). ``joints`` optionally restricts the evaluated joints (e.g. Drover's 14; the centroids
    are then aligned). Returns dict(mpjpe, p_mpjpe, per_action_mpjpe, per_action_p_mpjpe, errors)."""
    gt = test_set.poses_3d
    pred = np.asarray(pred_3d, np.float64)
    if len(pred) != len(gt):
        raise ValueError(f"evaluate_3d: {len(pred)} predictions for {len(gt)} test samples")
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


# --- image networks -------------------------------------------------------------------------------
def gt_depth_norm(pred: dict) -> np.ndarray:
    """Normalised ground-truth depths of a prediction dict's 3D-labelled samples (for diagnostics)."""
    p3 = torch.as_tensor(pred["gt_3d"], dtype=torch.float64)
    return depth_target(torch.as_tensor(pred["gt_2d"], dtype=torch.float64), p3, pred["resolution"]).numpy()


def evaluate_images(pred: dict, canonical_bone_sum: float, actions=None, scale: str = "canonical") -> dict:
    """Metrics of an image network's predictions (:func:`posecore.recipes.images.predict`). Always: ``pckh`` (2D PCKh@0.5 %, head size from the
    ground-truth neck-head distance) and ``symmetry_px`` (Table 4 in 256-normalised px of the
    predicted (2D, depth) pose). With 3D labels: ``pred_3d`` (root-relative mm, the bone-sum scaled
    pose), ``errors`` (N,) MPJPE mm, ``mpjpe``, ``per_action`` (if ``actions``), ``pck`` / ``auc`` (3DHP,
    all samples) and ``pck_scene`` / ``auc_scene`` per scene kind, ``symmetry_mm``, and the diagnostics
    ``mpjpe_gt2d`` (ground-truth 2D + predicted depth) and ``mpjpe_gtdepth`` (predicted 2D + ground-truth
    depth). ``pair_ratio``: predicted / true left-right paired-joint distance in 2D
    (:func:`posecore.metrics.paired_joint_ratio`). ``scale``: the 3D pose's bone-length sum is the
    canonical one ('canonical', Zhou et al. Sec. 4.1.2) or each sample's true one ('true': the known
    global scale of the official 3DHP evaluation)."""
    if scale not in ("canonical", "true"):
        raise ValueError(f"evaluate_images: scale must be 'canonical' or 'true', got {scale!r}")
    R = pred["resolution"]
    gt2, p2, vis = pred["gt_2d"], pred["joints_2d"], pred["visible"]
    head = np.asarray(metrics.head_size_from_joints(gt2), np.float64)
    ok = head > 0
    out = {"pckh": float(metrics.pckh(p2[ok], gt2[ok], head[ok], visible=vis[ok])),
           "pair_ratio": metrics.paired_joint_ratio(p2, gt2, vis)}
    px_pose = np.concatenate([p2 - p2[:, ROOT:ROOT + 1], (pred["depth"] - pred["depth"][:, :1])[..., None] * R / 2], -1)
    out["symmetry_px"] = metrics.symmetry_error(px_pose * (256.0 / R))
    has = pred["has_3d"]
    if has.any():
        gt3 = pred["gt_3d"][has].astype(np.float64)
        if scale == "true":
            canonical_bone_sum = bone_lengths(gt3).sum(-1)
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


# --- tables ---------------------------------------------------------------------------------------
def fmt(v, digits: int = 1) -> str:
    """A number for a table ('–' for None / NaN; floats with ``digits`` decimals)."""
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else str(v)


def markdown_table(header, rows, digits: int = 1) -> str:
    """A plain Markdown table (``header`` a list of str, ``rows`` lists of cells); display it with
    ``IPython.display.Markdown``."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(fmt(c, digits) for c in r) + " |" for r in rows])


def fmt_seeds(values, digits: int = 1) -> str:
    """Per-seed values as 'mean (min–max, k seeds)' for a table ('–' when empty)."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    if len(v) == 0:
        return "–"
    if len(v) == 1:
        return f"{v[0]:.{digits}f} (1 seed)"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}–{v.max():.{digits}f}, {len(v)} seeds)"


def table(header, rows, digits: int = 1):
    """:func:`markdown_table` as an ``IPython.display.Markdown`` object (a notebook cell shows it)."""
    from IPython.display import Markdown
    return Markdown(markdown_table(header, rows, digits))


# --- verdicts -------------------------------------------------------------------------------------
def seed_comparison(a, b, lower_is_better: bool = True) -> dict:
    """Is ``a`` better than ``b`` beyond the seed-to-seed spread? ``a``, ``b``: one value per seed.
    Returns dict(mean_a, mean_b, diff (b - a when lower is better), spread (the larger range
    max - min of the two), seeds, better (diff > spread, and > 0), text)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("seed_comparison: need at least one value per side")
    diff = (b.mean() - a.mean()) if lower_is_better else (a.mean() - b.mean())
    spread = float(max(np.ptp(a), np.ptp(b)))
    seeds = int(min(len(a), len(b)))
    better = bool(diff > 0 and diff > spread)
    text = (f"{a.mean():.1f} (range {np.ptp(a):.1f}) vs {b.mean():.1f} (range {np.ptp(b):.1f}), "
            f"{seeds} seed{'s' if seeds != 1 else ''}")
    return dict(mean_a=float(a.mean()), mean_b=float(b.mean()), diff=float(diff), spread=spread, seeds=seeds,
                better=better, text=text)


def check_claim(claims: list, text: str, ok: bool, detail: str = "", *, profile: str | None = None,
                gate: bool = True, gate_detail: str = "") -> None:
    """The one verdict of the book. Appends (to ``claims``) and prints dict(claim, verdict, reproduced,
    judged, detail); returns nothing, so a notebook cell ending with it shows no stray value:
    'reproduced' / 'not reproduced' from ``ok``, or 'cannot judge: the model does not work yet' when
    ``gate`` is False (the compared models failed their sanity gate, named in ``gate_detail``). In the
    smoke profile the verdict carries a caveat: a few training steps say nothing about the method."""
    judged = bool(gate)
    verdict = (REPRODUCED if ok else NOT_REPRODUCED) if judged else CANNOT_JUDGE
    note = detail if judged else "; ".join(x for x in (gate_detail, detail) if x)
    if profile == "smoke":
        note = f"{note} [{SMOKE_CAVEAT}]" if note else f"[{SMOKE_CAVEAT}]"
    c = dict(claim=text, verdict=verdict, reproduced=verdict == REPRODUCED, judged=judged, detail=note)
    claims.append(c)
    print(f"[{verdict}] {text}\n    {note}")


def claim_records(claims: list, dataset: str, profile: str, split: str = "-") -> list[dict]:
    """Result records (metric 'claim', value 1.0 if reproduced) of :func:`check_claim` verdicts."""
    from . import results
    return [results.record("claim", float(c["reproduced"]), "bool", dataset, profile, c.get("split", split),
                           claim=c["claim"], verdict=c["verdict"], detail=c["detail"]) for c in claims]
