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
    from .real import load_dataset
    return load_dataset(dataset, _REAL[dataset][split], data_root, cache_dir=cache_dir)


__all__ = ["PoseSet", "concat", "load", "DATASETS", "CHAPTER_SPLITS"]
