"""Input that can never do harm: every reader of a user's file reads regular files only, with bounded
sizes (:mod:`posecore.data.safe_io`).

One test per class of hostile input: a named pipe (would block forever), a symlink to ``/dev/zero``
(would be read until memory runs out), an npz member or ``.npy`` header declaring a huge shape in a small
file, a pickle declaring a huge array, an extra large deflated npz member (must never be decompressed),
an HDF5 dataset declaring a huge chunked shape in a small file, and a 5000-digit integer in each JSON
entry point. Each checks the error type, that the message names the file, that it comes promptly (a
worker thread with a timeout, unblocked if it hangs), and that the input files are unchanged.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import threading
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from posecore import keypoints as kp
from posecore.data import fixtures as fx
from posecore.data import safe_io
from posecore.data.bvh_reader import load_mapping
from posecore.data.mpii import load_mpii_json
from posecore.data.real import load_dataset
from posecore.data.safe_io import DataFormatError

ROOT = Path(__file__).resolve().parents[1]
P3 = "data_3d_h36m.npz"
TIMEOUT_S = 10.0
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")


def snapshot(folder: Path) -> dict:
    """{relative path: (sha256, size, mtime_ns) of a regular file, else its kind}: never opens anything but
    a regular file (a pipe would block, /dev/zero never ends)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.stat(p) if p.exists() else os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            out[str(p.relative_to(folder))] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
        else:
            out[str(p.relative_to(folder))] = stat.S_IFMT(st.st_mode)
    return out


def unblock(path: Path) -> None:
    """Open and close the write end of a FIFO so that a reader stuck in open() goes on (test cleanup)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def refused(run, exc, names, data: Path, fifos=(), max_mb: float | None = None) -> str:
    """Run ``run()`` in a thread: it must raise ``exc`` within TIMEOUT_S with a message naming ``names``
    (a file name), leave ``data`` unchanged and (with ``max_mb``) allocate at most that many MB."""
    before = snapshot(data)
    result = {}

    def target():
        if max_mb is not None:
            tracemalloc.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run()
            result["ok"] = True
        except BaseException as e:  # noqa: BLE001 -- reported below
            result["error"] = e
        finally:
            if max_mb is not None:
                result["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(TIMEOUT_S)
    if t.is_alive():
        for f in fifos:
            unblock(f)
        t.join(TIMEOUT_S)
        pytest.fail(f"the reader blocked for more than {TIMEOUT_S:g} s")
    assert "ok" not in result, "the hostile input was accepted"
    e = result["error"]
    assert type(e) is exc, f"expected {exc.__name__}, got {type(e).__name__}: {e}"
    msg = str(e)
    assert str(names) in msg, f"the message does not name {names}: {msg}"
    assert "\n" not in msg, f"not one line: {msg!r}"
    if max_mb is not None:
        assert result["peak_mb"] <= max_mb, f"allocated {result['peak_mb']:.0f} MB before refusing"
    assert snapshot(data) == before, "the input files changed"
    return msg


def keypoint_array(n=40, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(100, 900, (n, 17, 2))


def npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


# --- named pipes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dets.json", "poses.npy", "poses.npz"])
def test_fifo_given_to_the_keypoint_reader(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    msg = refused(lambda: kp.read_keypoints(fifo), kp.KeypointError, name, tmp_path, fifos=[fifo])
    assert "named pipe" in msg


def test_fifo_in_an_openpose_folder_is_refused_not_skipped(tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    people = {"people": [{"pose_keypoints_2d": [100.0] * 75}]}
    (folder / "a_keypoints.json").write_text(json.dumps(people))
    os.mkfifo(folder / "b_keypoints.json")
    refused(lambda: kp.read_keypoints(folder), kp.KeypointError, "b_keypoints.json", tmp_path,
            fifos=[folder / "b_keypoints.json"])


def test_fifo_given_to_posecore_lift(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    try:
        r = subprocess.run([sys.executable, "-m", "posecore.cli", "lift", str(fifo), "--image-size", "1000", "1000"],
                           capture_output=True, text=True, cwd=ROOT, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        unblock(fifo)
        pytest.fail("posecore lift blocked on a named pipe")
    assert r.returncode == 2, r.stderr
    assert "pipe.json" in r.stderr and "named pipe" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("dataset", ["h36m", "mpii"])
def test_fifo_given_to_a_dataset_reader(tmp_path, dataset):
    data = tmp_path / "data"
    if dataset == "h36m":
        fx.write_h36m_npz(data, subjects=("S9",), n_frames=6)
        target, split = data / P3, "test"
    else:
        target, _ = fx.write_mpii_json(data / "annot", split="valid")
        split = "valid"
    target.unlink()
    os.mkfifo(target)
    msg = refused(lambda: load_dataset(dataset, split, data), DataFormatError, target.name, data, fifos=[target])
    assert "named pipe" in msg


# --- symlinks to devices -------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["dets.json", "poses.npy", "poses.npz"])
def test_symlink_to_dev_zero_given_to_the_keypoint_reader(tmp_path, name):
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    msg = refused(lambda: kp.read_keypoints(link), kp.KeypointError, name, tmp_path, max_mb=5)
    assert "character device" in msg and "/dev/zero" in msg


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero_given_to_a_dataset_reader(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    fx.write_bvh(data / "s1_walk.bvh", n_frames=6)
    (data / "mapping.json").symlink_to("/dev/zero")
    refused(lambda: load_dataset("bvh", "all", data), DataFormatError, "mapping.json", data, max_mb=5)


# --- declared sizes -----------------------------------------------------------------------------------
HUGE = (33_554_432, 17, 2)  # 33 million poses, 9 GB of float64


def test_npy_header_declaring_a_huge_shape(tmp_path):
    path = tmp_path / "poses.npy"
    path.write_bytes(npy_header(HUGE) + keypoint_array().tobytes())
    msg = refused(lambda: kp.read_keypoints(path), kp.KeypointError, "poses.npy", tmp_path, max_mb=5)
    assert "declares" in msg


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_member_declaring_a_huge_shape(tmp_path, compressed):
    path = tmp_path / "poses.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        zf.writestr("keypoints.npy", npy_header(HUGE) + keypoint_array().tobytes())
    msg = refused(lambda: kp.read_keypoints(path), kp.KeypointError, "poses.npz", tmp_path, max_mb=5)
    assert "declares" in msg


def test_npz_member_of_a_dataset_declaring_a_huge_shape(tmp_path):
    data = tmp_path / "data"
    fx.write_h36m_npz(data, subjects=("S9",), n_frames=6)
    (data / P3).unlink()
    with zipfile.ZipFile(data / P3, "w") as zf:
        zf.writestr("positions_3d.npy", npy_header((10 ** 7, 32, 3)) + bytes(4096))
    msg = refused(lambda: load_dataset("h36m", "test", data), DataFormatError, P3, data, max_mb=5)
    assert "declares" in msg


def test_too_many_poses_for_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "poses.npy"
    np.save(path, keypoint_array(40))
    monkeypatch.setenv("POSECORE_MAX_POSES", "10")
    msg = refused(lambda: kp.read_keypoints(path), kp.KeypointError, "poses.npy", tmp_path)
    assert "40 poses" in msg and "POSECORE_MAX_POSES" in msg


# --- pickles ---------------------------------------------------------------------------------------------
def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class NdarrayCall:
    """Unpickles as ``numpy.ndarray((5e8,), float64)``: 4 GB allocated by an allowed global."""

    def __reduce__(self):
        return (np.ndarray, ((500_000_000,), np.dtype("f8")))


class HugeBuild:
    """A pickled array whose BUILD state declares ``shape`` of ``dtype`` but carries ``data``."""

    def __init__(self, shape, dtype, data):
        self.state = (1, shape, np.dtype(dtype), False, data)

    def __reduce__(self):
        return (_reconstruct(), (np.ndarray, (0,), b"b"), self.state)


@pytest.mark.parametrize("payload", [
    NdarrayCall(),
    HugeBuild((500_000_000,), "f8", b"\0" * 64),        # numeric: 4 GB declared, 64 bytes of data
    HugeBuild((500_000_000,), object, [1.0, 2.0]),      # object array: 4 GB of pointers, 2 items
    HugeBuild((1, 2), [("a", "f8", (250_000_000,))], b""),  # a subarray dtype of 2 GB per item
], ids=["ndarray-call", "build-numeric", "build-object", "build-subarray-dtype"])
def test_pickle_declaring_a_huge_array(tmp_path, payload):
    data = tmp_path / "data"
    fx.write_h36m_npz(data, subjects=("S9",), n_frames=6)
    (data / P3).unlink()
    blob = pickle.dumps({"S9": {"Walking 1": payload}}, protocol=2)
    with zipfile.ZipFile(data / P3, "w") as zf:
        zf.writestr("positions_3d.npy", npy_header((), "|O") + blob)
    msg = refused(lambda: load_dataset("h36m", "test", data), DataFormatError, P3, data, max_mb=20)
    assert "pickle" in msg


def test_pickle_amplifying_its_data_is_refused():
    """One 1 MB byte string BUILT into 3000 arrays would be 3 GB from a 1 MB pickle."""
    one = HugeBuild((1 << 20,), "u1", b"\0" * (1 << 20))
    blob = pickle.dumps([one] * 1, protocol=4)
    assert isinstance(safe_io.safe_unpickle(blob, "ok"), list)  # a single array: fine
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=4)
    data = b"\0" * (1 << 20)
    p.dump([HugeBuild((1 << 20,), "u1", data) for _ in range(3000)])  # the bytes are memoised: pickled once
    assert len(buf.getvalue()) < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="amplified.pkl: corrupt pickle .*more than twice its size"):
            safe_io.safe_unpickle(buf.getvalue(), "amplified.pkl")
        assert tracemalloc.get_traced_memory()[1] < 50e6
    finally:
        tracemalloc.stop()


# --- members never read ------------------------------------------------------------------------------------
def write_deflated_zeros(zf: zipfile.ZipFile, name: str, nbytes: int) -> None:
    """A member ``name`` holding a .npy of ``nbytes`` zero bytes, deflated by ``zf`` (opened with ZIP_DEFLATED,
    compresslevel 1: fast, ~nbytes / 230 on disk), streamed."""
    with zf.open(name, "w", force_zip64=True) as f:
        f.write(npy_header((nbytes,), "|u1"))
        block = bytes(1 << 22)
        for _ in range(nbytes // len(block)):
            f.write(block)


def test_npz_extra_deflated_member_is_never_read(tmp_path, monkeypatch):
    path = tmp_path / "poses.npz"
    good = keypoint_array()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("keypoints.npy", "w") as f:
            np.lib.format.write_array(f, good)
        write_deflated_zeros(zf, "junk.npy", 200 * 2 ** 20)  # 200 MB of zeros in ~0.9 MB
    assert path.stat().st_size < 2e6
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(self, name, *a, **k))
    before = snapshot(tmp_path)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = kp.read_keypoints(path, "h36m17")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(raw.keypoints, good)
    assert "junk.npy" not in opened and "keypoints.npy" in opened
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"
    assert snapshot(tmp_path) == before


def test_dataset_npz_extra_member_is_never_read(tmp_path, monkeypatch):
    data = tmp_path / "data"
    fx.write_h36m_npz(data, subjects=("S9",), n_frames=6)
    with zipfile.ZipFile(data / P3, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        write_deflated_zeros(zf, "junk.npy", 64 * 2 ** 20)
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(self, name, *a, **k))
    before = snapshot(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = load_dataset("h36m", "test", data)
    assert len(ps) > 0
    assert "junk.npy" not in opened
    assert snapshot(data) == before


# --- HDF5 ------------------------------------------------------------------------------------------------------
def test_hdf5_dataset_declaring_a_huge_chunked_shape(tmp_path):
    import h5py
    data = tmp_path / "data"
    fx.write_3dhp_test(data, sequences=("TS1",), n_frames=8, invalid_every=7, userblock=False)
    path = data / "TS1" / "annot_data.mat"
    with h5py.File(path, "a") as f:
        del f["annot2"]
        f.create_dataset("annot2", shape=(16_000_000, 1, 17, 2), dtype="f8", chunks=(1000, 1, 17, 2),
                         compression="gzip")  # 4.4 GB declared, nothing written
    assert path.stat().st_size < 200_000
    msg = refused(lambda: load_dataset("3dhp", "test", data), DataFormatError, "annot_data.mat", data, max_mb=20)
    assert "'annot2' declares" in msg


# --- JSON numbers beyond Python's digit limit -------------------------------------------------------------------
BIG = "9" * 5000


def _keypoint_json(tmp):
    path = tmp / "dets.json"
    path.write_text('[{"image_id": 1, "category_id": 1, "keypoints": [' + BIG + ', 1, 1' + ', 1' * 48 + "]}]")
    return (lambda: kp.read_keypoints(path)), kp.KeypointError, "dets.json"


def _mpii_json(tmp):
    path, _ = fx.write_mpii_json(tmp / "annot", split="valid")
    text = path.read_text()
    path.write_text(text.replace('"scale": ', f'"scale": {BIG}, "x": ', 1))
    return (lambda: load_mpii_json(path)), DataFormatError, "valid.json"


def _bvh_mapping_json(tmp):
    path = tmp / "mapping.json"
    path.write_text(json.dumps(fx.BVH_FIXTURE_MAPPING)[:-1] + f', "n": {BIG}}}')
    return (lambda: load_mapping(path)), DataFormatError, "mapping.json"


@pytest.mark.parametrize("make", [_keypoint_json, _mpii_json, _bvh_mapping_json], ids=["keypoints", "mpii", "bvh-mapping"])
def test_json_integer_beyond_the_digit_limit(tmp_path, make):
    run, exc, name = make(tmp_path)
    msg = refused(run, exc, name, tmp_path)
    assert "a number with more than" in msg and "digits" in msg
    assert "Exceeds the limit" not in msg


def test_json_nested_too_deeply(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    msg = refused(lambda: kp.read_keypoints(path), kp.KeypointError, "dets.json", tmp_path)
    assert "nested too deeply" in msg
    path = tmp_path / "mapping.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    msg = refused(lambda: load_mapping(path), DataFormatError, "mapping.json", tmp_path)
    assert "nested too deeply" in msg


def test_text_file_beyond_the_byte_limit(tmp_path, monkeypatch):
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([{"image_id": 1, "keypoints": [1.0] * 51}] * 100))
    monkeypatch.setenv("POSECORE_MAX_TEXT_BYTES", "1000")
    msg = refused(lambda: kp.read_keypoints(path), kp.KeypointError, "dets.json", tmp_path)
    assert "POSECORE_MAX_TEXT_BYTES" in msg
