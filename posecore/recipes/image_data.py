"""The image data the image chapters (05-10) share: the four splits rendered at the shared backbone's
resolution, the fixed training pools, the evaluation subsets and their rendered-image caches, with
one configuration of their own (:class:`ImageDataConfig`) that every image recipe's configuration
embeds as its ``data`` field -- so chapters 05, 07, 08 and 09 train on the same pools and score the
same images.

- :class:`ImageDataConfig` / :func:`config` -- pool size, evaluation subset sizes, the data seed.
- :func:`load` -- PoseSets, ImageDatasets (cached pools), canonical skeleton, evaluation indices and the
  content-based ``data_id`` (:func:`posecore.recipes.images.data_id`).
- :func:`with_overrides` -- a recipe configuration with a chapter's overrides, its data fields
  (``train_pool``, ``n_eval_lab``, ...) routed into its ``data``.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from .. import profiles
from ..models.zhou import canonical_bone_lengths
from .backbone import BackboneConfig
from .images import CachedImages, cache_path, eval_indices, pool_indices, wild_holdout
from .images import data_id as images_data_id


@dataclass(frozen=True)
class ImageDataConfig:
    """``train_pool``: training images per split rendered once and reused (0: every image, rendered on
    the fly); ``n_eval_lab`` / ``n_eval_wild`` / ``n_eval_wild_2d``: evaluated lab-test, wild-test and
    held-out 2D-only wild-training images (drawn from :func:`~posecore.recipes.images.wild_holdout`, which
    no image network trains on; 0: all of them); ``wild_in_crop``: score only wild-test samples whose
    17 joints all lie inside the crop (a truncated body's missing joints cannot be read from the
    image; the paper's 3DHP test crops hold the whole body); ``data_seed``: the pools, the subsets and
    the renders (the same for every training seed)."""
    train_pool: int = 0
    n_eval_lab: int = 0
    n_eval_wild: int = 0
    n_eval_wild_2d: int = 2000
    wild_in_crop: bool = True
    data_seed: int = 0

    @classmethod
    def for_profile(cls, profile: str) -> "ImageDataConfig":
        return profiles.pick(profile,
                             smoke=cls(train_pool=24, n_eval_lab=12, n_eval_wild=12, n_eval_wild_2d=8),
                             quick=cls(train_pool=1200, n_eval_lab=600, n_eval_wild=600, n_eval_wild_2d=300),
                             full=cls())


FIELDS = tuple(f.name for f in dataclasses.fields(ImageDataConfig))


def config(profile: str | None = None, **overrides) -> ImageDataConfig:
    """The image data of a profile, with a chapter's explicit overrides (None = keep)."""
    return profiles.override(ImageDataConfig.for_profile(profiles.resolve(profile)), **overrides)


def with_overrides(cfg, **overrides):
    """``cfg`` (a recipe configuration with a ``data`` field) with ``overrides`` applied (None = keep):
    the names of :class:`ImageDataConfig` fields go to ``cfg.data``, the rest to ``cfg``."""
    data = {k: overrides.pop(k) for k in list(overrides) if k in FIELDS}
    return profiles.override(dataclasses.replace(cfg, data=profiles.override(cfg.data, **data)), **overrides)


def load(cfg: ImageDataConfig, backbone: BackboneConfig, dataset: str = "synth", data_root=None, cache: bool = True,
         progress: bool = False, device="cpu", photos=None) -> dict:
    """The four splits as PoseSets and ImageDatasets (at the backbone's resolution), the canonical
    skeleton (lab-training average bone lengths, BONES order, mm) and the evaluation subsets. With
    ``cfg.train_pool > 0`` the training images are a fixed pool per split, rendered once into a
    :class:`CachedImages` (saved under the checkpoint folder, so a second chapter reuses it); the
    2D-only evaluation images of the wild training split come from its held-out images
    (:func:`~posecore.recipes.images.wild_holdout`: outside every pool and the backbone's batches);
    the evaluation images of every split are cached likewise. With ``cfg.wild_in_crop`` the wild-test
    subset holds only samples with every joint inside the crop (``n_in_crop`` / ``n_wild_candidates``
    say how many of the candidates qualified). ``device``: where uncached images are rendered.
    ``photos``: a :class:`~posecore.recipes.photo_data.PhotoSources` -- the splits from the datasets'
    photographs (Human3.6M frames, MPII, MPI-INF-3DHP test) instead of renders (``dataset`` /
    ``data_root`` unused); the caches then hold the photo crops. Photos without a wild 3D test set have
    no ``wild_test`` in ``sets`` / ``images`` / ``eval_idx`` (``n_in_crop`` = ``n_wild_candidates`` = 0)."""
    from .. import data
    from ..data.images import ImageDataset
    from ..data.render import render_samples
    R = backbone.resolution
    hidden = None
    if photos is not None:
        from . import photo_data
        ds = photo_data.datasets(photos, R, backbone.hourglass().heatmap_resolution, seed=cfg.data_seed, device=device)
        sets = {s: ds[s].poses for s in ("train", "test", "wild_train", "wild_test") if s in ds}
    else:
        kw = dict(data_root=data_root) if data_root is not None else {}
        sets = {s: data.load(dataset, s, **kw) for s in ("train", "test", "wild_train", "wild_test")}
        hidden = data.load(dataset, "wild_train", reveal_hidden=True, **kw).poses_3d if dataset == "synth" else None
        ds = {s: ImageDataset(p, resolution=R, heatmap_resolution=backbone.hourglass().heatmap_resolution,
                              seed=cfg.data_seed, device=device,
                              **({"render_poses_3d": hidden} if s == "wild_train" and hidden is not None else {}))
              for s, p in sets.items()}
    canonical = canonical_bone_lengths(sets["train"].poses_3d).numpy()
    pools = {s: pool_indices(len(sets[s]), cfg.train_pool, cfg.data_seed, s) for s in ("train", "wild_train")}
    held = wild_holdout(len(sets["wild_train"]))           # never in a training pool (pool_indices)
    n_wt = len(sets["wild_test"]) if "wild_test" in sets else 0
    wild_ok = np.arange(n_wt)
    if cfg.wild_in_crop and n_wt:
        vis = ds["wild_test"].in_crop() if photos is not None else \
            render_samples(sets["wild_test"], np.arange(n_wt), R, cfg.data_seed, images=False,
                           margin=ds["wild_test"].margin, device="cpu")["visible"].numpy()
        wild_ok = np.flatnonzero(vis.all(1))
    idx = {"test": eval_indices(len(sets["test"]), cfg.n_eval_lab, cfg.data_seed),
           "wild_test": wild_ok[eval_indices(len(wild_ok), cfg.n_eval_wild, cfg.data_seed)],
           "wild_train": held[eval_indices(len(held), cfg.n_eval_wild_2d, cfg.data_seed)]}
    if "wild_test" not in sets:            # photos without a wild 3D test set: no wild-test split at all
        del idx["wild_test"]
    data_id = photo_data.data_id(ds, R) if photos is not None else images_data_id(sets, R, hidden)
    if cache:
        need = {"train": pools["train"] if cfg.train_pool > 0 else None,
                "wild_train": np.union1d(pools["wild_train"], idx["wild_train"]) if cfg.train_pool > 0 else None,
                "test": idx["test"], "wild_test": idx.get("wild_test")}
        for s, ind in need.items():
            if ind is None:
                continue
            t0 = time.perf_counter()
            path = cache_path(s, data=data_id, split=s, seed=cfg.data_seed, idx=ind.tolist())
            ds[s] = CachedImages(ds[s], ind, path=path)
            if progress:
                print(f"{s}: {len(ind)} images ready in {time.perf_counter() - t0:.1f} s")
    return dict(sets=sets, images=ds, canonical=canonical, eval_idx=idx, data_id=data_id, pools=pools,
                n_in_crop=len(wild_ok), n_wild_candidates=n_wt)




__all__ = ["ImageDataConfig", "FIELDS", "config", "with_overrides", "load"]
