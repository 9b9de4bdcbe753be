"""What every chapter does the same way, written once: its start (parameters checked, profile and
device resolved), its seed lists, the shared backbone and image data of the image chapters, its
seeded result records and its claims with their sanity gate.

A chapter calls these instead of redefining them, so a "seeded" record or a "claim" means the same in
every chapter::

    ch = chapter.start(profile, dataset)                  # after the parameters cell
    seeds = chapter.seed_list(seeds, ch.profile, quick=[0, 1, 2])
    img = chapter.image_inputs(bcfg, cfg.data, dataset, data_root, ch.device)
    chapter.claim(claims, "A beats B", values_a, values_b, gate=ok, gate_detail=why, profile=ch.profile)
    recs.append(chapter.seeded("mpjpe", values, "mm", common, split="test", variant="A"))
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import params, profiles, results
from .evaluate import check_claim, seed_comparison
from .train import select_device

__all__ = ["Chapter", "start", "seed_list", "image_inputs", "seeded", "claim", "data_label", "show_predictions"]


@dataclass
class Chapter:
    """A started chapter: the resolved ``profile``, the ``device`` it trains on, ``t0`` (its start,
    ``time.perf_counter()``) and ``common`` (the dataset / profile fields of its result records)."""
    profile: str
    device: object
    dataset: str
    t0: float = field(default_factory=time.perf_counter)

    @property
    def common(self) -> dict:
        """The fields every result record of the chapter carries (never a bare 'synth')."""
        return dict(dataset=data_label(self.dataset), profile=self.profile)

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def data_label(dataset: str) -> str:
    """The dataset's name in records and tables: 'posecore-synth' for the embedded benchmark."""
    return "posecore-synth" if dataset == "synth" else dataset


def start(profile, dataset: str = "synth", datasets=None, device: str = "auto") -> Chapter:
    """Check the parameters papermill injected (:func:`posecore.params.validate`), resolve ``profile``
    (None: ``$POSECORE_PROFILE``, else 'quick'), check ``dataset`` against ``datasets`` (default: the
    embedded benchmark and every real dataset) and pick the device."""
    t0 = time.perf_counter()
    params.validate()
    profile = profiles.resolve(profile)
    if datasets is None:
        datasets = ("synth",) + tuple(d for d in profiles.DATASETS if d != "synth")
    profiles.check_choice("dataset", dataset, tuple(datasets))
    return Chapter(profile=profile, device=select_device(device), dataset=dataset, t0=t0)


def seed_list(value, profile: str, *, smoke=(0,), quick=(0, 1), full=(0, 1)) -> list[int]:
    """``value`` (a chapter's ``seeds``-like parameter) as a list, or the profile's default."""
    if value is not None:
        return list(value)
    return list(profiles.pick(profile, smoke=list(smoke), quick=list(quick), full=list(full)))


def image_inputs(bcfg, data_cfg, dataset: str, data_root, device, progress: bool = True,
                 hidden: bool = True) -> dict:
    """The inputs every image chapter starts from: the shared backbone
    (:func:`posecore.recipes.backbone.get`: ``bb``, and ``backbone`` = (state, id) for the recipes),
    the images, pools and evaluation subsets of :func:`posecore.recipes.image_data.load` (``d``;
    ``data_cfg``: an :class:`~posecore.recipes.image_data.ImageDataConfig`) and, on the embedded benchmark with ``hidden``, the wild training
    split's hidden 3D poses (``hidden``; None elsewhere: real 2D-only data has none)."""
    from . import data
    from .recipes import backbone as backbone_recipe
    from .recipes import image_data
    bb = backbone_recipe.get(bcfg, dataset, data_root, device=device, progress=False)
    d = image_data.load(data_cfg, bcfg, dataset, data_root, progress=progress, device=device)
    kw = {"data_root": data_root} if data_root else {}
    wild_3d = data.load(dataset, "wild_train", reveal_hidden=True, **kw).poses_3d \
        if hidden and dataset == "synth" else None
    return dict(bb=bb, backbone=(bb["state"], bb["id"]), d=d, hidden=wild_3d)


def seeded(metric: str, values, unit: str, common: dict, *, skip_nonfinite: bool = False, **kw) -> dict | None:
    """A result record of the mean over seeds with the seed count (``seeds``) and the min-max range
    (``spread``). ``skip_nonfinite``: seeds whose run diverged (NaN / inf) are left out and counted
    (``diverged_seeds``); None when every seed diverged."""
    values = [float(v) for v in values]
    if not skip_nonfinite:
        return results.record(metric, float(np.mean(values)), unit, seeds=len(values), spread=float(np.ptp(values)),
                              **kw, **common)
    ok = [v for v in values if np.isfinite(v)]
    if not ok:
        return None
    return results.record(metric, float(np.mean(ok)), unit, seeds=len(ok), spread=float(np.ptp(ok)),
                          diverged_seeds=len(values) - len(ok), **kw, **common)


def claim(claims: list, text: str, a, b, *, higher: bool = False, gate: bool = True, gate_detail: str = "",
          profile: str | None = None, min_spread: float = 0.0, label: str = "", extra: str = "") -> None:
    """A paper's claim "``a`` is better than ``b``" judged by the verdict rule: the seeds' values ``a``
    and ``b`` compared by :func:`posecore.evaluate.seed_comparison` (a difference counts only beyond
    the seed-to-seed spread, or ``min_spread`` with fewer than two seeds; ``higher``: higher is better)
    and recorded by :func:`posecore.evaluate.check_claim` -- "cannot judge" when ``gate`` is False.
    ``label`` goes before the comparison's text, ``extra`` after it."""
    cmp = seed_comparison(list(a), list(b), lower_is_better=not higher, min_spread=min_spread)
    detail = "; ".join(x for x in (f"{label}: {cmp['text']}" if label else cmp["text"], extra) if x)
    check_claim(claims, text, cmp["better"], detail, profile=profile, gate=gate, gate_detail=gate_detail)


def show_predictions(images, index, joints_2d, ev: dict, which=("best", "worst"), label: str = "prediction",
                     gt_3d=None, scenes=None) -> list[tuple[str, int]]:
    """The chapters' figure of single predictions: the ``which`` ('best', 'median', 'worst' by
    ``ev['errors']``) evaluated images (``images.get_batch([index[k]])``) with the predicted 2D skeleton
    ``joints_2d[k]`` (crop px), then the predicted and true 3D poses side by side (interactive; ``ev``
    from :func:`posecore.evaluate.evaluate_images`, ``gt_3d`` overrides its ``gt_3d``). Returns the
    picks as (which, k)."""
    import matplotlib.pyplot as plt

    from . import viz
    errors = np.asarray(ev["errors"])
    order = np.argsort(errors)
    at = {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}
    picks = [(w, int(at[w])) for w in which]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.5 * len(picks), 3.5), squeeze=False)
    for ax, (w, k) in zip(axes[0], picks):
        img = images.get_batch([index[k]])["image"][0].permute(1, 2, 0).numpy()
        scene = f" ({scenes[k]})" if scenes is not None else ""
        viz.image_with_skeleton(ax, img, joints_2d[k], title=f"{w}: {errors[k]:.0f} mm{scene}")
    plt.tight_layout()
    plt.show()
    gt = ev["gt_3d"] if gt_3d is None else gt_3d
    for w, k in picks:
        viz.show(viz.skeleton_figure([ev["pred_3d"][k], gt[k]], labels=[label, "ground truth"], mode="side_by_side",
                                     title=f"{w} wild test image: MPJPE {errors[k]:.0f} mm"))
    return picks
