"""Caches and checkpoints in the user cache folder, named by what they compute (posecore.artefacts).

* cache_root / checkpoint_dir follow $POSECORE_CACHE, $POSECORE_CHECKPOINTS, XDG_CACHE_HOME;
* keys follow the configuration, the data's content, the stage versions (and upstream), the
  precision, torch's major.minor and the renderer's version, and never the source text;
* writes are atomic with unique temporary names; two processes never train one checkpoint twice;
* ``python -m posecore.cache list|clear`` lists and frees the cache and never deletes outside it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from posecore import artefacts, cache, train

ROOT = Path(__file__).resolve().parents[1]


# --- where things go ------------------------------------------------------------------------------

def test_cache_root_and_checkpoint_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("POSECORE_CHECKPOINTS", raising=False)
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    assert train.checkpoint_dir() == tmp_path / "c" / "checkpoints"
    st = artefacts.Stage("m", 1)
    assert train.checkpoint_path("m", st, {"a": 1}) == tmp_path / "c" / "checkpoints" / f"m-{artefacts.key(st, {'a': 1})}.pt"
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / "ck"))
    assert train.checkpoint_dir() == tmp_path / "ck"
    monkeypatch.delenv("POSECORE_CHECKPOINTS")
    monkeypatch.delenv("POSECORE_CACHE")
    assert "data" not in train.checkpoint_dir().relative_to(train.checkpoint_dir().anchor).parts[:1]
    assert ROOT not in train.checkpoint_dir().parents          # no longer <repo>/data/cache/checkpoints
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache.cache_root() == tmp_path / "xdg" / "posecore"
        monkeypatch.setitem(sys.modules, "platformdirs", None)  # the fallback without platformdirs
        assert cache.cache_root() == tmp_path / "xdg" / "posecore"
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert cache.cache_root() == Path.home() / ".cache" / "posecore"


def test_cache_module_is_light():
    code = "import sys, posecore.cache; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- checkpoints named by what they compute (posecore.artefacts) ------------------------------------

def test_checkpoint_path_is_keyed_by_config_versions_precision_and_torch(monkeypatch, tmp_path):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / "ck"))
    a1 = artefacts.Stage("t-a", 1)
    b1 = artefacts.Stage("t-b", 1, (a1,))
    p = train.checkpoint_path("net", b1, {"lr": 0.1, "data": "d1"})
    assert p.parent == tmp_path / "ck" and p.name == f"net-{artefacts.key(b1, {'lr': 0.1, 'data': 'd1'})}.pt"
    assert p == train.checkpoint_path("net", b1, {"data": "d1", "lr": 0.1})            # order-free
    others = [train.checkpoint_path("net", b1, {"lr": 0.2, "data": "d1"}),               # config
              train.checkpoint_path("net", b1, {"lr": 0.1, "data": "d2"}),               # data content
              train.checkpoint_path("net", artefacts.Stage("t-b", 2, (a1,)), {"lr": 0.1, "data": "d1"}),
              train.checkpoint_path("net", artefacts.Stage("t-b", 1, (artefacts.Stage("t-a", 2),)),
                                    {"lr": 0.1, "data": "d1"}),                          # an upstream version
              train.checkpoint_path("net", b1, {"lr": 0.1, "data": "d1"}, precision="bf16")]
    assert len({p, *others}) == 6
    monkeypatch.setattr(torch, "__version__", "9.1.0+cpu")                                 # torch major.minor
    assert train.checkpoint_path("net", b1, {"lr": 0.1, "data": "d1"}) != p
    monkeypatch.setattr(torch, "__version__", "2.13.7")
    assert artefacts.torch_version() == "2.13"


def test_data_is_named_by_content(standing_pose):
    from posecore.data.dataset import PoseSet
    from posecore.recipes.images import data_id
    pose = np.asarray(standing_pose, np.float32)[None]
    K = np.array([[1000.0, 1000.0, 500.0, 500.0]], np.float32)
    a = PoseSet.create(np.zeros((1, 17, 2), np.float32), pose, K)
    b = PoseSet.create(np.zeros((1, 17, 2), np.float32), pose + 1.0, K)
    assert artefacts.poseset_digest(a) != artefacts.poseset_digest(b)                      # same name and length
    assert data_id({"train": a}, 64) != data_id({"train": b}, 64) != data_id({"train": b}, 32)
    assert artefacts.array_digest(np.zeros(3, np.float32)) != artefacts.array_digest(np.zeros(3, np.float64))


def test_renderer_version_is_part_of_rendered_data(standing_pose, monkeypatch):
    from posecore.data import render
    from posecore.data.dataset import PoseSet
    from posecore.recipes.images import data_id
    ps = PoseSet.create(np.zeros((1, 17, 2), np.float32), np.asarray(standing_pose, np.float32)[None],
                 intrinsics=np.array([[1000.0, 1000.0, 500.0, 500.0]], np.float32))
    before = data_id({"test": ps}, 64)
    monkeypatch.setattr(render, "VERSION", render.VERSION + 1)
    assert data_id({"test": ps}, 64) != before


_KEYS_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from posecore import artefacts
    from posecore.recipes import backbone, drover, fbi, images, martinez, regression, wang, yang, zhou
    import posecore
    assert posecore.__file__.startswith(sys.argv[1]), posecore.__file__
    cfg = {"width": 8, "data": "d"}
    keys = {n: artefacts.key(s, cfg, precision="fp32") for n, s in artefacts.STAGES.items()}
    keys["shipped-backbone"] = backbone.shipped_key(backbone.config("quick"), "d", "bf16")
    keys["image-cache"] = images.cache_path("train", data="d", split="train", seed=0, idx=[1, 2]).name
    print(json.dumps(keys, sort_keys=True))
""")


def test_a_docstring_edit_a_rename_or_a_moved_function_keeps_every_key(tmp_path):
    """The keys do not read source text: edit docstrings and comments, rename a private helper and
    move a function in a copy of the package, and every stage's key is unchanged."""
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "posecore", copy / "posecore", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    for rel in ("recipes/backbone.py", "recipes/zhou.py", "train.py", "losses.py", "models/hourglass.py"):
        f = copy / "posecore" / rel
        text = f.read_text()
        f.write_text('"""An edited docstring."""\n# a comment\n' + text.split('"""', 2)[2].lstrip("\n")
                     if text.startswith('"""') else "# a comment\n" + text)
    f = copy / "posecore" / "recipes" / "backbone.py"
    f.write_text(f.read_text().replace("FreshBatches", "RenderedBatches"))       # a rename
    f = copy / "posecore" / "metrics.py"
    f.write_text(f.read_text() + "\n\ndef moved_here():\n    return 1\n")

    def keys(root):
        out = subprocess.run([sys.executable, "-c", _KEYS_SCRIPT, str(root)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(root)})
        assert out.returncode == 0, out.stderr
        return out.stdout
    assert keys(copy) == keys(ROOT)


def test_atomic_save_leaves_no_partial_file(tmp_path):
    target = tmp_path / "a.pt"
    artefacts.atomic_save({"x": 1}, target)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError, match="interrupted"):
        artefacts.atomic_save({"x": Boom()}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]            # no .tmp left, old file intact
    assert torch.load(target, weights_only=True) == {"x": 1}


_RACE_SCRIPT = textwrap.dedent("""
    import os, sys, time, torch
    from posecore import train
    ck, marks, me = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.manual_seed(0)
    m = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    X = torch.ones(4, 2)

    def step(batch, s):
        opt.zero_grad(); loss = m(batch).pow(2).mean(); loss.backward(); opt.step()
        time.sleep(0.05)                     # long enough for the other process to arrive
        return {"loss": loss.item()}

    def run():
        open(os.path.join(marks, me), "w").close()
        return train.fit(step, lambda s: X, models={"m": m}, optimizers={"o": opt}, num_steps=20,
                         checkpoint=ck, config={"k": 1}, progress=False, checkpoint_every=2)
    h = train.load_or_train(ck, {"m": m}, run, {"k": 1})
    print(len(h), float(m.weight.sum()))
""")


def test_two_processes_asking_for_one_checkpoint_train_it_once(tmp_path):
    """The race `make test` hit: two workers training the same checkpoint. Now the second waits for
    the first and loads what it wrote; both see the same weights, and no temporary file is left."""
    ck, marks = tmp_path / "ck" / "net.pt", tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _RACE_SCRIPT, str(ck), str(marks), f"p{i}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len(list(marks.iterdir())) == 1                                   # trained once
    assert outs[0][0] == outs[1][0]                                          # the same weights in both
    assert sorted(p.name for p in ck.parent.iterdir()) == [".locks", "net.pt"]           # no temporary file left


def test_checkpoint_writes_use_unique_temporary_names(tmp_path, monkeypatch):
    seen = []
    real = artefacts.tempfile.mkstemp

    def spy(**kw):
        fd, name = real(**kw)
        seen.append(name)
        return fd, name
    monkeypatch.setattr(artefacts.tempfile, "mkstemp", spy)
    m = torch.nn.Linear(1, 1)
    for _ in range(2):
        train.save_checkpoint(tmp_path / "c.pt", step=1, models={"m": m})
    assert len(set(seen)) == 2 and all(Path(n).parent == tmp_path for n in seen)


# --- python -m posecore.cache -------------------------------------------------------------------

def _fill(root: Path) -> dict:
    files = {
        "checkpoints/zhou-abc.pt": 1000,
        "checkpoints/images/train-123.pt": 3000,
        "generated/wang_labels.npz": 200,
        "h36m_train_0123.npz": 5000,
        "notes/other.bin": 10,
    }
    for rel, n in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * n)
    return files


def test_list(tmp_path, monkeypatch, capsys):
    root = tmp_path / "cache"
    monkeypatch.setenv("POSECORE_CACHE", str(root))
    monkeypatch.delenv("POSECORE_CHECKPOINTS", raising=False)
    _fill(root)
    kinds = {e.path.relative_to(root).as_posix(): (e.kind, e.size) for e in cache.list_cache()}
    assert kinds == {"checkpoints/zhou-abc.pt": ("checkpoints", 1000),
                     "checkpoints/images/train-123.pt": ("images", 3000),
                     "generated/wang_labels.npz": ("generated", 200),
                     "h36m_train_0123.npz": ("datasets", 5000),
                     "notes/other.bin": ("other", 10)}
    assert cache.main(["list"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "checkpoints: 1 file(s)" in out and "5.0 kB" in out and "total: 5 file(s)" in out
    # checkpoints redirected outside the cache root are listed too
    ck = tmp_path / "elsewhere"
    ck.mkdir()
    (ck / "m.pt").write_bytes(b"12")
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(ck))
    assert ck / "m.pt" in [e.path for e in cache.list_cache()]


def test_clear(tmp_path, monkeypatch, capsys):
    root = tmp_path / "cache"
    monkeypatch.setenv("POSECORE_CACHE", str(root))
    monkeypatch.delenv("POSECORE_CHECKPOINTS", raising=False)
    _fill(root)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    (root / "link").symlink_to(outside)                   # a link inside: removed, never followed
    # without --yes and without a terminal nothing is deleted
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert cache.main(["clear"]) == 1
    assert (root / "h36m_train_0123.npz").exists()
    # one kind
    assert cache.main(["clear", "images", "--yes"]) == 0
    assert not (root / "checkpoints" / "images").exists() and (root / "checkpoints" / "zhou-abc.pt").exists()
    # paths outside the cache root are refused, nothing deleted
    assert cache.main(["clear", "--yes", str(outside), str(root / "generated")]) == 2
    assert "outside the cache root" in capsys.readouterr().err
    assert outside.exists() and (root / "generated").exists()
    with pytest.raises(ValueError, match="outside the cache root"):
        cache.clear([root / ".." / "precious.txt"])
    with pytest.raises(ValueError, match="outside the cache root"):
        cache.clear([root])                               # the root itself
    # everything
    assert cache.main(["clear", "--yes"]) == 0
    assert root.is_dir() and list(root.iterdir()) == []
    assert outside.read_text() == "keep me"


def test_clear_refuses_unsafe_roots(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "file.py").write_text("x")
    monkeypatch.setenv("POSECORE_CACHE", str(repo))
    assert cache.main(["clear", "--yes"]) == 2
    assert (repo / "file.py").exists()
    # (checked without calling clear() on them, so that a regression cannot delete anything)
    with pytest.raises(ValueError, match="home folder"):
        cache._check_root(Path.home())
    with pytest.raises(ValueError, match="filesystem root"):
        cache._check_root(Path("/"))
    with pytest.raises(ValueError, match="git checkout"):
        cache.clear(root=repo)


def test_cli_runs_as_module(tmp_path):
    env = dict(os.environ, POSECORE_CACHE=str(tmp_path / "c"))
    env.pop("POSECORE_CHECKPOINTS", None)
    out = subprocess.run([sys.executable, "-m", "posecore.cache", "list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "nothing cached" in out and str(tmp_path / "c") in out


def test_session_fixtures_get_a_private_cache_too(tmp_path):
    """tests/conftest.py names a private cache at import when the caller named none, so that
    session-scoped fixtures (which run before the per-test cache) never write to the user's cache."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("POSECORE_CACHE", "POSECORE_CHECKPOINTS")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"))
    code = ("import os, sys; sys.path.insert(0, 'tests'); import conftest; "
            "from posecore.cache import cache_root; print(os.environ['POSECORE_CACHE']); print(cache_root())")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    named, root = out.stdout.split()
    assert named == root and not root.startswith(str(tmp_path)), (named, root)
    assert not Path(root).exists()                                      # removed when the process ended
