"""Reading the user's dataset files without ever trusting them.

Every reader of a real dataset (:mod:`~posecore.data.h36m`, :mod:`~posecore.data.mpii`,
:mod:`~posecore.data.mpi3dhp`, :mod:`~posecore.data.bvh_reader`) reports a malformed input with
:class:`DataFormatError`, whose message starts with the offending file and says what is wrong with it;
a missing file stays a :class:`FileNotFoundError`. Nothing here writes, and nothing executes code
from a file:

* :func:`load_npz` reads a ``.npz`` whose object arrays are pickles (VideoPose3D's Human3.6M files)
  with :class:`RestrictedUnpickler`, which admits only the few numpy globals such a file needs and
  refuses any other one (``os.system``, ``builtins.eval``, ...) *before* calling it.
* :func:`require_file`, :func:`numeric_array`, :func:`check_finite` are the shared shape / type checks.
* :func:`check_human_scale` refuses 3D poses whose size is not that of a person in the unit the format
  promises, and names the unit the values look like (mm given as m, ...).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np


class DataFormatError(ValueError):
    """A dataset file (or a path given for one) is malformed; the message names the file and the problem."""


# --- files -----------------------------------------------------------------------------------------
def require_file(path, what: str = "file") -> Path:
    """``path`` as a Path if it is a regular file; FileNotFoundError if absent, DataFormatError if it is a
    folder or anything else but a file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a folder, expected a {what}")
    if not path.is_file():
        raise DataFormatError(f"{path}: is not a regular file, expected a {what}")
    return path


def read_text(path, what: str = "text file") -> str:
    """The UTF-8 text of ``path``; DataFormatError for a folder, binary data or an unreadable file."""
    path = require_file(path, what)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataFormatError(f"{path}: cannot read the {what} ({type(e).__name__}: {e})") from e
    if b"\x00" in data:
        raise DataFormatError(f"{path}: binary data, expected a UTF-8 {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text, expected a {what} ({e})") from e


# --- restricted unpickling -------------------------------------------------------------------------
def _numpy_globals() -> dict:
    """(module, name) -> object for the globals a pickled numpy object array may reference, under the
    module names of numpy 1.x (``numpy.core``) and 2.x (``numpy._core``)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray

    def reconstruct(subtype, shape, dtype):
        # ndarray.__reduce__ always pickles _reconstruct(ndarray, (0,), b'b'); the data come with BUILD
        if subtype is not np.ndarray or int(np.prod(shape)) != 0:
            raise pickle.UnpicklingError(f"unexpected array reconstruction {subtype!r}, shape {shape!r}")
        return multiarray._reconstruct(subtype, shape, dtype)

    out = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = reconstruct
        out[(mod, "scalar")] = multiarray.scalar
    out[("_codecs", "encode")] = _latin1_encode  # protocol-2 pickles spell bytes as _codecs.encode(s, 'latin1')
    return out


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(obj).__name__}, {encoding!r})")
    return obj.encode(encoding, errors)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts, lists, tuples, strings and numbers -- what VideoPose3D's npz files
    hold -- and refuses every other global with a :class:`DataFormatError` naming ``source`` and the
    global, before anything is called."""

    def __init__(self, file, source: str):
        super().__init__(file, encoding="latin1")
        self.source = source
        self.allowed = _numpy_globals()

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise DataFormatError(
                f"{self.source}: refusing to unpickle the forbidden global '{module}.{name}' (a dataset file "
                "may only hold numpy arrays, dicts, lists and numbers; this file is corrupt or malicious)") from None

    def persistent_load(self, pid):
        raise DataFormatError(f"{self.source}: refusing a pickle with persistent ids (not a dataset file)")


def safe_unpickle(data, source: str):
    """``pickle.load`` of ``data`` (bytes or a binary file) restricted to :class:`RestrictedUnpickler`;
    any failure is a DataFormatError naming ``source``."""
    try:
        return RestrictedUnpickler(io.BytesIO(data) if isinstance(data, bytes) else data, source).load()
    except DataFormatError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, RecursionError, MemoryError, errors of BUILD ...
        raise DataFormatError(f"{source}: corrupt pickle ({type(e).__name__}: {e})") from e


def _read_npy(zf: zipfile.ZipFile, member: str, source: str) -> np.ndarray:
    """One ``.npy`` member, streamed: object arrays through :func:`safe_unpickle`, plain arrays with
    numpy's reader (pickles disallowed)."""
    from numpy.lib import format as npy
    with zf.open(member) as fp:
        version = npy.read_magic(fp)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        dtype = read_header(fp)[2]
        if dtype.hasobject:
            obj = safe_unpickle(fp, source)
            if not isinstance(obj, np.ndarray):
                raise DataFormatError(f"{source}: the pickle holds a {type(obj).__name__}, expected a numpy array")
            return obj
    with zf.open(member) as fp:
        return npy.read_array(fp, allow_pickle=False)


def load_npz(path, what: str = "npz file") -> dict:
    """All members of a ``.npz`` as {name: array}, object arrays unpickled with
    :class:`RestrictedUnpickler`; DataFormatError naming ``path`` for anything that is not a readable npz."""
    path = require_file(path, what)
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                out[key] = _read_npy(zf, member, f"{path} [{key}]")
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise DataFormatError(f"{path}: truncated or unreadable npz ({type(e).__name__}: {e})") from e
    return out


# --- values ----------------------------------------------------------------------------------------
def numeric_array(value, where: str, shape=None, allow_bool: bool = False) -> np.ndarray:
    """``value`` (a JSON list, a mat array, ...) as a float64 array; DataFormatError (message starting
    with ``where``, e.g. ``'<file>: entry 3: center'``) for strings, None, ragged lists, or a shape
    other than ``shape`` (a tuple, ``None`` for an axis of any length)."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise DataFormatError(f"{where}: not a regular array of numbers ({e})") from e
    kinds = "iuf" + ("b" if allow_bool else "")
    if a.dtype.kind not in kinds:
        shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
        raise DataFormatError(f"{where}: expected numbers, got {shown} (dtype {a.dtype})")
    if shape is not None and (a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape))):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise DataFormatError(f"{where} has shape {a.shape}, expected {want}")
    return a.astype(np.float64)


def check_finite(a, where: str) -> None:
    """DataFormatError if ``a`` holds NaN or inf."""
    bad = ~np.isfinite(np.asarray(a, float))
    if bad.any():
        raise DataFormatError(f"{where}: {int(bad.sum())} NaN/inf values")


# --- physical plausibility -------------------------------------------------------------------------
UNITS_TO_MM = {"mm": 1.0, "cm": 10.0, "dm": 100.0, "m": 1000.0, "in": 25.4, "inch": 25.4, "ft": 304.8}
HINT_UNITS = ("mm", "cm", "m", "in")  # the units :func:`unit_hint` suggests
# median over frames of the largest joint distance from the pelvis, mm: ~870 for an adult standing
HUMAN_EXTENT_MM = (250.0, 2500.0)
TYPICAL_EXTENT_MM = 870.0


def skeleton_extents(poses) -> np.ndarray:
    """(N,) per frame, the largest distance of a joint from joint 0 (the pelvis), in the poses' unit."""
    p = np.asarray(poses, float)
    return np.linalg.norm(p - p[:, :1], axis=-1).max(-1)


def unit_hint(extent_mm: float, assumed: str) -> str:
    """What unit the values look like, given their extent read as ``assumed`` (a key of UNITS_TO_MM)."""
    raw = extent_mm / UNITS_TO_MM[assumed]
    if not np.isfinite(raw) or raw <= 0:
        return "the joints coincide or are not finite"
    lo, hi = HUMAN_EXTENT_MM
    fits = [u for u in HINT_UNITS if lo <= raw * UNITS_TO_MM[u] <= hi and u != assumed]
    if fits:
        best = min(fits, key=lambda u: abs(np.log(raw * UNITS_TO_MM[u] / TYPICAL_EXTENT_MM)))
        return f"the values look like {best} given as {assumed}"
    return f"no length unit makes this a human skeleton (values {raw:.3g} {assumed} across)"


def check_human_scale(poses, where: str, unit: str = "mm", assumed: str | None = None) -> None:
    """DataFormatError (starting with ``where``) unless poses (N, J, 3) in ``unit`` (pelvis = joint 0) are
    the size of a person: the median frame within :data:`HUMAN_EXTENT_MM` (else the message gives the
    measured size and the unit the values look like) and no frame beyond 4x that range (a corrupt
    frame). ``assumed`` is the unit the *file* was read in, when it differs from ``unit`` (e.g. BVH: file
    in cm, poses here in mm)."""
    p = np.asarray(poses, float)
    if p.size == 0:
        return
    with np.errstate(all="ignore"):
        ext = skeleton_extents(p) * UNITS_TO_MM[unit]
    med = float(np.median(ext))
    lo, hi = HUMAN_EXTENT_MM
    assumed = assumed or unit
    if not (np.isfinite(med) and lo <= med <= hi):
        raise DataFormatError(
            f"{where}: wrong units? the skeleton measures {med:.4g} mm from pelvis to farthest joint (a person: "
            f"{lo:g}-{hi:g} mm) when read as {assumed}; {unit_hint(med, assumed)}")
    bad = np.flatnonzero(~((ext >= lo / 4) & (ext <= hi * 4)))
    if len(bad):
        raise DataFormatError(
            f"{where}: {len(bad)} of {len(ext)} frames are not a person-sized skeleton (frame {bad[0]}: "
            f"{ext[bad[0]]:.4g} mm from pelvis to farthest joint, median frame {med:.4g} mm): corrupt frames")


def one_line(message) -> str:
    """An error message on one line (for the prepare scripts' ``error: <file>: <problem>``)."""
    return " ".join(str(message).split())
