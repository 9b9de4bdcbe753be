"""What every chapter does the same way, written once: its start (parameters checked, profile and
device resolved), its seed lists, the shared backbone and image data of the image chapters, its
seeded result records and its claims with their sanity gate.

A chapter calls these instead of redefining them, so a "seeded" record or a "claim" means the same in
every chapter::

    ch = chapter.start(profile, dataset)                  # after the parameters cell
    seeds = chapter.seed_list(seeds, ch.profile, quick=[0, 1, 2])
    img = chapter.image_inputs(bcfg, cfg.data, dataset, data_root, ch.device)

The image chapters (05-09) also take the papers' photographs (``images="photos"``, three datasets as
separate parameters; :func:`photo_sources`)::

    ch = chapter.start(profile, dataset, images=images, data_root=data_root, wild_dataset=wild_dataset,
                       wild_root=wild_root, wild_test_dataset=wild_test_dataset, wild_test_root=wild_test_root)
    img = chapter.image_inputs(bcfg, cfg.data, dataset, data_root, ch.device, photos=ch.photos)
    if chapter.skipped(img["d"], "wild_test", "Table 3"): ...   # a partial set of photos
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

__all__ = ["Chapter", "start", "seed_list", "image_inputs", "seeded", "claim", "data_label", "show_predictions",
           "IMAGES", "photo_sources", "skipped"]

# the ``images`` parameter of the image chapters: rendered from the poses, or the datasets' photographs
IMAGES = ("rendered", "photos")


@dataclass
class Chapter:
    """A started chapter: the resolved ``profile``, the ``device`` it trains on, ``t0`` (its start,
    ``time.perf_counter()``), ``common`` (the dataset / profile fields of its result records) and, for
    an image chapter run on photographs, ``photos`` (a :class:`~posecore.recipes.photo_data.PhotoSources`;
    None: rendered images)."""
    profile: str
    device: object
    dataset: str
    t0: float = field(default_factory=time.perf_counter)
    photos: object = None

    @property
    def common(self) -> dict:
        """The fields every result record of the chapter carries (never a bare 'synth')."""
        return dict(dataset=self.photos.label if self.photos is not None else data_label(self.dataset),
                    profile=self.profile)

    @property
    def label(self) -> str:
        """The data's name in the chapter's tables: 'synth (posecore-synth images)', the real dataset's
        name, or the photos' ('h36m+mpii+3dhp (photos)')."""
        if self.photos is not None:
            return self.photos.label
        return f"{self.dataset} (posecore-synth images)" if self.dataset == "synth" else self.dataset

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def data_label(dataset: str) -> str:
    """The dataset's name in records and tables: 'posecore-synth' for the embedded benchmark."""
    return "posecore-synth" if dataset == "synth" else dataset


def start(profile, dataset: str = "synth", datasets=None, device: str = "auto", *, images: str | None = None,
          data_root=None, wild_dataset=None, wild_root=None, wild_test_dataset=None, wild_test_root=None) -> Chapter:
    """Check the parameters papermill injected (:func:`posecore.params.validate`), resolve ``profile``
    (None: ``$POSECORE_PROFILE``, else 'quick'), check ``dataset`` against ``datasets`` (default: the
    embedded benchmark and every real dataset) and pick the device. An image chapter passes its
    ``images`` parameter and the datasets' folders too: with ``images='photos'`` they are checked by
    :func:`photo_sources` (``datasets`` then does not apply) and the chapter's ``photos`` set."""
    t0 = time.perf_counter()
    params.validate()
    profile = profiles.resolve(profile)
    photos = None if images is None else photo_sources(images, dataset, data_root, wild_dataset, wild_root,
                                                      wild_test_dataset, wild_test_root)
    if photos is None:
        if datasets is None:
            datasets = ("synth",) + tuple(d for d in profiles.DATASETS if d != "synth")
        profiles.check_choice("dataset", dataset, tuple(datasets))
    return Chapter(profile=profile, device=select_device(device), dataset=dataset, t0=t0, photos=photos)


def photo_sources(images: str, dataset: str, data_root, wild_dataset=None, wild_root=None, wild_test_dataset=None,
                  wild_test_root=None):
    """An image chapter's data parameters -> a :class:`~posecore.recipes.photo_data.PhotoSources` for
    ``images='photos'`` (the lab photos ``dataset='h36m'`` / ``data_root``, the wild 2D photos
    ``wild_dataset='mpii'`` / ``wild_root``, the wild 3D test set ``wild_test_dataset='3dhp'`` /
    ``wild_test_root``, which may be left out: see :func:`posecore.recipes.photo_data.sources`), None for
    ``images='rendered'`` (the wild parameters must then be unset); ValueError otherwise. Folder layouts:
    book/datasets.md."""
    profiles.check_choice("images", images, IMAGES)
    if images == "rendered":
        given = [k for k, v in (("wild_dataset", wild_dataset), ("wild_root", wild_root),
                                ("wild_test_dataset", wild_test_dataset), ("wild_test_root", wild_test_root)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: only read with images='photos' (the rendered images' wild "
                             f"splits come from `dataset`); see book/datasets.md")
        return None
    from .recipes import photo_data
    return photo_data.sources(dataset, data_root, wild_dataset, wild_root, wild_test_dataset, wild_test_root)


def skipped(d: dict, split: str, what: str, why: str | None = None) -> bool:
    """True (after printing ``skipped: <what>: <why>``) when the image data ``d``
    (:func:`posecore.recipes.image_data.load`) lacks ``split`` -- a partial set of photos, e.g. without a
    wild 3D test set; False when the section can run."""
    if split in d["eval_idx"]:
        return False
    why = why or {"wild_test": "no wild 3D test set (wild_test_dataset / wild_test_root not given)"}.get(
        split, f"no {split} split in this data")
    print(f"skipped: {what}: {why}")
    return True


def seed_list(value, profile: str, *, smoke=(0,), quick=(0, 1), full=(0, 1)) -> list[int]:
    """``value`` (a chapter's ``seeds``-like parameter) as a list, or the profile's default."""
    if value is not None:
        return list(value)
    return list(profiles.pick(profile, smoke=list(smoke), quick=list(quick), full=list(full)))


def image_inputs(bcfg, data_cfg, dataset: str, data_root, device, progress: bool = True,
                 hidden: bool = True, photos=None) -> dict:
    """The inputs every image chapter starts from: the shared backbone
    (:func:`posecore.recipes.backbone.get`: ``bb``, and ``backbone`` = (state, id) for the recipes),
    the images, pools and evaluation subsets of :func:`posecore.recipes.image_data.load` (``d``;
    ``data_cfg``: an :class:`~posecore.recipes.image_data.ImageDataConfig`) and, on the embedded benchmark with ``hidden``, the wild training
    split's hidden 3D poses (``hidden``; None elsewhere: real 2D-only data has none). ``photos``: a
    :class:`~posecore.recipes.photo_data.PhotoSources` (:func:`photo_sources`, ``Chapter.photos``) -- the
    backbone and the images from the datasets' photographs (``dataset`` / ``data_root`` unused)."""
    from . import data
    from .recipes import backbone as backbone_recipe
    from .recipes import image_data
    bb = backbone_recipe.get(bcfg, dataset, data_root, device=device, progress=False, photos=photos)
    d = image_data.load(data_cfg, bcfg, dataset, data_root, progress=progress, device=device, photos=photos)
    kw = {"data_root": data_root} if data_root else {}
    wild_3d = data.load(dataset, "wild_train", reveal_hidden=True, **kw).poses_3d \
        if hidden and dataset == "synth" and photos is None else None
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
          profile: str | None = None, min_spread: float = 0.0, label: str = "", extra: str = "",
          steps: dict | None = None, seeds=None, unequal_steps: str = "") -> None:
    """A paper's claim "``a`` is better than ``b``" judged by the verdict rule: the seeds' values ``a``
    and ``b`` compared by :func:`posecore.evaluate.seed_comparison` (a difference counts only beyond
    the seed-to-seed spread, or ``min_spread`` with fewer than two seeds; ``higher``: higher is better)
    and recorded by :func:`posecore.evaluate.check_claim` -- "cannot judge" when ``gate`` is False.
    ``label`` goes before the comparison's text, ``extra`` after it; ``steps`` ({row: total training
    steps}), ``seeds`` and ``unequal_steps`` as :func:`~posecore.evaluate.check_claim`."""
    cmp = seed_comparison(list(a), list(b), lower_is_better=not higher, min_spread=min_spread)
    detail = "; ".join(x for x in (f"{label}: {cmp['text']}" if label else cmp["text"], extra) if x)
    check_claim(claims, text, cmp["better"], detail, profile=profile, gate=gate, gate_detail=gate_detail,
                steps=steps, seeds=seeds, unequal_steps=unequal_steps)


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
