"""Every real-data reader refuses malformed input clearly and never executes or modifies the user's files.

Each case writes a valid fixture with :mod:`posecore.data.fixtures` into ``<tmp>/data`` (the user's
read-only input folder), corrupts it (truncated files, binary junk, wrong keys, shapes, dtypes, units,
NaN/inf, strings, empty arrays, a folder where a file belongs, pickles with forbidden globals, ...),
then runs the reader through :func:`posecore.data.real.load_dataset` (or a prepare script as a
subprocess) and checks:

* the error is a :class:`DataFormatError` (or the documented exception type of the case) -- never a
  silent success, never an unrelated exception;
* its message names the offending file and matches the problem;
* every file of the input folder has the same sha256 and mtime afterwards, and no file was created by
  a pickle (``<tmp>/pwned``).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import loadmat, savemat

from posecore.data import fixtures as fx
from posecore.data.mpii import MAT_NAME
from posecore.data.real import load_dataset
from posecore.data.safe_io import DataFormatError

ROOT = Path(__file__).resolve().parents[1]
P3, P2 = "data_3d_h36m.npz", "data_2d_h36m_gt.npz"
JUNK = bytes(np.random.default_rng(0).integers(0, 256, 700, dtype=np.uint8))
CASES = []


def case(cid, problem, exc=DataFormatError):
    """Register ``build(data, tmp) -> (run, bad)``: ``run()`` must raise ``exc`` with a message naming
    ``bad`` (a file name or path) and matching the regex ``problem``."""
    def deco(build):
        CASES.append(pytest.param(build, exc, problem, id=cid))
        return build
    return deco


def snapshot(folder: Path) -> dict:
    """{relative path: (sha256, size, mtime_ns)} of every file, and every folder, under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = ((hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
                                           if p.is_file() else "dir")
    return out


@pytest.mark.parametrize("build, exc, problem", CASES)
def test_malformed_input_is_refused_clearly(build, exc, problem, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    run, bad = build(data, tmp_path)
    before = snapshot(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            run()
    assert info.type is exc, f"expected {exc.__name__}, got {info.type.__name__}: {info.value}"
    msg = str(info.value)
    assert str(bad) in msg, f"message does not name {bad}: {msg}"
    assert re.search(problem, msg), f"message does not say {problem!r}: {msg}"
    assert snapshot(data) == before, "the input folder changed"
    assert not (tmp_path / "pwned").exists(), "a pickle executed code"


# --- Human3.6M, VideoPose3D npz ---------------------------------------------------------------------
SEQS = ("Walking 1", "Eating")
METADATA = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}


def vp3d(n=6):
    """Fresh (positions_3d, positions_2d) of subject S9 (test split), VideoPose3D layout."""
    return fx.h36m_fixture_data(subjects=("S9",), sequences=SEQS, n_frames=n)


def h36m_run(data):
    return lambda: load_dataset("h36m", "test", data)


def write_vp3d(data, pos3=None, pos2=None, metadata=METADATA):
    a, b = vp3d()
    np.savez(data / P3, positions_3d=a if pos3 is None else pos3)
    kw = {"positions_2d": b if pos2 is None else pos2}
    if metadata is not None:
        kw["metadata"] = metadata
    np.savez(data / P2, **kw)


def npz_with_raw_pickle(path: Path, key: str, payload: bytes):
    """An npz whose member ``key`` is an object-array .npy holding the raw pickle ``payload``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{key}.npy", buf.getvalue() + payload)


def with_3d(mutate, problem, cid, file=P3):
    """A case whose positions_3d dict (S9: Walking 1, Eating) is changed by ``mutate(pos3) -> pos3``."""
    def build(data, tmp):
        a, b = vp3d()
        write_vp3d(data, mutate(a), b)
        return h36m_run(data), file
    case(cid, problem)(build)


def with_2d(mutate, problem, cid, metadata=METADATA):
    def build(data, tmp):
        a, b = vp3d()
        write_vp3d(data, a, mutate(b), metadata)
        return h36m_run(data), P2
    case(cid, problem)(build)


def set_seq(value, seq="Walking 1"):
    def m(p):
        p["S9"][seq] = value(p["S9"][seq]) if callable(value) else value
        return p
    return m


def set_views(value, seq="Walking 1"):
    def m(p):
        p["S9"][seq] = [value(v) for v in p["S9"][seq]]
        return p
    return m


for _cid, _fname, _corrupt in (("truncated", P3, lambda b: b[: len(b) // 2]), ("empty-file", P3, lambda b: b""),
                               ("binary-junk", P3, lambda b: JUNK), ("text", P3, lambda b: b"hello\n" * 20),
                               ("zip-header-only", P3, lambda b: b[:40]), ("truncated", P2, lambda b: b[: len(b) // 2]),
                               ("binary-junk", P2, lambda b: JUNK), ("empty-file", P2, lambda b: b"")):
    def _build(data, tmp, fname=_fname, corrupt=_corrupt):
        write_vp3d(data)
        (data / fname).write_bytes(corrupt((data / fname).read_bytes()))
        return h36m_run(data), fname
    case(f"h36m-{'3d' if _fname == P3 else '2d'}-{_cid}", "truncated or unreadable npz")(_build)


for _fname in (P3, P2):
    def _build(data, tmp, fname=_fname):
        write_vp3d(data)
        (data / fname).unlink()
        (data / fname).mkdir()
        return h36m_run(data), fname
    case(f"h36m-{'3d' if _fname == P3 else '2d'}-is-a-folder", "is a folder, expected a")(_build)


@case("h36m-3d-missing-key", "missing key 'positions_3d'")
def _(data, tmp):
    write_vp3d(data)
    np.savez(data / P3, positions=vp3d()[0])
    return h36m_run(data), P3


@case("h36m-2d-missing-key", "missing key 'positions_2d'")
def _(data, tmp):
    write_vp3d(data)
    np.savez(data / P2, poses_2d=vp3d()[1])
    return h36m_run(data), P2


with_3d(lambda p: np.zeros(3), "must be a pickled dict", "h36m-3d-plain-array")
with_3d(lambda p: np.float64(1.0), "must be a pickled dict", "h36m-3d-scalar")
with_3d(lambda p: np.array([p["S9"]["Eating"]], dtype=object), "must be a pickled dict", "h36m-3d-object-list")
with_3d(lambda p: "S9 Walking", "must be a pickled dict", "h36m-3d-string")
with_3d(lambda p: {"S9": p["S9"]["Eating"]}, "must be a dict action", "h36m-3d-subject-not-dict")
with_3d(lambda p: {"S9": {}}, "holds no sequences", "h36m-3d-subject-empty")
with_3d(lambda p: {"Subject9": p["S9"]}, r"unknown subject keys \['Subject9'\]", "h36m-3d-unknown-subject")
with_3d(lambda p: {"S1": p["S9"]}, "none of the split's subjects", "h36m-3d-no-split-subject")
with_3d(lambda p: {"S9": {"Juggling 1": p["S9"]["Eating"]}}, "unknown Human3.6M action 'Juggling 1'",
        "h36m-3d-unknown-action")
with_3d(lambda p: {"S9": {5: p["S9"]["Eating"]}}, "expected a string", "h36m-3d-int-action-key")
with_3d(set_seq(lambda a: a[:, :16]), r"has shape \(6, 16, 3\)", "h36m-3d-16-joints")
with_3d(set_seq(lambda a: a.reshape(len(a), 96)), r"has shape \(6, 96\)", "h36m-3d-flat")
with_3d(set_seq(lambda a: a[..., :2]), r"has shape \(6, 32, 2\)", "h36m-3d-2d-coordinates")
with_3d(set_seq(lambda a: a[None]), r"has shape \(1, 6, 32, 3\)", "h36m-3d-extra-axis")
with_3d(set_seq(lambda a: a[:0]), "has 0 frames", "h36m-3d-empty-action")
with_3d(set_seq(lambda a: np.where(np.arange(32)[:, None] == 3, np.nan, a)), "NaN/inf", "h36m-3d-nan")
with_3d(set_seq(lambda a: np.where(np.arange(32)[:, None] == 3, np.inf, a)), "NaN/inf", "h36m-3d-inf")
with_3d(set_seq(lambda a: a * 1000), "wrong units.*look like mm given as m", "h36m-3d-mm-given-as-m")
with_3d(set_seq(lambda a: a * 100), "wrong units.*look like cm given as m", "h36m-3d-cm-given-as-m")
with_3d(set_seq(lambda a: a * np.float32(1e30)), "wrong units.*no length unit", "h36m-3d-1e30")
with_3d(set_seq(lambda a: np.zeros_like(a)), "wrong units.*joints coincide", "h36m-3d-all-zero")
with_3d(set_seq(lambda a: a.astype(str)), "dtype <U", "h36m-3d-strings")
with_3d(set_seq(lambda a: a.astype(np.complex64)), "dtype complex64", "h36m-3d-complex")
with_3d(set_seq(lambda a: a > 0), "dtype bool", "h36m-3d-bool")
with_3d(set_seq(lambda a: a.astype(object)), "dtype object", "h36m-3d-object-dtype")
with_3d(set_seq(lambda a: np.where(np.arange(6)[:, None, None] == 2, a * 50, a)), "corrupt frames",
        "h36m-3d-one-exploded-frame")


def _at_camera(a):
    """Move the skeleton so that its pelvis sits at S9's first camera centre: depth 0 there."""
    from posecore.data.h36m import _EXTRINSICS
    t = np.asarray(_EXTRINSICS["S9"][0][1]) / 1000.0
    return (a - a[:, :1] + t).astype(np.float32)


with_3d(set_seq(_at_camera), "behind camera 54138969 .depth <= 0", "h36m-3d-zero-depth")

with_2d(set_views(lambda v: np.concatenate([v, v[..., :1]], -1)), r"\[0\] has shape \(6, 17, 3\)",
        "h36m-2d-3-coordinates")
with_2d(set_seq(lambda vs: vs[:3]), "list of 4 arrays", "h36m-2d-3-views")
with_2d(set_seq(lambda vs: np.stack(vs)), "list of 4 arrays", "h36m-2d-array-not-list")
with_2d(set_views(lambda v: np.where(np.arange(17)[:, None] == 2, np.nan, v)), "NaN/inf", "h36m-2d-nan")
with_2d(set_views(lambda v: v[:0]), "has 0 frames", "h36m-2d-empty-views")
with_2d(set_views(lambda v: v.astype(str)), "dtype <U", "h36m-2d-strings")
with_2d(set_views(lambda v: v / 1000.0), "reprojection error .* normalised coordinates", "h36m-2d-normalised")
with_2d(set_views(lambda v: v + 200.0), "reprojection error", "h36m-2d-shifted-200px")
with_2d(set_seq(lambda vs: vs[::-1]), "reprojection error", "h36m-2d-camera-order-reversed")
with_2d(lambda p: {"S9": {"Walking 1": p["S9"]["Eating"], "Eating": p["S9"]["Walking 1"]}}, "reprojection error",
        "h36m-2d-swapped-sequences")
with_2d(lambda p: {"S9": list(p["S9"].values())}, "must be a dict action", "h36m-2d-subject-not-dict")
with_2d(lambda p: p, "num_joints=16", "h36m-2d-metadata-16-joints", metadata=dict(METADATA, num_joints=16))
with_2d(lambda p: p, "num_joints='17'", "h36m-2d-metadata-string-joints", metadata=dict(METADATA, num_joints="17"))
with_2d(lambda p: p, "layout_name='coco'", "h36m-2d-metadata-layout", metadata=dict(METADATA, layout_name="coco"))
with_2d(lambda p: p, "'metadata' must be a dict", "h36m-2d-metadata-not-dict", metadata="h36m")


class Evil:
    """Pickles as ``fn(*args)``: what a crafted file would run on an unrestricted ``pickle.load``."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _evil_payloads(marker: Path) -> dict:
    """name -> (object whose pickle would create ``marker``, regex of the global the error must name)."""
    import subprocess as sp
    m = str(marker)
    return {"os-system": (Evil(os.system, f"touch '{m}'"), r"(posix|nt|os)\.system"),
            "builtins-eval": (Evil(eval, f"open({m!r}, 'w').close()"), r"builtins\.eval"),
            "builtins-exec": (Evil(exec, f"open({m!r}, 'w').close()"), r"builtins\.exec"),
            "open": (Evil(open, m, "w"), r"(io|_io|builtins)\.open"),
            "subprocess-call": (Evil(sp.call, ["touch", m]), r"subprocess\.call"),
            "numpy-savetxt": (Evil(np.savetxt, m, np.zeros(1)), r"numpy\.savetxt"),
            "pathlib-touch": (Evil(Path.touch, Path(m)), r"pathlib\.Path\.touch|builtins\.getattr")}


for _name, (_, _glob) in _evil_payloads(Path("x")).items():
    def _build(data, tmp, name=_name):
        write_vp3d(data, {"S9": {"Walking 1": _evil_payloads(tmp / "pwned")[name][0]}})
        return h36m_run(data), P3
    case(f"h36m-3d-pickle-{_name}", f"forbidden global '({_glob})'")(_build)


@case("h36m-2d-pickle-os-system", "forbidden global '(posix|nt|os).system'")
def _(data, tmp):
    a, b = vp3d()
    b["S9"]["Eating"][2] = Evil(os.system, f"touch '{tmp / 'pwned'}'")
    write_vp3d(data, a, b)
    return h36m_run(data), P2


@case("h36m-2d-metadata-pickle", "forbidden global 'builtins.eval'")
def _(data, tmp):
    write_vp3d(data, metadata={"num_joints": Evil(eval, f"open({str(tmp / 'pwned')!r}, 'w')")})
    return h36m_run(data), P2


@case("h36m-3d-protocol0-pickle", "forbidden global 'os.system'")
def _(data, tmp):
    write_vp3d(data)
    npz_with_raw_pickle(data / P3, "positions_3d", f"cos\nsystem\n(S'touch {tmp / 'pwned'}'\ntR.".encode())
    return h36m_run(data), P3


@case("h36m-3d-pickle-huge-reconstruct", "corrupt pickle .*unexpected array reconstruction")
def _(data, tmp):
    write_vp3d(data)
    payload = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\x00\x00\x10\x85"
               b"U\x01b\x87R.")
    npz_with_raw_pickle(data / P3, "positions_3d", payload)
    return h36m_run(data), P3


@case("h36m-3d-pickle-persistent-id", "persistent ids")
def _(data, tmp):
    write_vp3d(data)
    npz_with_raw_pickle(data / P3, "positions_3d", b"\x80\x02U\x03abcQ.")
    return h36m_run(data), P3


@case("h36m-3d-pickle-garbage", "corrupt pickle")
def _(data, tmp):
    write_vp3d(data)
    npz_with_raw_pickle(data / P3, "positions_3d", b"\x80\x04\x95garbage-bytes")
    return h36m_run(data), P3


@case("h36m-3d-pickle-cut", "corrupt pickle")
def _(data, tmp):
    raw = pickle.dumps(np.array(vp3d()[0], dtype=object), protocol=4)
    write_vp3d(data)
    npz_with_raw_pickle(data / P3, "positions_3d", raw[: len(raw) // 2])
    return h36m_run(data), P3


@case("h36m-3d-pickle-not-an-array", "holds a dict, expected a numpy array")
def _(data, tmp):
    write_vp3d(data)
    npz_with_raw_pickle(data / P3, "positions_3d", pickle.dumps({"S9": {}}, protocol=2))
    return h36m_run(data), P3


# --- Human3.6M, original CDF release ------------------------------------------------------------------
MONO = "S9/MyPoseFeatures/D3_Positions_mono/Walking 1.54138969.cdf"
WORLD = "S9/MyPoseFeatures/D3_Positions/Walking 1.cdf"
TWOD = "S9/MyPoseFeatures/D2_Positions/Walking 1.54138969.cdf"


def write_cdf_var(path: Path, name: str, array: np.ndarray):
    """A CDF holding one variable ``name`` of shape (1, N, W) (cdflib's writer, as the fixtures use)."""
    from cdflib.cdfwrite import CDF
    path.unlink(missing_ok=True)
    n, w = array.shape
    cdf = CDF(str(path))
    try:
        cdf.write_var({"Variable": name, "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1, "Rec_Vary": True,
                       "Dim_Sizes": [n, w]}, var_data=array.reshape(1, n, w).astype(np.float64))
    finally:
        cdf.close()


def read_cdf(path: Path) -> np.ndarray:
    import cdflib
    pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"), float)
    return pose.reshape(-1, pose.shape[-1])


def cdf_case(cid, target, problem, pose=None, raw=None, folder=False, world_only=False):
    """S9 'Walking 1' in the original layout; ``pose(Pose (N, W)) -> array`` rewrites ``target``'s Pose,
    ``raw(bytes) -> bytes`` its bytes, ``folder`` replaces it by a folder."""
    def build(data, tmp):
        fx.write_h36m_cdf(data, subjects=("S9",), sequences=("Walking 1",), n_frames=5, mono=not world_only)
        path = data / target
        if pose is not None:
            write_cdf_var(path, "Pose", pose(read_cdf(path)))
        if raw is not None:
            path.write_bytes(raw(path.read_bytes()))
        if folder:
            path.unlink()
            path.mkdir()
        return h36m_run(data), path.name
    case(f"h36m-cdf-{cid}", problem)(build)


cdf_case("mono-truncated", MONO, "unreadable CDF", raw=lambda b: b[: len(b) // 2])
cdf_case("mono-junk", MONO, "unreadable CDF", raw=lambda b: JUNK)
cdf_case("mono-empty-file", MONO, "unreadable CDF", raw=lambda b: b"")
cdf_case("mono-is-a-folder", MONO, "is a folder, expected a Human3.6M CDF file", folder=True)
cdf_case("mono-width-90", MONO, r"'Pose' has shape \(5, 90\)", pose=lambda a: a[:, :90])
cdf_case("mono-nan", MONO, "NaN/inf", pose=lambda a: np.where(np.arange(96) == 7, np.nan, a))
cdf_case("mono-metres", MONO, "wrong units.*look like m given as mm", pose=lambda a: a / 1000)
cdf_case("mono-micrometres", MONO, "wrong units.*when read as mm", pose=lambda a: a * 1000)
cdf_case("mono-1e30", MONO, "wrong units.*no length unit", pose=lambda a: a * 1e30)
cdf_case("mono-behind-camera", MONO, r"behind camera 54138969", pose=lambda a: a * np.tile([1, 1, -1], 32))
cdf_case("2d-width-60", TWOD, r"'Pose' has shape \(5, 60\)", pose=lambda a: a[:, :60])
cdf_case("2d-nan", TWOD, "NaN/inf", pose=lambda a: np.where(np.arange(64) == 5, np.nan, a))
cdf_case("2d-normalised", TWOD, "reprojection error .* normalised", pose=lambda a: a / 1000)
cdf_case("2d-shifted", TWOD, "reprojection error", pose=lambda a: a + 300)
cdf_case("2d-truncated", TWOD, "unreadable CDF", raw=lambda b: b[:64])
cdf_case("world-metres", WORLD, "wrong units.*look like m given as mm", pose=lambda a: a / 1000, world_only=True)
cdf_case("world-junk", WORLD, "unreadable CDF", raw=lambda b: JUNK, world_only=True)


@case("h36m-cdf-no-pose-variable", "unreadable CDF or no variable 'Pose'")
def _(data, tmp):
    fx.write_h36m_cdf(data, subjects=("S9",), sequences=("Walking 1",), n_frames=5)
    write_cdf_var(data / MONO, "Position", np.zeros((5, 96)))
    return h36m_run(data), Path(MONO).name


@case("h36m-cdf-unknown-camera", "unknown camera id '12345678'")
def _(data, tmp):
    fx.write_h36m_cdf(data, subjects=("S9",), sequences=("Walking 1",), n_frames=5)
    (data / MONO).rename(data / MONO.replace("54138969", "12345678"))
    return h36m_run(data), "Walking 1.12345678.cdf"


@case("h36m-cdf-unknown-action", "unknown Human3.6M action 'Juggling 1'")
def _(data, tmp):
    fx.write_h36m_cdf(data, subjects=("S9",), sequences=("Juggling 1",), n_frames=5)
    return h36m_run(data), "Juggling 1."


# --- MPII, HRNet JSON (+ gt_valid.mat) ------------------------------------------------------------------
def mpii_json(data, change=None, text=None):
    """annot/valid.json + gt_valid.mat; ``change(entries)`` edits the entry list, ``text`` replaces the file."""
    path, _ = fx.write_mpii_json(data / "annot", split="valid")
    if change is not None:
        entries = json.loads(path.read_text())
        path.write_text(json.dumps(change(entries)))
    if text is not None:
        path.write_bytes(text)
    return (lambda: load_dataset("mpii", "valid", data)), "valid.json"


def json_case(cid, problem, change=None, text=None):
    case(f"mpii-json-{cid}", problem)(lambda data, tmp: mpii_json(data, change, text))


def set_entry(key, value, i=1):
    def change(entries):
        if value is KeyError:
            del entries[i][key]
        else:
            entries[i][key] = value(entries[i][key]) if callable(value) else value
        return entries
    return change


json_case("truncated", "not valid JSON", text=b'[{"image": "a.jpg", "joi')
json_case("binary-junk", "binary data", text=JUNK)
json_case("utf16", "binary data|not UTF-8", text=json.dumps([{"image": "a"}]).encode("utf-16"))
json_case("latin1", "not UTF-8", text='[{"image": "\xe9t\xe9.jpg"}]'.encode("latin-1"))
json_case("empty-file", "not valid JSON", text=b"")
json_case("object-not-list", "expected a non-empty list .* got dict", text=b'{"image": "a.jpg"}')
json_case("empty-list", "expected a non-empty list", text=b"[]")
json_case("entry-number", "entry 1 is a int", change=lambda e: [e[0], 7])
json_case("entry-list", "entry 1 is a list", change=lambda e: [e[0], [1, 2]])
json_case("missing-keys", r"entry 1 lacks keys \['joints_vis'\]", change=set_entry("joints_vis", KeyError))
json_case("joints-14", r"joints has shape \(14, 2\)", change=set_entry("joints", lambda j: j[:14]))
json_case("joints-3-coords", r"joints has shape \(16, 3\)", change=set_entry("joints", lambda j: [r + [0] for r in j]))
json_case("joints-vis-15", r"joints_vis has shape \(15,\)", change=set_entry("joints_vis", lambda v: v[:15]))
json_case("joints-nan", "NaN/inf joint coordinates", text=None,
          change=set_entry("joints", lambda j: [[float("nan"), 1.0]] + j[1:]))
json_case("joints-infinity", "NaN/inf joint coordinates",
          change=set_entry("joints", lambda j: [[float("inf"), 1.0]] + j[1:]))
json_case("joints-strings", r"joints: expected numbers",
          change=set_entry("joints", lambda j: [[str(x) for x in r] for r in j]))
json_case("joints-null", r"joints: expected numbers", change=set_entry("joints", None))
json_case("joints-ragged", r"joints: not a regular array", change=set_entry("joints", lambda j: [j[0][:1]] + j[1:]))
json_case("joints-1e30", "not a pixel coordinate", change=set_entry("joints", lambda j: [[1e30, 1.0]] + j[1:]))
json_case("center-3-numbers", r"center has shape \(3,\), expected \(2,\)", change=set_entry("center", [1, 2, 3]))
json_case("center-string", "center: expected numbers", change=set_entry("center", "middle"))
json_case("center-nan", "center: 2 NaN/inf", change=set_entry("center", [float("nan")] * 2))
json_case("scale-string", "scale: expected numbers", change=set_entry("scale", "1.5"))
json_case("scale-zero", "scale must be a positive number", change=set_entry("scale", 0))
json_case("scale-negative", "scale must be a positive number", change=set_entry("scale", -2.0))
json_case("scale-list", r"scale has shape \(2,\)", change=set_entry("scale", [1.0, 2.0]))
json_case("image-number", "'image' must be an image file name", change=set_entry("image", 12))
json_case("joints-vis-2", "joints_vis must hold 0/1 flags", change=set_entry("joints_vis", lambda v: [2] * 16))
json_case("joints-vis-strings", "joints_vis: expected numbers", change=set_entry("joints_vis", lambda v: ["1"] * 16))
json_case("all-unannotated", "no annotated joint in any entry",
          change=lambda es: [dict(e, joints_vis=[0] * 16) for e in es])


@case("mpii-json-is-a-folder", "is a folder, expected a MPII JSON")
def _(data, tmp):
    run, bad = mpii_json(data)
    (data / "annot/valid.json").unlink()
    (data / "annot/valid.json").mkdir()
    return run, bad


def gt_case(cid, problem, write):
    def build(data, tmp):
        run, _ = mpii_json(data)
        write(data / "annot" / "gt_valid.mat")
        return run, "gt_valid.mat"
    case(f"mpii-gt-valid-{cid}", problem)(build)


def _headboxes(p, f):
    savemat(p, {"headboxes_src": f(loadmat(p)["headboxes_src"])})


gt_case("truncated", "cannot read 'headboxes_src'", lambda p: p.write_bytes(p.read_bytes()[:100]))
gt_case("junk", "cannot read 'headboxes_src'", lambda p: p.write_bytes(JUNK))
gt_case("no-headboxes", "cannot read 'headboxes_src'", lambda p: savemat(p, {"boxes": np.zeros(3)}))
gt_case("wrong-count", r"headboxes_src has shape \(2, 2, 5\)", lambda p: _headboxes(p, lambda h: h[..., :5]))
gt_case("wrong-layout", r"headboxes_src has shape \(4, \d+\)", lambda p: _headboxes(p, lambda h: h.reshape(4, -1)))
gt_case("nan", "headboxes_src: .*NaN/inf", lambda p: _headboxes(p, lambda h: h * np.nan))
gt_case("strings", "headboxes_src: expected numbers", lambda p: savemat(p, {"headboxes_src": np.array(["abc"] * 3)}))


@case("mpii-gt-valid-is-a-folder", "is a folder, expected a head-box file")
def _(data, tmp):
    run, _ = mpii_json(data)
    (data / "annot/gt_valid.mat").unlink()
    (data / "annot/gt_valid.mat").mkdir()
    return run, "gt_valid.mat"


# --- MPII, official .mat --------------------------------------------------------------------------------
def mpii_mat(data, images=None, edit=None, raw=None):
    """mpii_human_pose_v1_u12_1.mat; ``edit(RELEASE record)`` changes it (struct_as_record layout), ``raw``
    replaces the bytes."""
    path, _ = fx.write_mpii_mat(data / MAT_NAME, images)
    if edit is not None:
        rel = loadmat(path)["RELEASE"]
        out = edit(rel)
        savemat(path, {"RELEASE": rel} if out is None else out)
    if raw is not None:
        path.write_bytes(raw(path.read_bytes()) if callable(raw) else raw)
    return (lambda: load_dataset("mpii", "train", data)), MAT_NAME


def mat_case(cid, problem, **kw):
    case(f"mpii-mat-{cid}", problem)(lambda data, tmp: mpii_mat(data, **kw))


def _point(rel, field, value):
    """Set ``field`` of the first point of the first person of the first image."""
    rel["annolist"][0, 0]["annorect"][0, 0][0, 0]["annopoints"][0, 0]["point"][0, 0][field] = value


def _people(change):
    images = fx.mpii_fixture_people()
    change(images[0][0])
    return images


mat_case("truncated", "unreadable or truncated MATLAB file", raw=lambda b: b[: len(b) // 3])
mat_case("junk", "unreadable or truncated MATLAB file", raw=JUNK)
mat_case("empty-file", "unreadable or truncated MATLAB file", raw=b"")
mat_case("no-release", "no struct 'RELEASE'", edit=lambda rel: {"release": np.zeros(3)})
mat_case("release-number", "RELEASE has no field 'annolist'", edit=lambda rel: {"RELEASE": np.zeros(3)})
mat_case("img-train-length", "img_train has 3 entries, annolist 7",
         edit=lambda rel: {"RELEASE": {"annolist": rel["annolist"][0, 0], "img_train": np.ones((1, 3))}})
mat_case("img-train-strings", "img_train: expected numbers",
         edit=lambda rel: {"RELEASE": {"annolist": rel["annolist"][0, 0], "img_train": np.array(["yes"] * 7)}})
mat_case("no-training-image", "no annotated people", edit=lambda rel: {"RELEASE": {
    "annolist": rel["annolist"][0, 0], "img_train": np.zeros((1, 7))}})
mat_case("joint-id-20", "joint id 20.0 outside 0..15", edit=lambda rel: _point(rel, "id", np.array([[20.0]])))
mat_case("joint-id-half", "joint id 2.5 outside 0..15", edit=lambda rel: _point(rel, "id", np.array([[2.5]])))
mat_case("x-string", "malformed entry .*could not convert string",
         edit=lambda rel: _point(rel, "x", np.array(["left"])))
mat_case("x-nan", r"image 100000000.jpg person 0: joint coordinates: \d+ NaN/inf",
         images=_people(lambda p: p["joints"].__setitem__((2, 0), np.nan)))
mat_case("x-inf", "NaN/inf", images=_people(lambda p: p["joints"].__setitem__((2, 1), np.inf)))
mat_case("x-1e30", "not a pixel coordinate", images=_people(lambda p: p["joints"].__setitem__((2, 1), 1e30)))
mat_case("x-two-values", "malformed entry .*expected a number",
         edit=lambda rel: _point(rel, "x", np.array([[1.0, 2.0]])))
def _without_image(rel):
    """RELEASE whose annolist entries lack the 'image' field."""
    a = rel["annolist"][0, 0]
    b = np.zeros(a.shape, dtype=[("annorect", "O"), ("frame_sec", "O")])
    b["annorect"], b["frame_sec"] = a["annorect"], a["frame_sec"]
    return {"RELEASE": {"annolist": b, "img_train": rel["img_train"][0, 0]}}


mat_case("no-image-field", r"RELEASE.annolist\(1\): malformed entry .*image", edit=_without_image)


@case("mpii-mat-is-a-folder", "is a folder, expected a MPII annotation file")
def _(data, tmp):
    (data / MAT_NAME).mkdir()
    return (lambda: load_dataset("mpii", "train", data)), MAT_NAME


# --- MPI-INF-3DHP -----------------------------------------------------------------------------------------
TS = "TS1/annot_data.mat"


def read_h5(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}


def write_h5(path, arrays):
    path.unlink()
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def hp_case(cid, problem, change=None, raw=None, kind="v73"):
    """TS1 (8 frames, frame 7 invalid); ``change(arrays) -> arrays`` edits the h5py-view arrays."""
    def build(data, tmp):
        fx.write_3dhp_test(data, sequences=("TS1",), n_frames=8, invalid_every=7)
        path = data / TS
        if change is not None:
            arrays = change(read_h5(path))
            if kind == "v5":
                path.unlink()
                savemat(path, {k: np.asarray(v).T for k, v in arrays.items()})
            else:
                write_h5(path, arrays)
        if raw is not None:
            path.write_bytes(raw(path.read_bytes()) if callable(raw) else raw)
        return (lambda: load_dataset("3dhp", "test", data)), TS
    case(f"3dhp-{cid}", problem)(build)


def edit(**changes):
    """arrays -> arrays with ``key=fn(array)`` applied (``None`` deletes the key)."""
    def change(a):
        for k, fn in changes.items():
            if fn is None:
                del a[k]
            else:
                a[k] = fn(a[k])
        return a
    return change


def at(index, value):
    def fn(a):
        a = a.copy()
        a[index] = value
        return a
    return fn


hp_case("truncated", "unreadable or truncated MATLAB v7.3 file|not a readable MATLAB file",
        raw=lambda b: b[: len(b) // 2])
hp_case("junk", "not a readable MATLAB file", raw=JUNK)
hp_case("empty-file", "not a readable MATLAB file", raw=b"")
hp_case("missing-annot3", r"missing variables \['annot3'\]", change=edit(annot3=None))
hp_case("missing-valid-frame", r"missing variables \['valid_frame'\]", change=edit(valid_frame=None))
hp_case("annot2-14-joints", r"'annot2' has shape \(8, 1, 14, 2\)", change=edit(annot2=lambda a: a[:, :, :14]))
hp_case("annot2-two-people", r"'annot2' has shape \(8, 2, 17, 2\)",
        change=edit(annot2=lambda a: np.concatenate([a, a], 1)))
hp_case("annot3-two-people", r"'annot3' has shape \(8, 2, 17, 3\)",
        change=edit(annot3=lambda a: np.concatenate([a, a], 1)))
hp_case("annot3-flat", r"'annot3' has shape \(8, 51\)", change=edit(annot3=lambda a: a.reshape(8, 51)))
hp_case("annot3-no-person-axis", r"'annot3' has shape \(8, 17, 3\)", change=edit(annot3=lambda a: a[:, 0]))
hp_case("valid-frame-length", "'valid_frame' has 5 frames but annot2 has 8", change=edit(valid_frame=lambda a: a[:5]))
hp_case("activity-length", "'activity_annotation' has 3 frames", change=edit(activity_annotation=lambda a: a[:3]))
hp_case("valid-frame-nan", "'valid_frame' has 1 NaN/inf", change=edit(valid_frame=at(2, np.nan)))
hp_case("annot3-nan", "annot3 has 1 NaN/inf values in kept frames", change=edit(annot3=at((1, 0, 4, 2), np.nan)))
hp_case("annot3-all-nan", "annot3 has 357 NaN/inf", change=edit(annot3=lambda a: a * np.nan))
hp_case("univ-annot3-nan", "3D has 1 NaN/inf", change=edit(univ_annot3=at((1, 0, 4, 2), np.nan)))
hp_case("annot2-nan", "annot2 has 1 NaN/inf", change=edit(annot2=at((3, 0, 4, 0), np.nan)))
hp_case("annot3-inf", "annot3 has 1 NaN/inf", change=edit(annot3=at((3, 0, 4, 0), np.inf)))
hp_case("annot3-metres", "'annot3': wrong units.*look like m given as mm", change=edit(annot3=lambda a: a / 1000))
hp_case("univ-annot3-metres", "'univ_annot3': wrong units.*look like m given as mm",
        change=edit(univ_annot3=lambda a: a / 1000))
hp_case("annot3-1e30", "'annot3': wrong units.*no length unit", change=edit(annot3=lambda a: a * 1e30))
hp_case("annot3-zero-depth", r"behind the camera \(depth <= 0 mm\) in 1 of 7",
        change=edit(annot3=at((2, 0, 5, 2), 0.0)))
hp_case("annot3-negative-depth", "behind the camera", change=edit(annot3=lambda a: a * np.array([1, 1, -1])))
hp_case("all-frames-invalid", "no frame to convert: 8 frames, none with valid_frame 1",
        change=edit(valid_frame=lambda a: a * 0))
hp_case("zero-frames", "no frame to convert: 0 frames", change=edit(
    annot2=lambda a: a[:0], annot3=lambda a: a[:0], univ_annot3=lambda a: a[:0], valid_frame=lambda a: a[:0],
    activity_annotation=lambda a: a[:0]))
hp_case("annot2-shifted", "annot2 and annot3 disagree: median reprojection error 300 px",
        change=edit(annot2=lambda a: a + np.array([300.0, 0.0])))
hp_case("annot2-normalised", "reprojection error .* normalised", change=edit(annot2=lambda a: a / 2048))
hp_case("annot2-strings", "'annot2' has dtype", change=edit(annot2=lambda a: np.full(a.shape, b"x", "S1")))
hp_case("valid-frame-strings", "'valid_frame' has dtype",
        change=edit(valid_frame=lambda a: np.full(a.shape, b"1", "S1")))
hp_case("v5-two-people", r"'annot3' has shape \(3, 17, 2, 8\), expected \(3, 17, 1, N\) \(MATLAB v5\)",
        change=edit(annot3=lambda a: np.concatenate([a, a], 1)), kind="v5")


@case("3dhp-annot3-is-a-group", "'annot3' is an HDF5 group")
def _(data, tmp):
    fx.write_3dhp_test(data, sequences=("TS1",), n_frames=8)
    arrays = read_h5(data / TS)
    del arrays["annot3"]
    write_h5(data / TS, arrays)
    with h5py.File(data / TS, "a") as f:
        f.create_group("annot3")
    return (lambda: load_dataset("3dhp", "test", data)), TS


@case("3dhp-file-is-a-folder", "is a folder, expected a MPI-INF-3DHP annotation file")
def _(data, tmp):
    (data / TS).mkdir(parents=True)
    return (lambda: load_dataset("3dhp", "test", data)), TS


# --- BVH + mapping JSON ---------------------------------------------------------------------------------
BVH = "s1_walk.bvh"


def bvh_data(data, text=None, mapping=None, mapping_bytes=None, **options):
    path, _, _ = fx.write_bvh(data / BVH, n_frames=6, mapping_path=data / "mapping.json")
    if text is not None:
        path.write_bytes(text(path.read_text()).encode() if callable(text) else text)
    if mapping is not None:
        (data / "mapping.json").write_text(json.dumps(mapping(dict(fx.BVH_FIXTURE_MAPPING))))
    if mapping_bytes is not None:
        (data / "mapping.json").write_bytes(mapping_bytes)
    return lambda: load_dataset("bvh", "all", data, **options)


def bvh_case(cid, problem, bad=BVH, **kw):
    case(f"bvh-{cid}", problem)(lambda data, tmp: (bvh_data(data, **kw), bad))


def motion(fn):
    """Apply ``fn(list of rows of floats as strings) -> rows`` to the MOTION block."""
    def change(text):
        head, rest = text.split("Frame Time:")
        ft, *rows = rest.strip().splitlines()
        rows = fn([r.split() for r in rows])
        return head + "Frame Time: " + ft.strip() + "\n" + "\n".join(" ".join(r) for r in rows) + "\n"
    return change


def scale_bvh(factor):
    """The BVH with every length (OFFSETs and root positions) multiplied by ``factor``."""
    def change(text):
        text = re.sub(r"OFFSET ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)",
                      lambda m: "OFFSET " + " ".join(f"{float(v) * factor:.6f}" for v in m.groups()), text)
        return motion(lambda rows: [[f"{float(v) * factor:.6f}" for v in r[:3]] + r[3:] for r in rows])(text)
    return change


bvh_case("truncated", "not a readable BVH file", text=lambda t: t[: len(t) // 3])
bvh_case("binary-junk", "not a readable BVH file", text=JUNK)
bvh_case("empty-file", "not a readable BVH file", text=b"")
bvh_case("zero-frames", "not a readable BVH file.*Frame count .0.",
         text=lambda t: t.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.0083333\n")
bvh_case("frame-time-zero", "not a readable BVH file.*frame time",
         text=lambda t: re.sub(r"Frame Time: \S+", "Frame Time: 0", t))
bvh_case("frame-time-negative", "[Ff]rame.[Tt]ime", text=lambda t: re.sub(r"Frame Time: \S+", "Frame Time: -0.01", t))
bvh_case("frames-declared-20", "declares 20 frames but file contains 6",
         text=lambda t: t.replace("Frames: 6", "Frames: 20"))
bvh_case("short-row", "not a readable BVH file.*number of columns",
         text=motion(lambda rows: rows[:-1] + [rows[-1][:10]]))
bvh_case("string-in-motion", "not a readable BVH file.*could not convert string 'abc'",
         text=motion(lambda rows: [["abc"] + rows[0][1:]] + rows[1:]))
bvh_case("nan-in-motion", "non-finite joint positions|not a readable",
         text=motion(lambda rows: [["nan"] + rows[0][1:]] + rows[1:]))
bvh_case("inf-rotation", "non-finite joint positions|not a readable",
         text=motion(lambda rows: [rows[0][:5] + ["inf"] + rows[0][6:]] + rows[1:]))
bvh_case("root-1e30-one-frame", "1 of 6 frames are not a person-sized skeleton",
         text=motion(lambda rows: [["1e30", "1e30", "1e30"] + rows[0][3:]] + rows[1:]))
def scaled_neck(factor):
    """The fixture mapping with its neck offset (file units) scaled like the file."""
    return lambda m: dict(m, neck={"joint": "Head", "offset": [0, 6 * factor, 0]})


bvh_case("file-in-mm-read-as-cm", "wrong units.*look like mm given as cm", text=scale_bvh(10.0),
         mapping=scaled_neck(10.0))
bvh_case("file-in-m-read-as-cm", "wrong units.*look like m given as cm", text=scale_bvh(0.01),
         mapping=scaled_neck(0.01))
bvh_case("cm-read-as-mm", "wrong units.*look like cm given as mm", units="mm")
bvh_case("cm-read-as-m", "wrong units.*look like cm given as m", units="m")
bvh_case("all-offsets-zero", "wrong units.*joints coincide", text=scale_bvh(0.0), mapping=scaled_neck(0.0))

M = "mapping.json"
bvh_case("mapping-missing-joint", r"missing \['left_wrist'\]", bad=M,
         mapping=lambda m: {k: v for k, v in m.items() if k != "left_wrist"})
bvh_case("mapping-unknown-name", r"unknown posecore joints \['nose'\]", bad=M, mapping=lambda m: dict(m, nose="Head"))
bvh_case("mapping-unknown-bvh-joint", "BVH joint 'Chest2' not in", bad=M, mapping=lambda m: dict(m, thorax="Chest2"))
bvh_case("mapping-end-site-missing", "joint 'Neck' has no end site", bad=M,
         mapping=lambda m: dict(m, head="end of Neck"))
bvh_case("mapping-binary", "binary data", bad=M, mapping_bytes=JUNK)
bvh_case("mapping-latin1", "not UTF-8", bad=M, mapping_bytes='{"pelvis": "H\xfcfte"}'.encode("latin-1"))
bvh_case("mapping-truncated", "not valid JSON", bad=M, mapping_bytes=b'{"pelvis": ')
bvh_case("mapping-empty-file", "not valid JSON", bad=M, mapping_bytes=b"")
bvh_case("mapping-list", "expected a JSON object .* got list", bad=M, mapping_bytes=b'["Hips"]')
bvh_case("mapping-empty-object", "missing", bad=M, mapping_bytes=b"{}")
bvh_case("mapping-rule-number", "pelvis: expected a BVH joint name or a rule object, got 5", bad=M,
         mapping=lambda m: dict(m, pelvis=5))
bvh_case("mapping-rule-empty", "pelvis: expected a BVH joint name", bad=M, mapping=lambda m: dict(m, pelvis=" "))
bvh_case("mapping-offset-2", r"neck: offset has shape \(2,\)", bad=M,
         mapping=lambda m: dict(m, neck={"joint": "Head", "offset": [0, 6]}))
bvh_case("mapping-offset-strings", "neck: offset: expected numbers", bad=M,
         mapping=lambda m: dict(m, neck={"joint": "Head", "offset": ["0", "6", "0"]}))
bvh_case("mapping-midpoint-3", "'midpoint' needs two joint names", bad=M,
         mapping=lambda m: dict(m, spine={"midpoint": ["Spine", "Spine1", "Neck"]}))
bvh_case("mapping-rule-no-kind", "needs 'joint', 'midpoint' or 'end_of'", bad=M,
         mapping=lambda m: dict(m, spine={"bone": "Spine"}))
bvh_case("mapping-nested-joint", "'joint' needs a joint name", bad=M,
         mapping=lambda m: dict(m, spine={"joint": {"joint": "Spine"}}))


@case("bvh-file-is-a-folder", "is a folder, expected a BVH file")
def _(data, tmp):
    run = bvh_data(data)
    (data / "take2.bvh").mkdir()
    return run, "take2.bvh"


@case("bvh-mapping-is-a-folder", "is a folder, expected a joint-name mapping file")
def _(data, tmp):
    run = bvh_data(data)
    (data / M).unlink()
    (data / M).mkdir()
    return run, M


# --- cache folder ---------------------------------------------------------------------------------------
@case("cache-dir-is-a-file", "cache_dir is a file")
def _(data, tmp):
    run = bvh_data(data)
    (tmp / "cache").write_text("not a folder")
    return (lambda: load_dataset("bvh", "all", data, cache_dir=tmp / "cache")), tmp / "cache"


@case("cache-dir-below-a-file", "cannot create cache_dir")
def _(data, tmp):
    bvh_data(data)
    (tmp / "cachefile").write_text("not a folder")
    return (lambda: load_dataset("bvh", "all", data, cache_dir=tmp / "cachefile" / "sub")), tmp / "cachefile"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_unwritable_cache_dir(tmp_path):
    bvh_data(tmp_path / "data")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o500)
    with pytest.raises(DataFormatError, match="cache_dir is not writable"):
        load_dataset("bvh", "all", tmp_path / "data", cache_dir=cache)


# --- prepare scripts: one line 'error: <file>: <problem>', exit status 1, no traceback ---------------------
def _prep_h36m_pickle(data, tmp):
    write_vp3d(data, {"S9": {"Walking 1": Evil(os.system, f"touch '{tmp / 'pwned'}'")}})
    return "h36m", [], P3, "forbidden global"


def _prep_h36m_truncated(data, tmp):
    write_vp3d(data)
    (data / P3).write_bytes((data / P3).read_bytes()[:300])
    return "h36m", [], P3, "truncated or unreadable npz"


def _prep_h36m_units(data, tmp):
    write_vp3d(data, set_seq(lambda a: a * 1000)(vp3d()[0]))
    return "h36m", ["--split", "test"], P3, "wrong units"


def _prep_h36m_cache_file(data, tmp):
    write_vp3d(data)
    (tmp / "cache").write_text("x")
    return "h36m", ["--cache-dir", str(tmp / "cache")], "cache", "cache_dir is a file"


def _prep_mpii_center(data, tmp):
    mpii_json(data, set_entry("center", [1, 2, 3]))
    return "mpii", ["--split", "valid"], "valid.json", "center has shape"


def _prep_mpii_junk(data, tmp):
    mpii_json(data, text=JUNK)
    return "mpii", ["--split", "valid"], "valid.json", "binary data"


def _prep_mpii_mat(data, tmp):
    mpii_mat(data, raw=lambda b: b[:200])
    return "mpii", ["--split", "train"], MAT_NAME, "unreadable or truncated"


def _prep_3dhp_shape(data, tmp):
    fx.write_3dhp_test(data, sequences=("TS1",), n_frames=8)
    write_h5(data / TS, edit(annot2=lambda a: np.concatenate([a, a], 1))(read_h5(data / TS)))
    return "3dhp", [], TS, "has shape"


def _prep_3dhp_nan(data, tmp):
    fx.write_3dhp_test(data, sequences=("TS1",), n_frames=8)
    write_h5(data / TS, edit(annot3=at((1, 0, 4, 2), np.nan))(read_h5(data / TS)))
    return "3dhp", [], TS, "NaN/inf"


def _prep_bvh_mapping(data, tmp):
    bvh_data(data, mapping_bytes=JUNK)
    return "bvh", [], M, "binary data"


def _prep_bvh_units(data, tmp):
    bvh_data(data, text=scale_bvh(10.0))
    return "bvh", [], BVH, "look like mm given as cm"


def _prep_bvh_missing_root(data, tmp):
    return "bvh", [], "nowhere", "does not exist"


PREPARE = {f.__name__[len("_prep_"):]: f for f in (
    _prep_h36m_pickle, _prep_h36m_truncated, _prep_h36m_units, _prep_h36m_cache_file, _prep_mpii_center,
    _prep_mpii_junk, _prep_mpii_mat, _prep_3dhp_shape, _prep_3dhp_nan, _prep_bvh_mapping, _prep_bvh_units,
    _prep_bvh_missing_root)}


@pytest.mark.parametrize("name", sorted(PREPARE))
def test_prepare_script_reports_one_line(name, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    dataset, args, bad, problem = PREPARE[name](data, tmp_path)
    root = data / "nowhere" if bad == "nowhere" else data
    if "--cache-dir" not in args:
        args = args + ["--cache-dir", str(tmp_path / "cache")]
    before = snapshot(data)
    env = dict(os.environ, OMP_NUM_THREADS="1", POSECORE_TRACEBACK="")
    res = subprocess.run([sys.executable, str(ROOT / "data_scripts" / f"prepare_{dataset}.py"), "--data-root",
                          str(root)] + args, capture_output=True, text=True, env=env, timeout=120)
    errors = [ln for ln in res.stderr.splitlines() if not ln.startswith("warning: ")]
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert len(errors) == 1 and errors[0].startswith("error: "), res.stderr
    assert bad in errors[0] and re.search(problem, errors[0]), errors[0]
    assert snapshot(data) == before
    assert not (tmp_path / "pwned").exists()


# --- the restricted unpickler still reads what VideoPose3D wrote ---------------------------------------------
def test_numpy1_protocol2_pickles_are_read(tmp_path):
    """VideoPose3D's files were written by numpy 1.x: ``numpy.core.multiarray._reconstruct`` and, with
    pickle protocol 2, bytes as ``_codecs.encode``; both are admitted."""
    from posecore.data.safe_io import load_npz
    a, _ = vp3d()
    raw = pickle.dumps(np.array(a, dtype=object), protocol=2)
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs\nencode" in raw
    npz_with_raw_pickle(tmp_path / P3, "positions_3d", raw)
    back = load_npz(tmp_path / P3)["positions_3d"].item()
    np.testing.assert_array_equal(back["S9"]["Eating"], a["S9"]["Eating"])


def test_case_count():
    assert len(CASES) + len(PREPARE) >= 100
