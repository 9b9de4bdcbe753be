"""Cached work named by what it computes, and written so that two processes cannot collide.

**The identity rule.** Every cached artefact (a training checkpoint, a rendered-image cache, a shipped
weight file) is named by :func:`key`: a hash of

* the stage's configuration (every field that changes what is computed: sizes, steps, seeds, ...),
* the explicit behaviour ``version`` of the stage and of every stage upstream of it
  (:class:`Stage`, declared once beside the code it versions, e.g. ``recipes/backbone.py``),
* the resolved precision ('fp32' / 'bf16') where the stage has one,
* torch's major.minor version,
* the content of the data (:func:`array_digest` / :func:`poseset_digest`, hashes of the arrays
  themselves), and, for rendered images, the renderer's version (``posecore.data.render.VERSION``).

The source text is *not* part of a key: a docstring, a rename or a moved function keeps every key,
and a change in what a stage computes must bump its ``version`` (the fingerprint test,
``tests/test_fingerprints.py``, fails with "behaviour changed: bump the stage's version or revert"
until it is done; ``python -m posecore.fingerprint --update`` then records the new behaviour).

**Writes.** :func:`atomic_save` writes through a uniquely named temporary file in the target's folder
and renames it into place, so a reader never sees a half-written file and an interrupted write leaves
only an ignored ``*.tmp``; :func:`locked` serialises the processes that want the same artefact: the
second one waits for the first and then loads what it wrote instead of computing it again.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Stage", "stage", "STAGES", "torch_version", "plain", "digest", "array_digest",
           "poseset_digest", "identity", "key", "atomic_write", "atomic_save", "atomic_write_bytes", "locked"]


# --- stages and their versions --------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One cached computation (a training stage, a render cache) and its behaviour ``version``: bump
    the version when the stage computes something else (a loss term, a schedule, a default inside
    the code, the data it builds its batches from); never for a docstring, a rename or a refactor.
    ``upstream``: the stages whose output it starts from (their versions are part of its key)."""
    name: str
    version: int
    upstream: tuple["Stage", ...] = ()

    def versions(self) -> dict[str, int]:
        """``{stage name: version}`` of this stage and every stage upstream of it."""
        out = {self.name: self.version}
        for s in self.upstream:
            out.update(s.versions())
        return out


STAGES: dict[str, Stage] = {}


def stage(name: str, version: int, upstream: tuple[Stage, ...] = ()) -> Stage:
    """Declare (once) the stage ``name`` at ``version``; every declared stage is in :data:`STAGES`
    (the fingerprint test checks that each one has a recorded fingerprint)."""
    assert isinstance(version, int) and version >= 1, f"stage {name!r}: version must be an int >= 1"
    s = Stage(name, version, tuple(upstream))
    old = STAGES.get(name)
    if old is not None and old != s:
        raise ValueError(f"stage {name!r} declared twice ({old} and {s})")
    STAGES[name] = s
    return s


def torch_version() -> str:
    """torch's ``major.minor`` (a new minor release may change kernels, so it trains anew)."""
    import torch
    return ".".join(torch.__version__.split("+")[0].split(".")[:2])


# --- content digests --------------------------------------------------------------------------------
def plain(config):
    """Dataclasses (also nested in dicts/lists) as dicts, numpy scalars as numbers, for hashing."""
    if hasattr(config, "__dataclass_fields__") and not isinstance(config, type):
        from dataclasses import fields
        return {f.name: plain(getattr(config, f.name)) for f in fields(config)}
    if isinstance(config, dict):
        return {str(k): plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [plain(v) for v in config]
    if isinstance(config, np.generic):
        return config.item()
    return config


def digest(obj, n: int = 16) -> str:
    """An ``n``-hex-digit SHA-256 of a JSON-able object (dicts in key order)."""
    text = json.dumps(plain(obj), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def array_digest(*arrays) -> str:
    """A 16-hex-digit SHA-256 of arrays' dtypes, shapes and bytes (numpy arrays or torch tensors)."""
    h = hashlib.sha256()
    for a in arrays:
        if hasattr(a, "detach"):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        if a.dtype.kind in "OUS":
            h.update(json.dumps(a.tolist(), default=str).encode("utf-8"))
        else:
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def poseset_digest(ps) -> str:
    """The content of a :class:`~posecore.data.PoseSet`: every array field (2D and 3D poses, cameras,
    visibility, subjects, actions, frames, scenes), not its name or length alone."""
    from dataclasses import fields
    return array_digest(*(getattr(ps, f.name) for f in fields(ps) if isinstance(getattr(ps, f.name), np.ndarray)))


# --- keys -------------------------------------------------------------------------------------------
def identity(stage: Stage, config, *, precision: str | None = None) -> dict:
    """What a cached artefact of ``stage`` computes: the stage and upstream versions, the configuration
    (which carries the data's content digest), the resolved precision and torch's major.minor."""
    if precision not in (None, "fp32", "bf16"):
        raise ValueError(f"identity: resolve the precision first (got {precision!r})")
    return {"stage": stage.name, "versions": stage.versions(), "config": plain(config),
            "precision": precision, "torch": torch_version()}


def key(stage: Stage, config, *, precision: str | None = None) -> str:
    """The 16-hex-digit name of what :func:`identity` describes."""
    return digest(identity(stage, config, precision=precision))


# --- writes that cannot collide ---------------------------------------------------------------------
def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file in the same folder and an atomic
    rename (no reader sees a partial file; two writers never share a temporary name)."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    import torch
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write(path, write) -> Path:
    """Call ``write(f)`` on a binary file object that becomes ``path`` atomically when it returns (a
    uniquely named temporary file in the same folder, then a rename); on an error the temporary
    file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive inter-process lock for ``path`` (``filelock``, a dependency of torch; the lock
    file is ``.locks/<name>.lock`` beside it) for the block: a second process asking for the same
    artefact waits here until the first has written it. The lock is released when the holder exits,
    even when it crashes."""
    from filelock import FileLock
    path = Path(path)
    (path.parent / ".locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / ".locks" / f"{path.name}.lock")):
        yield path
