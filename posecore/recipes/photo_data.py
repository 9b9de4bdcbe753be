"""The papers' own images for the image chapters: the four chapter splits as photo datasets
(:mod:`posecore.data.photos`) instead of renders -- Human3.6M frames for the lab splits (``train``,
``test``), MPII photos for the 2D-only wild training split and the MPI-INF-3DHP test set for the wild
test split.

- :class:`PhotoSources` / :func:`sources` -- where each split's photos and labels are (a chapter's
  ``dataset``/``data_root``, ``wild_dataset``/``wild_root``, ``wild_test_dataset``/``wild_test_root``).
- :func:`datasets` -- the four :class:`~posecore.data.photos.PhotoDataset` at a resolution.
- :func:`data_id` -- the name of the photo data (label contents, image paths, folder modification times,
  crop settings): the key of every cache and checkpoint trained on it.

The recipes take these through ``photos=`` (:func:`posecore.recipes.backbone.load_data`,
:func:`posecore.recipes.image_data.load`); without it they render, as before.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .. import artefacts

# the behaviour version of the photo datasets (crops, decoding): part of data_id
VERSION = 1
# the reader of each chapter split, and the reader's split
READERS = {"train": ("h36m", "train"), "test": ("h36m", "test"), "wild_train": ("mpii", "train"),
           "wild_test": ("3dhp", "test")}


@dataclass(frozen=True)
class PhotoSources:
    """The folders of the three photo datasets: ``lab`` (Human3.6M frames + labels, see
    :func:`posecore.data.photos.h36m_photos`), ``wild`` (MPII: ``images/`` + ``annot/``), ``wild_test``
    (MPI-INF-3DHP test set: ``TSk/imageSequence`` + ``TSk/annot_data.mat``; None: no wild 3D test set,
    the chapters skip what needs it). ``stride``: the Human3.6M training stride (a multiple of the frame
    extraction's ``--every``)."""
    lab: str
    wild: str
    wild_test: str | None
    stride: int = 5

    def root(self, split: str) -> str | None:
        return {"train": self.lab, "test": self.lab, "wild_train": self.wild, "wild_test": self.wild_test}[split]

    @property
    def splits(self) -> tuple:
        """The chapter splits these photos hold (``wild_test`` only with a wild 3D test set)."""
        return tuple(s for s in READERS if self.root(s) is not None)

    @property
    def label(self) -> str:
        """The data's name in tables and records: 'h36m+mpii+3dhp (photos)' ('h36m+mpii (photos)' without
        the wild 3D test set)."""
        return "h36m+mpii" + ("+3dhp" if self.wild_test is not None else "") + " (photos)"


def sources(dataset: str, data_root, wild_dataset=None, wild_root=None, wild_test_dataset=None,
            wild_test_root=None, stride: int = 5) -> PhotoSources:
    """A chapter's photo parameters -> :class:`PhotoSources`; ValueError naming what is missing or wrong
    (the photo path reads Human3.6M frames, MPII photos and the 3DHP test set). The wild 3D test set may
    be left out (``wild_test_dataset`` and ``wild_test_root`` both None): ``wild_test`` is then None."""
    got = {"dataset": (dataset, data_root), "wild_dataset": (wild_dataset, wild_root),
           "wild_test_dataset": (wild_test_dataset, wild_test_root)}
    want = {"dataset": "h36m", "wild_dataset": "mpii", "wild_test_dataset": "3dhp"}
    for k, (name, root) in got.items():
        if k == "wild_test_dataset" and name is None and root is None:
            continue                                     # a partial set: no wild 3D test set
        if name != want[k]:
            raise ValueError(f"images='photos' reads {want[k]!r} as {k} (got {name!r}); see book/datasets.md")
        if root is None:
            raise ValueError(f"images='photos': {k}={name!r} needs its folder "
                             f"({'data_root' if k == 'dataset' else k.replace('dataset', 'root')}=...)")
    return PhotoSources(str(os.path.expanduser(data_root)), str(os.path.expanduser(wild_root)),
                        None if wild_test_root is None else str(os.path.expanduser(wild_test_root)), int(stride))


def datasets(src: PhotoSources, resolution: int, heatmap_resolution: int | None = None, sigma: float = 1.0,
             seed: int = 0, device="cpu", augment: bool = False, splits=tuple(READERS)) -> dict:
    """{split: PhotoDataset} of ``splits`` at ``resolution`` px (``augment``: crop scale / shift jitter;
    mirroring is the recipes' business, as for renders); a split ``src`` lacks (no wild 3D test set) is
    left out."""
    splits = [s for s in splits if src.root(s) is not None]
    import warnings

    from ..data import photos
    common = dict(resolution=resolution, heatmap_resolution=heatmap_resolution, sigma=sigma, seed=seed,
                  device=device, augment=augment)
    out = {}
    with warnings.catch_warnings():   # the readers warn about absent subjects/sequences: fixtures and subsets
        warnings.simplefilter("ignore")
        for s in splits:
            if s in ("train", "test"):
                out[s] = photos.h36m_photos(src.lab, split=s, **({"stride": src.stride} if s == "train" else {}),
                                            **common)
            elif s == "wild_train":
                out[s] = photos.mpii_photos(src.wild, "train", **common)
            else:
                out[s] = photos.mpi3dhp_photos(src.wild_test, **common)
    return out


def _folders_digest(paths) -> str:
    """The folders of ``paths`` with their modification times (a frame added, removed or replaced changes
    its folder's mtime): cheap for a million frames."""
    h = hashlib.sha1()
    for d in sorted({os.path.dirname(p) for p in paths}):
        try:
            h.update(f"{d}|{os.stat(d).st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{d}|absent\n".encode())
    return h.hexdigest()[:16]


def data_id(ds: dict, resolution: int) -> str:
    """The name of the photo data ``ds`` ({split: PhotoDataset}) at ``resolution`` px."""
    names = "+".join(sorted({str(d.poses.meta.get("dataset", "")) for d in ds.values()}))
    content = {"sets": {s: artefacts.poseset_digest(d.poses) for s, d in sorted(ds.items())},
               "paths": {s: hashlib.sha1("\n".join(d.paths).encode()).hexdigest()[:16] for s, d in sorted(ds.items())},
               "folders": {s: _folders_digest(d.paths) for s, d in sorted(ds.items())},
               "boxes": {s: artefacts.array_digest(d.boxes) for s, d in sorted(ds.items())},
               "photos": VERSION, "resolution": int(resolution)}
    return f"photos:{names}|R{resolution}|{artefacts.digest(content)}"


__all__ = ["READERS", "VERSION", "PhotoSources", "data_id", "datasets", "sources"]
