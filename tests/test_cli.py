"""``posecore lift`` (posecore.cli): success paths with a fake ``posecore.api`` (the real lifters are
not needed: the fake returns a deterministic function of the camera-normalised input), the output
files, and every bad input giving exit code 2 and one ``posecore lift: error: <file>: ...`` line
without a traceback; also run as ``python -m posecore.cli`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import posecore
from posecore import camera as cam
from posecore import cli
from posecore import keypoints as kp

ROOT = Path(__file__).resolve().parents[1]
K0 = np.array([1000.0, 1000.0, 640.0, 360.0])
SHA = "0123456789abcdef" * 4
_BASE = {0: (0, 0), 1: (-130, 0), 2: (-130, 450), 3: (-130, 880), 4: (130, 0), 5: (130, 450),
         6: (130, 880), 7: (0, -230), 8: (0, -480), 9: (0, -580), 10: (0, -700), 11: (180, -470),
         12: (200, -200), 13: (210, 40), 14: (-180, -470), 15: (-200, -200), 16: (-210, 40)}

FAKE_API = '''
import numpy as np
calls = []

def _K(intrinsics, n):
    K = np.asarray(intrinsics, float)
    return np.broadcast_to(K, (n, 4)) if K.ndim == 1 else K

def lift(poses_2d, intrinsics, model="martinez", checkpoint=None):
    """Deterministic: x, y = 1000 * camera-normalised coordinates, z = joint index; root-relative."""
    p = np.asarray(poses_2d, float)
    K = _K(intrinsics, len(p))[:, None]
    calls.append(dict(poses_2d=p.copy(), intrinsics=np.asarray(intrinsics, float).copy(), model=model,
                      checkpoint=checkpoint))
    out = np.zeros(p.shape[:2] + (3,))
    out[..., :2] = 1000.0 * (p - K[..., 2:]) / K[..., :2]
    out[..., 2] = np.arange(17)
    return out - out[:, :1]

def checkpoint_sha256(model="martinez", checkpoint=None):
    return "%s"

DEFAULT_MODEL = "martinez"
THRESHOLD = 0.5


class Lifter:
    """What the real api.load returns: callable, with kind, path, threshold and novelty()."""
    def __init__(self, model, checkpoint):
        self.model, self.checkpoint = model, checkpoint
        self.kind = model or DEFAULT_MODEL
        self.path = checkpoint or f"{self.kind}.pt"
        self.threshold = THRESHOLD
        self.index = {"poses": "a novelty index"}

    def __call__(self, poses_2d, intrinsics):
        return lift(poses_2d, intrinsics, self.model or DEFAULT_MODEL, self.checkpoint)

    def novelty(self, poses_2d, intrinsics):
        """0 .. 1 in input order: the poses after the first half lie above the threshold."""
        return np.linspace(0.0, 1.0, len(poses_2d))


def load(model=None, checkpoint=None):
    return Lifter(model, checkpoint)
''' % SHA


def h36m_2d(n=4, seed=0, K=K0):
    rng = np.random.default_rng(seed)
    P = np.zeros((n, 17, 3))
    for j, (x, y) in _BASE.items():
        P[:, j, :2] = (x, y)
    P[..., :2] += rng.normal(0, 25, (n, 17, 2))
    P += np.stack([rng.uniform(-600, 600, n), rng.uniform(-100, 100, n), rng.uniform(3500, 6000, n)], -1)[:, None]
    return cam.project(P, K)


def coco_results(uv, score=0.9):
    """COCO results (people facing the camera) from H36M-ordered 2D poses."""
    J = posecore.skeleton.JOINT_INDEX
    T = 0.5 * (uv[:, 11] + uv[:, 14])
    u = uv[:, 10] - T
    n = np.linalg.norm(u, axis=-1, keepdims=True)
    lat = np.stack([-u[:, 1], u[:, 0]], -1) / n
    face = [uv[:, 9], T + 0.57 * u + 0.15 * n * lat, T + 0.57 * u - 0.15 * n * lat,
            T + 0.58 * u + 0.35 * n * lat, T + 0.58 * u - 0.35 * n * lat]
    c = np.stack(face + [uv[:, J[name]] for name in kp.COCO17_JOINTS[5:]], 1)
    c = np.concatenate([c, np.full(c.shape[:2] + (1,), score)], -1)
    return [{"image_id": i, "category_id": 1, "keypoints": c[i].ravel().tolist(), "score": 0.9}
            for i in range(len(c))]


def write_json(path, obj):
    Path(path).write_text(json.dumps(obj))
    return Path(path)


@pytest.fixture
def fake_api(monkeypatch):
    mod = types.ModuleType("posecore.api")
    exec(FAKE_API, mod.__dict__)
    monkeypatch.setitem(sys.modules, "posecore.api", mod)
    monkeypatch.setattr(posecore, "api", mod, raising=False)
    monkeypatch.delenv("POSECORE_DEBUG", raising=False)
    return mod


@pytest.fixture
def dets(tmp_path):
    return write_json(tmp_path / "dets.json", coco_results(h36m_2d()))


def run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error_line(rc, err, name, api=None):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("posecore lift: error: ") and name in lines[0], lines[0]
    assert "Traceback" not in err
    if api is not None:
        assert api.calls == []


# --- success -----------------------------------------------------------------------------------------
def test_lift_coco_to_json(tmp_path, dets, fake_api, capsys):
    out = tmp_path / "out.json"
    rc, stdout, err = run(["lift", str(dets), "-o", str(out)], capsys)
    assert rc == 0, err
    assert stdout == ""
    lines = err.strip().splitlines()
    assert lines[0] == "format: coco17 (detected)"
    assert any(line.startswith("posecore lift: warning: no intrinsics given: assuming") for line in lines)
    assert lines[-1] == f"posecore lift: 4 poses lifted with martinez, skipped 0, written to {out}"
    doc = json.loads(out.read_text())
    assert doc["format"] == "posecore-lift-1" and doc["units"] == "mm"
    assert doc["frame"] == "camera, root-relative" and len(doc["joints"]) == 17
    assert doc["ids"] == [f"image {i}, person 0" for i in range(4)] and doc["skipped"] == []
    assert doc["model"] == "martinez" and doc["checkpoint_sha256"] == SHA
    assert doc["input_format"] == "coco17" and np.asarray(doc["intrinsics"]).shape == (4, 4)
    P = np.asarray(doc["poses_3d"])
    assert P.shape == (4, 17, 3) and np.allclose(P[:, 0], 0)
    (call,) = fake_api.calls
    assert call["poses_2d"].shape == (4, 17, 2) and call["intrinsics"].shape == (4, 4)
    # the call got the estimated default camera (60 deg over the keypoints' extent)
    np.testing.assert_allclose(call["intrinsics"][0], kp.default_intrinsics(poses=call["poses_2d"]))


def test_intrinsics_and_image_size_are_passed_on(tmp_path, dets, fake_api, capsys):
    rc, _, err = run(["lift", str(dets), "--intrinsics", "1100", "1090", "600", "350", "-o",
                      str(tmp_path / "a.json"), "--model", "wang", "--checkpoint", "ck.pt"], capsys)
    assert rc == 0, err and "no intrinsics" not in err
    call = fake_api.calls[-1]
    np.testing.assert_allclose(call["intrinsics"], np.tile([1100, 1090, 600, 350], (4, 1)))
    assert call["model"] == "wang" and call["checkpoint"] == "ck.pt"
    rc, _, err = run(["lift", str(dets), "--image-size", "1280", "720", "-o", str(tmp_path / "b.json")], capsys)
    assert rc == 0, err
    np.testing.assert_allclose(fake_api.calls[-1]["intrinsics"][0], kp.default_intrinsics((1280, 720)))
    assert "over the 1280 x 720 image" in err


def test_same_body_elsewhere_in_the_image_lifts_to_the_same_pose(tmp_path, fake_api, capsys):
    uv = h36m_2d()
    shift = np.array([150.0, -40.0])
    a = write_json(tmp_path / "a.json", coco_results(uv))
    b = write_json(tmp_path / "b.json", coco_results(uv * 2 + shift))   # other resolution and position
    assert run(["lift", str(a), "--intrinsics", *map(str, K0), "-o", str(tmp_path / "a_out.json")], capsys)[0] == 0
    K2 = np.r_[K0[:2] * 2, K0[2:] * 2 + shift]
    assert run(["lift", str(b), "--intrinsics", *map(str, K2), "-o", str(tmp_path / "b_out.json")], capsys)[0] == 0
    pa = np.asarray(json.loads((tmp_path / "a_out.json").read_text())["poses_3d"])
    pb = np.asarray(json.loads((tmp_path / "b_out.json").read_text())["poses_3d"])
    np.testing.assert_allclose(pa, pb, atol=0.051)   # equal up to the 0.1 mm rounding


def test_npz_and_html_outputs(tmp_path, dets, fake_api, capsys):
    npz, html = tmp_path / "out.npz", tmp_path / "out.html"
    rc, _, err = run(["lift", str(dets), "-o", str(npz), "--html", str(html)], capsys)
    assert rc == 0, err
    assert err.strip().splitlines()[-1].endswith(f"written to {npz} and {html}")
    with np.load(npz, allow_pickle=False) as z:
        assert z["poses_3d"].shape == (4, 17, 3) and z["ids"].dtype.kind == "U"
        assert str(z["checkpoint_sha256"]) == SHA and str(z["units"]) == "mm"
    text = html.read_text()
    assert len(text) > 1_000_000 and '<script src="http' not in text and '"prefix":"pose "' in text


def test_stdout_when_no_output_is_named(dets, fake_api, capsys):
    rc, stdout, err = run(["lift", str(dets)], capsys)
    assert rc == 0, err
    doc = json.loads(stdout)
    assert doc["format"] == "posecore-lift-1" and len(doc["poses_3d"]) == 4
    assert err.strip().endswith("written to stdout")


def test_several_inputs_and_skipped_poses(tmp_path, fake_api, capsys):
    uv = h36m_2d(3)
    res = coco_results(uv)
    res[1]["keypoints"][3 * 16 + 2] = 0.05                 # right ankle below --min-score
    a = write_json(tmp_path / "a.json", res)
    np.save(tmp_path / "b.npy", uv)
    out = tmp_path / "o.json"
    rc, _, err = run(["lift", str(a), str(tmp_path / "b.npy"), "-o", str(out)], capsys)
    assert rc == 0, err
    assert f"{a}: format: coco17 (detected)" in err and "b.npy: format: h36m17 (detected)" in err
    assert "posecore lift: warning: " in err and "image 1, person 0 (right_ankle)" in err
    doc = json.loads(out.read_text())
    assert doc["skipped"] == ["a.json: image 1, person 0"]
    assert doc["ids"][0] == "a.json: image 0, person 0" and doc["ids"][-1] == "b.npy: row 2"
    assert len(doc["poses_3d"]) == 5 and doc["input_format"] == "coco17+h36m17"
    assert "5 poses lifted with martinez, skipped 1" in err


def test_force_overwrites(tmp_path, dets, fake_api, capsys):
    out = tmp_path / "o.json"
    out.write_text("old")
    rc, _, err = run(["lift", str(dets), "-o", str(out)], capsys)
    assert_one_error_line(rc, err, "o.json", fake_api)
    assert "--force" in err and out.read_text() == "old"
    rc, _, err = run(["lift", str(dets), "-o", str(out), "--force"], capsys)
    assert rc == 0, err and json.loads(out.read_text())["format"] == "posecore-lift-1"


# --- bad input: exit 2, one line naming the file, no traceback ------------------------------------------
def _bad_inputs(tmp_path):
    uv = h36m_2d()
    good = coco_results(uv)
    cases = {}
    (tmp_path / "malformed.json").write_text('[{"image_id": 1, "keypoints": [1, 2,, 3]}]')
    cases["malformed"] = (["malformed.json"], "malformed.json")
    (tmp_path / "truncated.json").write_text(json.dumps(good)[:-25])
    cases["truncated"] = (["truncated.json"], "truncated.json")
    short = [dict(d, keypoints=d["keypoints"][:-3]) for d in good]
    write_json(tmp_path / "count.json", short)
    cases["count"] = (["count.json"], "count.json")
    write_json(tmp_path / "wrongfmt.json", good)
    cases["wrong format named"] = (["wrongfmt.json", "--format", "openpose25"], "wrongfmt.json")
    nan = np.array(uv)
    nan[0, 3, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cases["nan"] = (["nan.npy"], "nan.npy")
    write_json(tmp_path / "nobody.json", {"version": 1.3, "people": []})
    cases["empty people"] = (["nobody.json"], "nobody.json")
    write_json(tmp_path / "unknown.json", {"detections": [1, 2, 3]})
    cases["unknown format"] = (["unknown.json"], "unknown.json")
    (tmp_path / "binary.npy").write_bytes(b"\x00\x01garbage" * 10)
    cases["unreadable npy"] = (["binary.npy"], "binary.npy")
    (tmp_path / "latin1.json").write_bytes(b"\xff\xfe[\x00]")
    cases["not utf-8"] = (["latin1.json"], "latin1.json")
    cases["missing file"] = (["absent.json"], "absent.json")
    (tmp_path / "nojson").mkdir()
    (tmp_path / "nojson" / "readme.txt").write_text("x")
    cases["folder without json"] = (["nojson"], "nojson")
    write_json(tmp_path / "ok.json", good)
    cases["output in a missing folder"] = (["ok.json", "-o", "nowhere/out.json"], "nowhere/out.json")
    (tmp_path / "exists.json").write_text("{}")
    cases["existing output"] = (["ok.json", "-o", "exists.json"], "exists.json")
    cases["bad output type"] = (["ok.json", "-o", "out.csv"], "out.csv")
    norm = [dict(d, keypoints=(np.asarray(d["keypoints"]).reshape(17, 3) / [1280, 720, 1]).ravel().tolist())
            for d in good]
    write_json(tmp_path / "norm.json", norm)
    cases["normalised"] = (["norm.json", "--image-size", "1280", "720"], "norm.json")
    crossed = np.array(uv)
    crossed[:, [1, 2, 3, 4, 5, 6]] = uv[:, [4, 5, 6, 1, 2, 3]]
    np.save(tmp_path / "crossed.npy", crossed)
    cases["left/right crossed"] = (["crossed.npy"], "crossed.npy")
    lowscore = [dict(d, keypoints=(np.asarray(d["keypoints"]).reshape(17, 3) * [1, 1, 0.1]).ravel().tolist())
                for d in good]
    write_json(tmp_path / "low.json", lowscore)
    cases["every pose skipped"] = (["low.json"], "low.json")
    return cases


BAD = ("malformed", "truncated", "count", "wrong format named", "nan", "empty people", "unknown format",
       "unreadable npy", "not utf-8", "missing file", "folder without json", "output in a missing folder",
       "existing output", "bad output type", "normalised", "left/right crossed", "every pose skipped")


@pytest.mark.parametrize("label", BAD)
def test_bad_inputs_exit_2_with_one_line(label, tmp_path, fake_api, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = _bad_inputs(tmp_path)
    assert set(cases) == set(BAD)
    argv, name = cases[label]
    rc, stdout, err = run(["lift", *argv], capsys)
    assert_one_error_line(rc, err, name, fake_api)
    assert stdout == ""


def test_usage_errors_are_one_line(tmp_path, dets, fake_api, capsys):
    for argv, words in ((["lift", str(dets), "--format", "bogus"], "invalid choice"),
                        (["lift"], "required"),
                        (["lift", str(dets), "--normalised"], "--image-size"),
                        (["lift", str(dets), "--min-score", "-1"], "--min-score"),
                        (["lift", str(dets), "--intrinsics", "1", "2"], "--intrinsics")):
        rc, _, err = run(argv, capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and words in err, (argv, err)
        assert err.startswith("posecore lift: error: ") and "Traceback" not in err
    assert fake_api.calls == []


def test_help_is_fast_and_does_not_import_the_lifters(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "posecore.api", None)   # importing it would fail
    assert cli.main(["lift", "--help"]) == 0
    assert "--intrinsics" in capsys.readouterr().out


def test_api_failures(tmp_path, dets, fake_api, capsys, monkeypatch):
    def bad_checkpoint(*a, **k):
        raise FileNotFoundError("ck.pt: no such checkpoint file")
    monkeypatch.setattr(fake_api, "lift", bad_checkpoint)
    rc, _, err = run(["lift", str(dets), "--checkpoint", "ck.pt"], capsys)
    assert_one_error_line(rc, err, "ck.pt")

    def bad_value(*a, **k):
        raise ValueError("unknown model 'x';\nchoose one of ...")
    monkeypatch.setattr(fake_api, "lift", bad_value)
    rc, _, err = run(["lift", str(dets), "--intrinsics", "1000", "1000", "640", "360"], capsys)
    assert_one_error_line(rc, err, "model martinez")

    monkeypatch.setattr(fake_api, "lift", lambda p, K, *a, **k: np.zeros((1, 3)))   # a bug: internal error
    rc, _, err = run(["lift", str(dets), "--intrinsics", "1000", "1000", "640", "360"], capsys)
    assert rc == 1 and "internal error" in err and "POSECORE_DEBUG" in err and "Traceback" not in err
    monkeypatch.setenv("POSECORE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["lift", str(dets), "--intrinsics", "1000", "1000", "640", "360"])


def test_api_import_error_is_reported_cleanly(dets, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "posecore.api", None)
    monkeypatch.delenv("POSECORE_DEBUG", raising=False)
    rc, _, err = run(["lift", str(dets), "--intrinsics", "1000", "1000", "640", "360"], capsys)
    assert rc == 1 and "cannot import posecore.api" in err and "Traceback" not in err


# --- as a program --------------------------------------------------------------------------------------
def _env(tmp_path, fake=True):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("POSECORE_DEBUG", None)
    paths = [str(ROOT)]
    if fake:   # a sitecustomize that installs the fake posecore.api before the program starts
        site = tmp_path / "fake_site"
        site.mkdir(exist_ok=True)
        (site / "fake_posecore_api.py").write_text(FAKE_API)
        (site / "sitecustomize.py").write_text(textwrap.dedent("""
            import sys, fake_posecore_api
            sys.modules["posecore.api"] = fake_posecore_api
        """))
        paths.insert(0, str(site))
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    return env


def test_subprocess_success_and_errors(tmp_path, dets):
    env = _env(tmp_path)
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "posecore.cli", "lift", str(dets), "-o", str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == "format: coco17 (detected)"
    assert json.loads(out.read_text())["checkpoint_sha256"] == SHA
    (tmp_path / "broken.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2')
    for argv, name in ((["broken.json"], "broken.json"), ([str(dets), "-o", str(out)], "o.json"),
                       (["--format", "nope", "x.json"], "--format")):
        r = subprocess.run([sys.executable, "-m", "posecore.cli", "lift", *argv], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=120)
        lines = r.stderr.splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith("posecore lift: error: ") and name in lines[0]
    r = subprocess.run([sys.executable, "-m", "posecore.cli", "lift", "--help"], capture_output=True,
                       text=True, env=_env(tmp_path, fake=False), cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "usage: posecore lift" in r.stdout


# --- novelty, the default model, inputs that are never overwritten --------------------------------------
def test_novelty_is_written_warned_and_shown(tmp_path, dets, fake_api, capsys):
    out, html = tmp_path / "out.json", tmp_path / "view.html"
    rc, _, err = run(["lift", str(dets), "-o", str(out), "--html", str(html)], capsys)
    assert rc == 0, err
    assert ("posecore lift: warning: 2 of 4 poses lie far from the poses the martinez lifter learned (novelty "
            "above 0.5); expect larger 3D errors for them (field 'novelty' of the output)") in err.splitlines()
    doc = json.loads(out.read_text())
    assert doc["novelty"] == [0.0, 0.3333, 0.6667, 1.0] and doc["novelty_threshold"] == 0.5
    page = html.read_text()
    assert "novelty 0.667: far from the training poses" in page and "2 of 4 poses above the threshold 0.5" in page
    npz = tmp_path / "out.npz"
    assert run(["lift", str(dets), "-o", str(npz)], capsys)[0] == 0
    back = kp.read_result(npz)
    np.testing.assert_allclose(back["novelty"], [0.0, 0.3333, 0.6667, 1.0]) and back["novelty_threshold"] == 0.5
    # --no-novelty: no score, no warning; the fields are there, empty
    rc, _, err = run(["lift", str(dets), "-o", str(tmp_path / "plain.npz"), "--no-novelty"], capsys)
    assert rc == 0 and "lie far" not in err
    back = kp.read_result(tmp_path / "plain.npz")
    assert back["novelty"] is None and back["novelty_threshold"] is None
    rc, _, err = run(["lift", str(dets), "-o", str(tmp_path / "plain.json"), "--no-novelty"], capsys)
    doc = json.loads((tmp_path / "plain.json").read_text())
    assert doc["novelty"] is None and doc["novelty_threshold"] is None


def test_model_choices_are_the_shipped_lifters_and_the_default_is_the_apis():
    api = pytest.importorskip("posecore.api")
    assert cli.MODELS == api.SHIPPED and cli.DEFAULT_MODEL == api.DEFAULT_MODEL
    assert all(api.shipped(k).is_file() for k in cli.MODELS)


def test_drover_is_not_offered_until_it_ships(dets, fake_api, capsys):
    rc, _, err = run(["lift", str(dets), "--model", "drover"], capsys)
    assert rc == 2 and "invalid choice: 'drover'" in err and len(err.strip().splitlines()) == 1
    assert fake_api.calls == []


@pytest.mark.parametrize("how", ["same path", "another spelling", "a link to it", "--html"])
def test_an_output_that_is_an_input_is_refused_even_with_force(how, tmp_path, dets, fake_api, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = dets.read_bytes()
    if how == "a link to it":
        (tmp_path / "alias.json").symlink_to(dets)
        argv = ["lift", str(dets), "-o", "alias.json", "--force"]
    elif how == "--html":
        page = tmp_path / "page.html"
        page.write_text("<p>mine</p>")
        argv = ["lift", str(dets), str(page), "--html", str(page), "--force"]
    else:
        argv = ["lift", str(dets), "-o", str(dets) if how == "same path" else "./sub/../dets.json", "--force"]
        (tmp_path / "sub").mkdir()
    rc, _, err = run(argv, capsys)
    assert_one_error_line(rc, err, "posecore lift never writes over its input", fake_api)
    assert dets.read_bytes() == before


def test_an_output_inside_an_input_folder_is_refused(tmp_path, fake_api, capsys):
    folder = tmp_path / "openpose"
    folder.mkdir()
    kps = np.zeros((25, 3))
    (folder / "f_000000000000_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": kps.ravel().tolist()}]}))
    rc, _, err = run(["lift", str(folder), "-o", str(folder / "f_000000000000_keypoints.json"), "--force"], capsys)
    assert_one_error_line(rc, err, "lies inside the input folder", fake_api)


def test_an_input_given_twice_is_refused(tmp_path, dets, fake_api, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(["lift", str(dets), "./dets.json"], capsys)
    assert_one_error_line(rc, err, "given twice", fake_api)
