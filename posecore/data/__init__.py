"""Datasets: the :class:`PoseSet` interface, the embedded benchmark, the renderer and the readers.

:func:`load` is the one entry point of the chapters: ``load(dataset, split, data_root=None)`` with
``dataset`` in ``('synth', 'h36m', '3dhp', 'mpii', 'bvh')`` and the chapter-level split names

=============  =========================================  ==========================================
split          synth (embedded default)                   real datasets
=============  =========================================  ==========================================
train          lab_train (3D labels)                      h36m: S1, S5, S6, S7, S8
test           lab_test                                   h36m: S9, S11
wild_train     wild_train (2D labels only)                mpii: train (2D only)
wild_test      wild_test (3D ground truth)                3dhp: TS1-TS6 test set
=============  =========================================  ==========================================

bvh (the user's own mocap, see :mod:`posecore.data.bvh_reader`) serves train/test.

A chapter's lab data (``dataset``/``data_root``) and wild data (``wild_dataset``/``wild_root``) are
separate parameters: :func:`load_wild` gives None (and says so) when the lab dataset has no wild split
and no wild dataset is named, so e.g. Human3.6M alone runs every lab section and skips the wild ones.
Converted real datasets are cached in the user cache (``$POSECORE_CACHE``, else ``~/.cache/posecore``)
by default, keyed by the source files and the reader's options.
"""
from __future__ import annotations

from .dataset import PoseSet, concat

DATASETS = ("synth", "h36m", "3dhp", "mpii", "bvh")
CHAPTER_SPLITS = ("train", "test", "wild_train", "wild_test")
_SYNTH = {"train": "lab_train", "test": "lab_test", "wild_train": "wild_train", "wild_test": "wild_test"}
# chapter split -> the reader's split, per real dataset
_REAL = {"h36m": {"train": "train", "test": "test"}, "3dhp": {"wild_test": "test"},
         "mpii": {"wild_train": "train"}, "bvh": {"train": "train", "test": "test"}}


def load(dataset: str = "synth", split: str = "train", data_root=None, reveal_hidden: bool = False,
         cache_dir=None) -> PoseSet:
    """A split of a dataset as a :class:`PoseSet` (see the table in this module's docstring)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    if split not in CHAPTER_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {CHAPTER_SPLITS}")
    if dataset == "synth":
        from .embedded import load_split
        return load_split(_SYNTH[split], reveal_hidden=reveal_hidden)
    if data_root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root= (the folder holding its files)")
    if split not in _REAL[dataset]:
        raise ValueError(f"dataset {dataset!r} has no {split!r} split in the chapters' sense; it serves "
                         f"{sorted(_REAL[dataset])} (see posecore.data's docstring)")
    from .real import default_cache_dir, load_dataset
    return load_dataset(dataset, _REAL[dataset][split], data_root,
                        cache_dir=default_cache_dir() if cache_dir is None else cache_dir)


def serves(dataset: str, split: str) -> bool:
    """Whether ``dataset`` has the chapter split ``split``."""
    return dataset == "synth" or split in _REAL.get(dataset, {})


def load_wild(split: str, dataset: str = "synth", data_root=None, wild_dataset=None, wild_root=None,
              reveal_hidden: bool = False):
    """The wild split (``wild_train`` / ``wild_test``) of a chapter: from ``wild_dataset`` (+ ``wild_root``)
    when named, else from the lab ``dataset`` when it has one; else None, with a printed note (the
    chapter then skips its wild sections)."""
    if split not in ("wild_train", "wild_test"):
        raise ValueError(f"load_wild: {split!r} is not a wild split; choose 'wild_train' or 'wild_test'")
    if wild_dataset is None:
        if not serves(dataset, split):
            print(f"no {split}: dataset {dataset!r} has none and no wild_dataset was given; its sections are skipped")
            return None
        wild_dataset, wild_root = dataset, data_root if wild_root is None else wild_root
    elif wild_dataset not in DATASETS:
        raise ValueError(f"unknown wild_dataset {wild_dataset!r}; choose one of {DATASETS}")
    elif not serves(wild_dataset, split):
        print(f"no {split}: wild_dataset {wild_dataset!r} has none (see posecore.data); its sections are skipped")
        return None
    return load(wild_dataset, split, wild_root, reveal_hidden=reveal_hidden)


__all__ = ["PoseSet", "concat", "load", "load_wild", "serves", "DATASETS", "CHAPTER_SPLITS"]
