"""One entry point for the real datasets: :func:`load_dataset` converts the user's files (which
posecore never ships) into a :class:`PoseSet`, optionally caching the result as a PoseSet .npz.

=========  ==========================  ===============================================================
dataset    splits                      ``data_root`` holds
=========  ==========================  ===============================================================
h36m       train (S1,5,6,7,8), test    ``data_3d_h36m.npz`` (+ ``data_2d_h36m_gt.npz``) of VideoPose3D,
           (S9, S11)                   or the original release ``S*/MyPoseFeatures/D3_Positions*/*.cdf``
3dhp       test (TS1-TS6)              ``TS*/annot_data.mat`` (MPI-INF-3DHP test set)
mpii       train, valid                ``annot/{train,valid}.json`` (+ ``gt_valid.mat``) or
                                       ``mpii_human_pose_v1_u12_1.mat`` (train only)
bvh        all, train, test            ``*.bvh`` files and ``mapping.json`` (or ``mapping=``)
=========  ==========================  ===============================================================

The embedded default ``'synth'`` is not handled here (see the embedded benchmark module).

Caching: with ``cache_dir`` the converted set is saved as ``<cache_dir>/<dataset>_<split>_<key>.npz``
where ``key`` hashes the converter version, the options and the identity (path, size, mtime) of every
input file; a later call with the same key loads that file instead of converting again (idempotent:
the cache file is not rewritten). Nothing is ever written inside ``data_root``: a ``cache_dir``
inside it is refused, and so is a ``cache_dir`` that is a file or cannot be written.

Errors: a malformed input file raises :class:`~posecore.data.safe_io.DataFormatError` (a ValueError)
whose message starts with the file and says what is wrong; a missing one FileNotFoundError. The
``data_scripts/prepare_*.py`` scripts (:func:`prepare_main`) print such an error as one line
``error: <file>: <problem>`` on stderr and exit with status 1, without a traceback.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from .dataset import PoseSet
from .safe_io import DataFormatError, one_line, open_regular

DATASETS = ("h36m", "3dhp", "mpii", "bvh")
SPLITS = {"h36m": ("train", "test"), "3dhp": ("test",), "mpii": ("train", "valid"), "bvh": ("all", "train", "test")}
CONVERTER_VERSION = 1


def _sources(dataset, split, root, options) -> list[Path]:
    if dataset == "h36m":
        from .h36m import source_files
        return source_files(root, split, options.get("subjects"))
    if dataset == "3dhp":
        from .mpi3dhp import find_sources
        return find_sources(root, options.get("sequences"))
    if dataset == "mpii":
        from .mpii import find_sources
        return find_sources(root, split)
    from .bvh_reader import bvh_files, find_mapping
    m = find_mapping(root, options.get("mapping"))
    return bvh_files(root) + ([Path(m)] if isinstance(m, (str, Path)) else [])


def _convert(dataset, split, root, options) -> PoseSet:
    if dataset == "h36m":
        from .h36m import load_h36m
        return load_h36m(root, split, **options)
    if dataset == "3dhp":
        from .mpi3dhp import load_3dhp
        return load_3dhp(root, split, **options)
    if dataset == "mpii":
        if options:
            raise ValueError(f"mpii takes no options, got {sorted(options)}")
        from .mpii import load_mpii
        return load_mpii(root, split)
    from .bvh_reader import load_bvh
    return load_bvh(root, split, **options)


def cache_key(dataset: str, split: str, sources, options: dict) -> str:
    """Hex digest identifying a conversion: converter version, options, and each input's path,
    size and modification time (a changed input file gives a new key)."""
    ident = []
    for p in sources:
        st = Path(p).stat()
        ident.append((str(Path(p).resolve()), st.st_size, st.st_mtime_ns))
    blob = json.dumps(dict(v=CONVERTER_VERSION, dataset=dataset, split=split, files=ident,
                           options={k: options[k] for k in sorted(options)}), default=str, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def check_cache_dir(cache: Path) -> Path:
    """Create ``cache`` if needed; DataFormatError naming it if it is a file, cannot be created or is not
    writable."""
    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise DataFormatError(f"{cache}: cache_dir is a file, expected a folder for the converted PoseSets")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataFormatError(f"{cache}: cannot create cache_dir ({type(e).__name__}: {e.strerror or e})") from e
    if not os.access(cache, os.W_OK | os.X_OK):
        raise DataFormatError(f"{cache}: cache_dir is not writable; choose another --cache-dir / cache_dir")
    return cache


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


def load_dataset(dataset: str, split: str, data_root, cache_dir=None, **options) -> PoseSet:
    """Convert (or load from ``cache_dir``) ``dataset`` in {'h36m', '3dhp', 'mpii', 'bvh'}, ``split``
    (see :data:`SPLITS`) from the user's files under ``data_root``. ``options`` go to the reader
    (:func:`posecore.data.h36m.load_h36m`, :func:`posecore.data.mpi3dhp.load_3dhp`,
    :func:`posecore.data.bvh_reader.load_bvh`). Raises ValueError for an unknown dataset or split,
    FileNotFoundError naming what is missing."""
    if dataset == "synth":
        raise ValueError("dataset 'synth' is the embedded benchmark: load it with the embedded-benchmark "
                         "module, not posecore.data.real")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS} (or 'synth', the embedded default)")
    if split not in SPLITS[dataset]:
        raise ValueError(f"unknown split {split!r} for {dataset}; choose one of {SPLITS[dataset]}")
    if data_root is None:
        raise FileNotFoundError(f"{dataset}: no data_root given; point it at the folder holding the "
                                "dataset's files (see book/datasets.md)")
    root = Path(data_root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{dataset}: data_root {root} does not exist")
    sources = _sources(dataset, split, root, options)
    if cache_dir is None:
        return _convert(dataset, split, root, options)
    cache = Path(cache_dir).expanduser()
    if _inside(cache, root if root.is_dir() else root.parent):
        raise ValueError(f"cache_dir {cache} is inside data_root {root}; converters never write into the "
                         "dataset folder: choose a cache folder elsewhere")
    check_cache_dir(cache)
    key = cache_key(dataset, split, sources, options)
    path = cache / f"{dataset}_{split}_{key}.npz"
    from ..artefacts import locked
    with locked(path):                        # a second process converting the same files waits, then loads
        if path.exists():
            ps = PoseSet.load(path)
            if ps.meta.get("cache_key") == key:
                return ps
        ps = _convert(dataset, split, root, options)
        ps.meta["cache_key"] = key
        try:
            ps.save(path)
        except OSError as e:
            raise DataFormatError(f"{path}: cannot write the cache file ({type(e).__name__}: {e.strerror or e})") from e
    return ps


def cached_path(dataset: str, split: str, data_root, cache_dir, **options) -> Path:
    """Where :func:`load_dataset` caches this conversion (whether or not it exists yet)."""
    root = Path(data_root).expanduser()
    key = cache_key(dataset, split, _sources(dataset, split, root, options), options)
    return Path(cache_dir).expanduser() / f"{dataset}_{split}_{key}.npz"


def default_cache_dir() -> Path:
    """The user cache folder (:func:`posecore.cache.cache_root`: $POSECORE_CACHE, else the platform's)."""
    from ..cache import cache_root
    return cache_root()


# datasets whose splits come from different annotation files (the others split one file by subject or files)
DISTINCT_SPLIT_FILES = ("mpii",)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open_regular(path, "annotation file") as f:  # a regular file only: never blocks on a pipe
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_distinct_splits(dataset: str, splits, data_root, options: dict) -> None:
    """DataFormatError when two ``splits`` of a dataset whose splits are separate annotation files
    (:data:`DISTINCT_SPLIT_FILES`) would convert the same file: one resolved path (a file given as
    ``data_root``, a symlink) or identical content (sha256); the message names both files and splits."""
    if dataset not in DISTINCT_SPLIT_FILES or len(set(splits)) < 2:
        return
    seen = []
    for split in dict.fromkeys(splits):
        src = Path(_sources(dataset, split, Path(data_root).expanduser(), options)[0])
        real = src.resolve()
        for other, osrc, oreal, odigest in seen:
            if real == oreal:
                raise DataFormatError(
                    f"{src}: --split {other} and --split {split} would both convert this one annotation file "
                    f"({osrc} and {src}): refusing to convert it twice (a {other}/{split} split needs two files)")
            digest = _sha256(src)
            if digest == odigest:
                raise DataFormatError(
                    f"{src}: identical content to {osrc} (sha256 {digest[:16]}...): --split {other} ({osrc}) and "
                    f"--split {split} ({src}) would convert the same annotations twice")
        seen.append((split, src, real, _sha256(src)))


def prepare_cli(dataset: str, description: str, add_options=None, argv=None) -> list[Path]:
    """Shared body of ``data_scripts/prepare_*.py``: parse ``--data-root``, ``--cache-dir``,
    ``--split`` (repeatable; default all splits) plus dataset options (``add_options(parser)``
    returns a function args -> options dict), convert each split into the cache and print the path
    and a summary line per split. Returns the cache paths."""
    import argparse
    import logging
    import time
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data-root", required=True, type=Path, help="folder holding the dataset's files (read only)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="where converted PoseSet .npz files go (default $POSECORE_CACHE or ~/.cache/posecore)")
    ap.add_argument("--split", action="append", choices=SPLITS[dataset], default=None,
                    help=f"split(s) to convert (default: {', '.join(SPLITS[dataset])})")
    to_options = add_options(ap) if add_options else (lambda a: {})
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cache = args.cache_dir or default_cache_dir()
    options = to_options(args)
    check_distinct_splits(dataset, args.split or SPLITS[dataset], args.data_root, options)
    out = []
    for split in args.split or SPLITS[dataset]:
        if dataset == "bvh" and split != "all" and not args.split:
            continue  # by default only 'all' for BVH
        t0 = time.perf_counter()
        ps = load_dataset(dataset, split, args.data_root, cache_dir=cache, **options)
        path = cached_path(dataset, split, args.data_root, cache, **options)
        s = ps.summary()
        print(f"{dataset}/{split}: {s['samples']} samples, subjects {s['subjects']}, {s['cameras']} cameras "
              f"-> {path} ({time.perf_counter() - t0:.1f} s)")
        for k in ("absent", "flagged", "length_mismatches"):
            if ps.meta.get(k):
                print(f"  {k}: {len(ps.meta[k])} (see meta['{k}'])")
        out.append(path)
    return out


def prepare_main(dataset: str, description: str, add_options=None, argv=None) -> int:
    """Entry point of ``data_scripts/prepare_*.py``: :func:`prepare_cli`, with every error reported as one
    line ``error: <file>: <problem>`` on stderr (no traceback; set ``POSECORE_TRACEBACK=1`` to get one)
    and warnings as ``warning: <message>`` lines. Returns the exit status (0 ok, 1 error)."""
    import warnings
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {one_line(message)}\n"
    try:
        prepare_cli(dataset, description, add_options, argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 -- the one place that turns any failure into one line
        if os.environ.get("POSECORE_TRACEBACK"):
            raise
        expected = isinstance(e, (ValueError, OSError))
        msg = one_line(e) if expected else f"unexpected {type(e).__name__}: {one_line(e)} (a bug: please report it; " \
                                             "POSECORE_TRACEBACK=1 shows the traceback)"
        print(f"error: {msg}", file=sys.stderr)
        return 1
    return 0
