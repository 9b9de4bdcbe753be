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

Bounded reading (every reader of a user's file, :mod:`posecore.keypoints` included, goes through these):

* :func:`open_regular` opens regular files only: a named pipe, a device (``/dev/zero``), a socket -- or a
  symlink to one, the target is what is checked -- is refused after ``os.stat``, before ``open``; the
  file is opened with ``O_NONBLOCK`` and checked again with ``os.fstat``, so a pipe swapped in between
  cannot block. :func:`read_bytes` reads at most a byte limit.
* :func:`check_declared` checks the shape x itemsize an array *declares* (a ``.npy`` header, an HDF5
  dataset, a pickled array's state) before anything is allocated: against the bytes really stored
  (a stored ``.npy`` / npz member: the member's size; a deflated member: the zip's declared uncompressed
  size, itself at most :data:`MAX_DEFLATE_RATIO` x the compressed bytes; HDF5: at most
  :data:`MAX_DEFLATE_RATIO` x the file size), against :func:`max_poses` on the poses axis and against
  :func:`max_array_bytes`. :func:`load_npz` reads only the members asked for (the others are never
  decompressed), :func:`read_npy` one ``.npy`` file, :func:`read_h5_dataset` one HDF5 dataset.
* :class:`RestrictedUnpickler` bounds what a pickle may allocate: a pickled array's data are in the
  pickle, so a BUILD state whose shape x itemsize differs from its payload is refused before numpy
  allocates it, ``numpy.ndarray(...)`` is never called, and everything the allowed calls create
  together is at most twice the pickle's length (+ 1 MiB).
* :func:`parse_json` parses JSON with one-line errors naming the file for invalid JSON, nesting too
  deep and integers longer than Python's digit limit.

Limits (environment variables, read at each call; positive integers):

=============================  ==============  ==================================================
``POSECORE_MAX_POSES``         10,000,000      poses (frames, rows) one array may declare
``POSECORE_MAX_ARRAY_BYTES``   4 GiB           bytes one array may declare
``POSECORE_MAX_TEXT_BYTES``    2 GiB           bytes of one JSON / text file
=============================  ==============  ==================================================
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import stat
import zipfile
from pathlib import Path

import numpy as np


class DataFormatError(ValueError):
    """A dataset file (or a path given for one) is malformed; the message names the file and the problem."""


# --- files -----------------------------------------------------------------------------------------
DEFAULT_MAX_POSES = 10_000_000
DEFAULT_MAX_ARRAY_BYTES = 4 * 1024 ** 3
DEFAULT_MAX_TEXT_BYTES = 2 * 1024 ** 3
# deflate cannot expand data more than ~1032:1; a member (or HDF5 file) declaring more is forged
MAX_DEFLATE_RATIO = 1100


def _env_limit(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        n = int(float(value))
    except ValueError:
        n = 0
    if n <= 0:
        raise ValueError(f"environment variable {name}={value!r}: expected a positive integer")
    return n


def max_poses() -> int:
    """Most poses (frames, rows) one array may declare: ``POSECORE_MAX_POSES`` (default 10**7)."""
    return _env_limit("POSECORE_MAX_POSES", DEFAULT_MAX_POSES)


def max_array_bytes() -> int:
    """Most bytes one array may declare: ``POSECORE_MAX_ARRAY_BYTES`` (default 4 GiB)."""
    return _env_limit("POSECORE_MAX_ARRAY_BYTES", DEFAULT_MAX_ARRAY_BYTES)


def max_text_bytes() -> int:
    """Most bytes of one JSON / text file: ``POSECORE_MAX_TEXT_BYTES`` (default 2 GiB)."""
    return _env_limit("POSECORE_MAX_TEXT_BYTES", DEFAULT_MAX_TEXT_BYTES)


def _fail(path, problem: str) -> DataFormatError:
    """A DataFormatError ``"<path>: <problem>"`` carrying ``.path`` and ``.problem`` (for readers that
    report their errors with another class, e.g. :class:`posecore.keypoints.KeypointError`)."""
    e = DataFormatError(f"{path}: {problem}")
    e.path, e.problem = str(path), problem
    return e


def _mb(n: int) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n} bytes"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "an unknown kind of file"


def check_regular(path, what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed: the target is checked) if it is a regular file;
    FileNotFoundError if absent, DataFormatError for a folder, a named pipe, a device, a socket."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} not found") from None
    except OSError as e:
        raise _fail(path, f"cannot read the {what} ({type(e).__name__}: {e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, f"is a folder, expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        link = f" (a symlink to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise _fail(path, f"is {kind}{link}, not a regular file; expected a {what}")
    return st


def require_file(path, what: str = "file", limit: int | None = None) -> Path:
    """``path`` as a Path if it is a regular file (:func:`check_regular`) of at most ``limit`` bytes (if
    given); FileNotFoundError if absent, DataFormatError if it is a folder or anything else but a file."""
    st = check_regular(path, what)
    if limit is not None and st.st_size > limit:
        raise _fail(path, f"{_mb(st.st_size)}, more than the limit of {_mb(limit)} for a {what} "
                          "(set POSECORE_MAX_TEXT_BYTES to raise it)")
    return Path(path)


def open_regular(path, what: str = "file"):
    """``path`` opened for binary reading (a buffered file object) if it is a regular file: checked with
    ``os.stat`` before opening, opened with ``O_NONBLOCK`` (a FIFO swapped in cannot block) and checked
    again with ``os.fstat``. Errors as :func:`check_regular`."""
    check_regular(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise _fail(path, f"cannot read the {what} ({type(e).__name__}: {e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _fail(path, f"is {_kind(st.st_mode)}, not a regular file; expected a {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, what: str = "file", limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_regular`), at most ``limit`` (default
    :func:`max_text_bytes`); DataFormatError naming the file beyond it."""
    limit = max_text_bytes() if limit is None else int(limit)
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise _fail(path, f"{_mb(size)}, more than the limit of {_mb(limit)} for a {what} "
                              "(set POSECORE_MAX_TEXT_BYTES to raise it)")
        try:
            data, rest = f.read(size), []  # (read(limit + 1) would allocate the whole limit)
            n = len(data)
            while True:  # a file that grew since fstat: the rest, up to the limit
                more = f.read(min(1 << 20, limit + 1 - n))
                if not more:
                    break
                rest.append(more)
                n += len(more)
                if n > limit:
                    raise _fail(path, f"more than the limit of {_mb(limit)} for a {what} (the file grew while read)")
        except OSError as e:
            raise _fail(path, f"cannot read the {what} ({type(e).__name__}: {e.strerror or e})") from None
    return data + b"".join(rest) if rest else data


def read_text(path, what: str = "text file") -> str:
    """The UTF-8 text of ``path`` (at most :func:`max_text_bytes`); DataFormatError for a folder, a pipe
    or device, binary data or an unreadable file."""
    data = read_bytes(path, what)
    if b"\x00" in data:
        raise DataFormatError(f"{path}: binary data, expected a UTF-8 {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text, expected a {what} ({e})") from e


def parse_json(text, source, what: str = "JSON file"):
    """``json.loads(text)`` with one-line DataFormatErrors naming ``source``: invalid JSON (line and
    column), nesting too deep, an integer longer than Python's digit limit."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        end = len(text.rstrip()) - 1 if isinstance(text, (str, bytes)) else -1
        hint = " (truncated?)" if e.pos >= end else ""
        raise _fail(source, f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}{hint}") from None
    except RecursionError:
        raise _fail(source, f"not a {what}: JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise _fail(source, f"not valid JSON: not UTF-8 text, expected a {what}") from None
    except ValueError as e:
        if "digits" in str(e):
            raise _fail(source, f"a number with more than {_max_digits()} digits, expected a {what}") from None
        raise _fail(source, f"not valid JSON ({e})") from None


def _max_digits() -> int:
    import sys
    get = getattr(sys, "get_int_max_str_digits", None)
    return get() if get and get() else 4300


# --- declared sizes --------------------------------------------------------------------------------
def check_declared(source, shape, dtype, stored: int | None = None, poses_axis: int | None = None,
                   what: str = "array") -> int:
    """The bytes an array of ``shape`` and ``dtype`` would take, checked BEFORE it is allocated:
    DataFormatError naming ``source`` if the axis ``poses_axis`` exceeds :func:`max_poses`, if the bytes
    exceed ``stored`` (what the file really holds for it) or :func:`max_array_bytes`. The poses axis is only
    counted for arrays of 3 or more dimensions ((N, J, C), (N, 1, J, C)): a 2D array is one pose."""
    try:
        shape = tuple(int(d) for d in shape)
        itemsize = int(np.dtype(dtype).itemsize)
    except (TypeError, ValueError) as e:
        raise _fail(source, f"{what} declares an invalid shape {shape!r} or dtype {dtype!r} ({e})") from None
    if any(d < 0 for d in shape):
        raise _fail(source, f"{what} declares a negative shape {shape}")
    nbytes = math.prod(shape) * itemsize
    if poses_axis is not None and len(shape) >= 3 and shape[poses_axis] > max_poses():
        raise _fail(source, f"{what} declares {shape[poses_axis]} poses (shape {shape}), more than the limit of "
                            f"{max_poses()} (set POSECORE_MAX_POSES to raise it)")
    if stored is not None and nbytes > stored:
        raise _fail(source, f"{what} declares shape {shape} of {np.dtype(dtype)} ({_mb(nbytes)}) but the file holds "
                            f"only {_mb(max(int(stored), 0))} for it (truncated file or forged header)")
    if nbytes > max_array_bytes():
        raise _fail(source, f"{what} declares shape {shape} of {np.dtype(dtype)} ({_mb(nbytes)}), more than the "
                            f"limit of {_mb(max_array_bytes())} (set POSECORE_MAX_ARRAY_BYTES to raise it)")
    return nbytes


# --- restricted unpickling -------------------------------------------------------------------------
class _NdarrayClass:
    """Stands for ``numpy.ndarray`` in a pickle: the argument of ``_reconstruct``; calling it (which would
    allocate any shape the pickle names) is refused."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray(...) (a pickled array is rebuilt with "
                                     "_reconstruct and its data; this pickle is corrupt or malicious)")

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayClass()


def _numpy_globals(unpickler=None) -> dict:
    """(module, name) -> object for the globals a pickled numpy object array may reference, under the
    module names of numpy 1.x (``numpy.core``) and 2.x (``numpy._core``). With ``unpickler`` (a
    :class:`RestrictedUnpickler`) the calls that allocate are charged to its budget."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray

    def reconstruct(subtype, shape, dtype):
        # ndarray.__reduce__ always pickles _reconstruct(ndarray, (0,), b'b'); the data come with BUILD
        if subtype is not _NDARRAY or int(np.prod(shape)) != 0:
            raise pickle.UnpicklingError(f"unexpected array reconstruction {subtype!r}, shape {shape!r}")
        return multiarray._reconstruct(np.ndarray, shape, dtype)

    def scalar(dtype, obj=None):
        dtype = np.dtype(dtype)
        if not dtype.hasobject and (not isinstance(obj, bytes) or len(obj) != dtype.itemsize):
            raise pickle.UnpicklingError(f"a numpy scalar of {dtype} needs {dtype.itemsize} bytes of data, "
                                         f"got {type(obj).__name__}")
        return multiarray.scalar(dtype, obj) if obj is not None else multiarray.scalar(dtype)

    def encode(obj, encoding="latin1", errors="strict"):
        out = _latin1_encode(obj, encoding, errors)
        if unpickler is not None:
            unpickler.charge(len(out), "bytes")
        return out

    out = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): np.dtype}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = reconstruct
        out[(mod, "scalar")] = scalar
    out[("_codecs", "encode")] = encode  # protocol-2 pickles spell bytes as _codecs.encode(s, 'latin1')
    return out


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(obj).__name__}, {encoding!r})")
    return obj.encode(encoding, errors)


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickles numpy arrays, dicts, lists, tuples, strings and numbers -- what VideoPose3D's npz files
    hold -- and refuses every other global with a :class:`DataFormatError` naming ``source`` and the
    global, before anything is called.

    Allocation is bounded by the pickle's length ``size`` (default: the bytes given, or what is left of a
    seekable file): an array's BUILD state must carry exactly the data its shape x dtype declares (checked
    before numpy allocates), ``numpy.ndarray(...)`` is never called, and the bytes created by the allowed
    calls (arrays built, ``_codecs.encode``) are at most ``2 * size + 1 MiB`` in all. (The pure-Python
    unpickler, so that BUILD can be checked; numpy data are read as whole byte strings, so it is not slow.)"""

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: RUF012 -- pickle's own protocol

    def __init__(self, file, source: str, size: int | None = None):
        super().__init__(file, encoding="latin1")
        self.source = source
        if size is None:
            try:
                pos = file.tell()
                size = file.seek(0, io.SEEK_END) - pos
                file.seek(pos)
            except (AttributeError, OSError, ValueError):
                size = max_array_bytes()
        self.size = int(size)
        self.budget = 2 * self.size + 2 ** 20
        self.allowed = _numpy_globals(self)

    def charge(self, nbytes: int, what: str) -> None:
        self.budget -= int(nbytes)
        if self.budget < 0:
            raise pickle.UnpicklingError(f"the pickle ({_mb(self.size)}) creates more than twice its size of "
                                         f"{what}: corrupt or malicious")

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise DataFormatError(
                f"{self.source}: refusing to unpickle the forbidden global '{module}.{name}' (a dataset file "
                "may only hold numpy arrays, dicts, lists and numbers; this file is corrupt or malicious)") from None

    def persistent_load(self, pid):
        raise DataFormatError(f"{self.source}: refusing a pickle with persistent ids (not a dataset file)")

    def load_build(self):
        inst = self.stack[-2] if len(self.stack) >= 2 else None
        if isinstance(inst, np.ndarray):
            self._check_array_state(self.stack[-1])
        elif inst is not None and not isinstance(inst, np.dtype):
            raise pickle.UnpicklingError(f"unexpected BUILD of a {type(inst).__name__}")
        pickle._Unpickler.load_build(self)
    dispatch[pickle.BUILD[0]] = load_build

    def _check_array_state(self, state):
        """ndarray.__setstate__'s (version, shape, dtype, fortran, data): the data must be all there."""
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("malformed array state")
        shape, dtype, data = state[-4], state[-3], state[-1]
        if not isinstance(shape, tuple) or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("malformed array state (shape or dtype)")
        nbytes = check_declared(self.source, shape, dtype, what="a pickled array")
        if dtype.hasobject:
            count = math.prod(int(d) for d in shape) * (dtype.itemsize // np.dtype(object).itemsize)
            if not isinstance(data, list) or len(data) != count:
                raise pickle.UnpicklingError(f"a pickled object array of shape {shape} comes with "
                                             f"{len(data) if isinstance(data, list) else type(data).__name__} items")
            self.charge(count, "array elements")
        else:
            # bytes, or a latin-1 str (a Python 2 pickle read with encoding='latin1': one char per byte)
            size = len(data) if isinstance(data, (bytes, bytearray, str)) else -1
            if size != nbytes:
                raise pickle.UnpicklingError(f"a pickled array declares shape {shape} of {dtype} ({_mb(nbytes)}) "
                                             f"but holds {_mb(max(size, 0))} of data")
            self.charge(nbytes, "array data")


def safe_unpickle(data, source: str, size: int | None = None):
    """``pickle.load`` of ``data`` (bytes or a binary file of ``size`` bytes) restricted to
    :class:`RestrictedUnpickler`; any failure is a DataFormatError naming ``source``."""
    try:
        if isinstance(data, (bytes, bytearray)):
            return RestrictedUnpickler(io.BytesIO(data), source, len(data)).load()
        return RestrictedUnpickler(data, source, size).load()
    except DataFormatError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, RecursionError, MemoryError, errors of BUILD ...
        raise DataFormatError(f"{source}: corrupt pickle ({type(e).__name__}: {e})") from e


# --- .npy / .npz -----------------------------------------------------------------------------------
def _npy_header(fp, source):
    """(shape, fortran_order, dtype) of the .npy stream ``fp`` (positioned at its start)."""
    from numpy.lib import format as npy
    version = npy.read_magic(fp)
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    return read_header(fp)


def _read_npy_data(fp, shape, fortran, dtype, nbytes: int, source) -> np.ndarray:
    """The ``nbytes`` of data after the header, read into a fresh array (checked sizes only)."""
    count = math.prod(shape)
    a = np.empty(count, dtype)
    view = memoryview(a.view(np.uint8).reshape(-1)) if nbytes else None
    got = 0
    while got < nbytes:
        n = fp.readinto(view[got:got + (1 << 24)])
        if not n:
            raise _fail(source, f"truncated: the array declares {_mb(nbytes)} of data, the file holds {_mb(got)}")
        got += n
    if fortran:
        return a.reshape(shape[::-1]).transpose()
    return a.reshape(shape)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, file_size: int,
                 poses_axis: int | None = 0, pickles: bool = True):
    """One ``.npy`` member with checked sizes: object arrays through :func:`safe_unpickle`, plain arrays
    read into an array allocated once its declared size is known to fit what the member holds."""
    if info.compress_size > file_size:
        raise _fail(source, f"the zip declares {_mb(info.compress_size)} stored for this member, more than the "
                            f"whole file ({_mb(file_size)}): forged or truncated zip")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            raise _fail(source, "a stored member whose declared size differs from its stored size: forged zip")
    elif info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise _fail(source, f"the zip declares {_mb(info.file_size)} uncompressed from {_mb(info.compress_size)} "
                            f"compressed, more than deflate can expand: forged zip")
    if info.file_size > max_array_bytes() + 2 ** 20:
        raise _fail(source, f"{_mb(info.file_size)} uncompressed, more than the limit of {_mb(max_array_bytes())} "
                            "(set POSECORE_MAX_ARRAY_BYTES to raise it)")
    with zf.open(info) as fp:
        shape, fortran, dtype = _npy_header(fp, source)
        left = info.file_size - fp.tell()
        if dtype.hasobject:
            if not pickles:
                raise _fail(source, "holds Python objects (pickled); posecore never unpickles: save a plain "
                                    "numeric array")
            obj = safe_unpickle(fp, source, left)
            if not isinstance(obj, np.ndarray):
                raise DataFormatError(f"{source}: the pickle holds a {type(obj).__name__}, expected a numpy array")
            return obj
        nbytes = check_declared(source, shape, dtype, stored=left, poses_axis=poses_axis)
        return _read_npy_data(fp, shape, fortran, dtype, nbytes, source)


def _npz_key(member: str) -> str:
    return member.removesuffix(".npy")


def npz_names(path, what: str = "npz file") -> list:
    """The array names of a ``.npz`` (its members, ``.npy`` dropped), read from the zip's directory only."""
    with open_regular(path, what) as f:
        try:
            with zipfile.ZipFile(f) as zf:
                return [_npz_key(m) for m in zf.namelist()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as e:
            raise DataFormatError(f"{path}: truncated or unreadable npz ({type(e).__name__}: {e})") from e


def load_npz(path, what: str = "npz file", keys=None, poses_axis: int | None = 0, pickles: bool = True) -> dict:
    """The members ``keys`` (names without ``.npy``; default all) of a ``.npz`` as {name: array}, those
    present: object arrays unpickled with :class:`RestrictedUnpickler`, every declared size checked
    (:func:`check_declared`) before anything is allocated; members not asked for are never decompressed;
    ``pickles=False`` refuses object arrays instead of unpickling them. DataFormatError naming ``path`` for anything that is not a readable npz."""
    out = {}
    with open_regular(path, what) as f:
        file_size = os.fstat(f.fileno()).st_size
        try:
            with zipfile.ZipFile(f) as zf:
                for info in zf.infolist():
                    key = _npz_key(info.filename)
                    if keys is not None and key not in keys:
                        continue
                    out[key] = _read_member(zf, info, f"{path} [{key}]", file_size, poses_axis, pickles)
        except DataFormatError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as e:
            raise DataFormatError(f"{path}: truncated or unreadable npz ({type(e).__name__}: {e})") from e
    return out


def read_npy(path, what: str = "npy file", poses_axis: int | None = 0) -> np.ndarray:
    """A plain (never pickled) ``.npy`` file, its declared shape x itemsize checked against the file's real
    size and the limits (:func:`check_declared`) before the array is allocated."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            shape, fortran, dtype = _npy_header(f, path)
        except (ValueError, EOFError, OSError) as e:
            raise _fail(path, f"not a readable numpy file ({e})") from None
        if dtype.hasobject:
            raise _fail(path, "holds Python objects (pickled); posecore never unpickles: save a plain numeric array")
        nbytes = check_declared(path, shape, dtype, stored=size - f.tell(), poses_axis=poses_axis,
                                what="not a readable numpy file: the array")
        return _read_npy_data(f, shape, fortran, dtype, nbytes, path)


# --- HDF5 ------------------------------------------------------------------------------------------
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def file_size(f) -> int:
    """The size of the open file ``f`` (``os.fstat``)."""
    return os.fstat(f.fileno()).st_size


def is_hdf5(f) -> bool:
    """Whether the open binary file ``f`` is HDF5: the signature at offset 0, 512, 1024, 2048, ... (a
    MATLAB v7.3 file has a 512-byte user block); ``f`` is left at offset 0."""
    size, offset = file_size(f), 0
    try:
        while offset + len(_HDF5_SIGNATURE) <= size:
            f.seek(offset)
            if f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else 2 * offset
        return False
    finally:
        f.seek(0)


def read_h5_dataset(dset, source, name: str, file_size: int | None = None, poses_axis: int | None = None):
    """``dset[()]`` of an h5py Dataset after checking its declared shape x itemsize (a chunked, compressed
    dataset can declare any shape in a small file): at most :data:`MAX_DEFLATE_RATIO` x ``file_size`` and
    the limits of :func:`check_declared`."""
    stored = None if file_size is None else MAX_DEFLATE_RATIO * max(int(file_size), 1)
    if dset.shape is None:  # an empty (null) dataspace
        return dset[()]
    check_declared(source, dset.shape, dset.dtype, stored=stored, poses_axis=poses_axis, what=f"{name!r}")
    return dset[()]


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
