"""Where posecore keeps what it can recompute: checkpoints, converted datasets, image caches.

Everything lives under one **cache root**:

* ``$POSECORE_CACHE`` when set;
* else the platform's user cache folder for ``posecore``: ``$XDG_CACHE_HOME/posecore`` or
  ``~/.cache/posecore`` on Linux, ``~/Library/Caches/posecore`` on macOS,
  ``%LOCALAPPDATA%\\posecore\\Cache`` on Windows (from ``platformdirs`` when it is installed, else the
  same rules here).

Inside it: ``checkpoints/`` (training checkpoints, :func:`posecore.train.checkpoint_dir`, unless
``$POSECORE_CHECKPOINTS`` puts them elsewhere), ``checkpoints/images/`` (rendered image caches),
``generated/`` (generated labels) and the converted real datasets (``<dataset>_<split>_<key>.npz``).

Command line::

    python -m posecore.cache list              # what is cached, with sizes and dates
    python -m posecore.cache clear             # delete all of it (asks first; --yes does not ask)
    python -m posecore.cache clear checkpoints # or one kind: checkpoints, images, generated, datasets
    python -m posecore.cache clear PATH ...    # or files/folders inside the cache root

``clear`` never deletes anything outside the cache root, and refuses a cache root that is a
filesystem root or the home folder.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

APP = "posecore"
KINDS = ("checkpoints", "images", "generated", "datasets", "other")


def _user_cache_dir() -> Path:
    try:
        import platformdirs
    except ImportError:
        platformdirs = None
    if platformdirs is not None:
        return Path(platformdirs.user_cache_dir(APP, appauthor=False))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / APP


def cache_root() -> Path:
    """``$POSECORE_CACHE``, else the user cache folder (``~/.cache/posecore`` on Linux). Not created."""
    env = os.environ.get("POSECORE_CACHE")
    return Path(env).expanduser() if env else _user_cache_dir()


def _checkpoints_env() -> Path | None:
    env = os.environ.get("POSECORE_CHECKPOINTS")
    return Path(env).expanduser() if env else None


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved, except its last component if it is a link) is inside ``root``."""
    path = Path(os.path.abspath(path))
    parent = path.parent.resolve()
    target = parent / path.name
    return root.resolve() in target.parents


def _unsafe_root(root: Path) -> str | None:
    r = root.resolve()
    if r == Path(r.anchor):
        return "is a filesystem root"
    if r == Path.home().resolve():
        return "is the home folder"
    if (r / ".git").exists():
        return "is a git checkout"
    return None


@dataclass(frozen=True)
class CacheEntry:
    """One cached file: its path, kind (one of :data:`KINDS`), size in bytes and modification time."""
    path: Path
    kind: str
    size: int
    mtime: float


def _kind(rel: Path, in_checkpoints: bool) -> str:
    parts = rel.parts
    if in_checkpoints:
        return "images" if parts[:1] == ("images",) else "checkpoints"
    if parts[:2] == ("checkpoints", "images"):
        return "images"
    if parts[:1] == ("checkpoints",):
        return "checkpoints"
    if parts[:1] == ("generated",):
        return "generated"
    if len(parts) == 1 and rel.suffix == ".npz":
        return "datasets"
    return "other"


def _walk(folder: Path, base: Path, in_checkpoints: bool) -> list[CacheEntry]:
    out = []
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):   # does not follow links to folders
        dirnames[:] = sorted(d for d in dirnames if d != ".locks")       # inter-process locks, not cached work
        for name in sorted(filenames):
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out.append(CacheEntry(p, _kind(p.relative_to(base), in_checkpoints), st.st_size, st.st_mtime))
    return out


def list_cache(root=None) -> list[CacheEntry]:
    """Every file under the cache root (``root`` or :func:`cache_root`), and under
    ``$POSECORE_CHECKPOINTS`` when that is outside it, sorted by kind then path."""
    root = Path(root) if root is not None else cache_root()
    entries = _walk(root, root, False)
    ck = _checkpoints_env()
    if ck is not None and ck.is_dir() and not (ck.resolve() == root.resolve() or _inside(ck, root)):
        entries += _walk(ck, ck, True)
    return sorted(entries, key=lambda e: (KINDS.index(e.kind), str(e.path)))


def _targets(what, root: Path) -> list[Path]:
    """The paths ``clear`` would delete for ``what`` (None: everything inside ``root``)."""
    if not what:
        return sorted(root.iterdir()) if root.is_dir() else []
    out = []
    for w in what:
        w = str(w)
        if w == "checkpoints":
            out.append(root / "checkpoints")
        elif w == "images":
            out.append(root / "checkpoints" / "images")
        elif w == "generated":
            out.append(root / "generated")
        elif w == "datasets":
            out += sorted(root.glob("*.npz"))
        else:
            p = Path(w).expanduser()
            out.append(p if p.is_absolute() else Path.cwd() / p)
    return out


def _check_root(root: Path) -> None:
    why = _unsafe_root(root) if root.exists() else None
    if why:
        raise ValueError(f"refusing to clear the cache root {root}: it {why}; set POSECORE_CACHE to a "
                         "folder of its own")


def _check_targets(targets, root: Path) -> None:
    outside = [p for p in targets if not _inside(p, root)]
    if outside:
        raise ValueError(f"refusing to delete outside the cache root {root}: "
                         + ", ".join(str(p) for p in outside))


def clear(what=None, *, root=None) -> list[Path]:
    """Delete cached files and folders; return what was deleted.

    ``what``: None for everything inside the cache root, or a list of kinds (``checkpoints``,
    ``images``, ``generated``, ``datasets``) and/or paths. Raises ValueError, deleting nothing, if a
    path is outside the cache root (or is the root itself) or if the root is unsafe (a filesystem
    root, the home folder, a git checkout). Links are removed, never followed."""
    root = Path(root) if root is not None else cache_root()
    _check_root(root)
    targets = _targets(what, root)
    _check_targets(targets, root)
    deleted = []
    for p in targets:
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        else:
            continue
        deleted.append(p)
    return deleted


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _print_list(root: Path) -> None:
    entries = list_cache(root)
    print(f"cache root: {root}" + ("" if root.exists() else " (does not exist yet)"))
    ck = _checkpoints_env()
    if ck is not None:
        print(f"checkpoints: {ck} ($POSECORE_CHECKPOINTS)")
    if not entries:
        print("nothing cached")
        return
    for kind in KINDS:
        sel = [e for e in entries if e.kind == kind]
        if not sel:
            continue
        print(f"\n{kind}: {len(sel)} file(s), {_size(sum(e.size for e in sel))}")
        for e in sel:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime))
            print(f"  {_size(e.size):>9}  {when}  {e.path}")
    print(f"\ntotal: {len(entries)} file(s), {_size(sum(e.size for e in entries))}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m posecore.cache", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list cached files with sizes and dates")
    c = sub.add_parser("clear", help="delete cached files (only inside the cache root)")
    c.add_argument("what", nargs="*", help="checkpoints, images, generated, datasets or paths inside "
                                           "the cache root (default: everything)")
    c.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    args = ap.parse_args(argv)
    root = cache_root()
    if args.cmd == "list":
        _print_list(root)
        return 0
    try:
        _check_root(root)
        targets = [p for p in _targets(args.what, root) if p.exists() or p.is_symlink()]
        _check_targets(targets, root)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not targets:
        print(f"nothing to clear in {root}")
        return 0
    print(f"cache root: {root}; will delete:")
    for p in targets:
        print(f"  {p}{'/' if p.is_dir() and not p.is_symlink() else ''}")
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: not a terminal; pass --yes to delete without asking", file=sys.stderr)
            return 1
        if input("delete? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    deleted = clear(targets, root=root)
    print(f"deleted {len(deleted)} item(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
