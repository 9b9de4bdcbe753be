"""Caches and checkpoints in the user cache folder, keyed by config and by a digest of the code.

* cache_root / checkpoint_dir follow $POSECORE_CACHE, $POSECORE_CHECKPOINTS, XDG_CACHE_HOME;
* code_digest covers the modules a module imports (relative and absolute imports, recursively);
* load_or_train retrains a finished checkpoint whose code digest is stale;
* ``python -m posecore.cache list|clear`` lists and frees the cache and never deletes outside it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import torch

from posecore import cache, train

ROOT = Path(__file__).resolve().parents[1]


# --- where things go ------------------------------------------------------------------------------

def test_cache_root_and_checkpoint_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("POSECORE_CHECKPOINTS", raising=False)
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    assert train.checkpoint_dir() == tmp_path / "c" / "checkpoints"
    assert train.checkpoint_path("m", {"a": 1}) == tmp_path / "c" / "checkpoints" / f"m-{train.config_hash({'a': 1})}.pt"
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


# --- code digests ---------------------------------------------------------------------------------

@pytest.fixture
def tmp_package(tmp_path, monkeypatch):
    """A throw-away package: recipe imports models.net (relative), util (absolute) and a name from
    helpers; unrelated is imported by nobody."""
    name = f"pc_tmp_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / name
    (pkg / "models").mkdir(parents=True)
    files = {
        "__init__.py": '"""tmp"""\n',
        "models/__init__.py": "",
        "models/net.py": "WIDTH = 8\n",
        "util.py": "def f():\n    return 1\n",
        "helpers.py": "def g():\n    return 2\n",
        "unrelated.py": "X = 1\n",
        "recipe.py": textwrap.dedent(f"""
            from .models import net
            import {name}.util
            from {name}.helpers import g

            def train():
                from . import util  # a lazy import counts too
                return net.WIDTH
        """),
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, pkg
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def test_code_digest_follows_imports(tmp_package):
    name, pkg = tmp_package
    d0 = train.code_digest(f"{name}.recipe")
    assert len(d0) == 16 and d0 == train.code_digest(f"{name}.recipe")
    edits = {}
    for rel in ("models/net.py", "util.py", "helpers.py", "__init__.py", "recipe.py"):
        old = (pkg / rel).read_text()
        (pkg / rel).write_text(old + "\n# changed\n")
        edits[rel] = train.code_digest(f"{name}.recipe")
        (pkg / rel).write_text(old)
    assert all(d != d0 for d in edits.values()), edits
    assert len(set(edits.values())) == len(edits)
    (pkg / "unrelated.py").write_text("X = 2\n")
    assert train.code_digest(f"{name}.recipe") == d0
    assert train.code_digest(f"{name}.recipe") == d0
    # module objects and names give the same digest; several modules differ from one
    import importlib
    mod = importlib.import_module(f"{name}.recipe")
    assert train.code_digest(mod) == d0
    assert train.code_digest(mod, f"{name}.unrelated") != d0
    with pytest.raises(ValueError, match="no source"):
        train.code_digest(f"{name}.missing")


def test_code_digest_of_posecore_follows_imports(monkeypatch):
    """posecore.train imports posecore.cache (inside a function): a change there changes the digest."""
    d0 = train.code_digest("posecore.train")
    real = train._read_source

    def patched(path):
        text = real(path)
        return text + "\n# edited\n" if Path(path).name == "cache.py" and Path(path).parent.name == "posecore" else text
    monkeypatch.setattr(train, "_read_source", patched)
    assert train.code_digest("posecore.train") != d0
    assert train.code_digest("posecore.metrics") == train.code_digest("posecore.metrics")


def test_checkpoint_path_keyed_by_code(tmp_package, monkeypatch, tmp_path):
    name, pkg = tmp_package
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / "ck"))
    cfg = {"lr": 0.1}
    plain = train.checkpoint_path("net", cfg)
    a = train.checkpoint_path("net", cfg, code=(f"{name}.recipe",))
    assert plain.name == f"net-{train.config_hash(cfg)}.pt" and a != plain and a.parent == plain.parent
    (pkg / "models" / "net.py").write_text("WIDTH = 16\n")
    b = train.checkpoint_path("net", cfg, code=(f"{name}.recipe",))
    assert b != a
    assert train.checkpoint_path("net", {"lr": 0.2}, code=(f"{name}.recipe",)) != b


# --- stale checkpoints are retrained -------------------------------------------------------------

def _setup():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))

    def batch_fn(step):
        return X[torch.randint(0, 32, (8,), generator=torch.Generator().manual_seed(step))]

    def step_fn(batch, step):
        opt.zero_grad()
        loss = (model(batch) - batch.sum(1, keepdim=True)).pow(2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}
    return model, opt, batch_fn, step_fn


def test_stale_checkpoint_is_retrained(tmp_package, tmp_path):
    name, pkg = tmp_package
    ck = tmp_path / "ck.pt"
    code = (f"{name}.recipe",)
    calls = []

    def run():                                  # a recipe: fit is called without `code`
        calls.append(1)
        m, o, b, f = _setup()
        return train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=6, checkpoint=ck,
                         config={"k": 1}, progress=False, log_every=1)

    h1 = train.load_or_train(ck, {"m": _setup()[0]}, run, config={"k": 1}, code=code)
    assert len(calls) == 1 and [r["step"] for r in h1] == list(range(1, 7))
    assert torch.load(ck, weights_only=False)["code_digest"] == train.code_digest(*code)
    train.load_or_train(ck, {"m": _setup()[0]}, run, config={"k": 1}, code=code)
    assert len(calls) == 1                      # same code: loaded
    (pkg / "models" / "net.py").write_text("WIDTH = 32\n")
    with pytest.warns(UserWarning, match="other code"):
        h2 = train.load_or_train(ck, {"m": _setup()[0]}, run, config={"k": 1}, code=code)
    assert len(calls) == 2                      # stale: trained again, from step 1
    assert [r["step"] for r in h2] == list(range(1, 7))
    blob = torch.load(ck, weights_only=False)
    assert blob["finished"] and blob["code_digest"] == train.code_digest(*code)
    train.load_or_train(ck, {"m": _setup()[0]}, run, config={"k": 1}, code=code)
    assert len(calls) == 2
    # without `code`, the digest is not checked (as before)
    train.load_or_train(ck, {"m": _setup()[0]}, run, config={"k": 1})
    assert len(calls) == 2
    # load_checkpoint with code refuses a checkpoint of other code
    with pytest.raises(ValueError, match="other code"):
        train.load_checkpoint(ck, models={"m": _setup()[0]}, code="0123456789abcdef")


def test_fit_with_code_restarts_a_stale_partial_run(tmp_path):
    ck = tmp_path / "ck.pt"
    m, o, b, f = _setup()
    train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=3, checkpoint=ck, progress=False,
              code="aaaaaaaaaaaaaaaa", log_every=1)
    m, o, b, f = _setup()
    h = train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=5, checkpoint=ck, progress=False,
                  code="aaaaaaaaaaaaaaaa", log_every=1)
    assert [r["step"] for r in h] == [1, 2, 3, 4, 5]      # resumed: history kept, steps 4-5 run
    m, o, b, f = _setup()
    with pytest.warns(UserWarning, match="other code"):
        h = train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=5, checkpoint=ck,
                      progress=False, code="bbbbbbbbbbbbbbbb", log_every=1)
    assert [r["step"] for r in h] == [1, 2, 3, 4, 5]
    assert torch.load(ck, weights_only=False)["code_digest"] == "bbbbbbbbbbbbbbbb"


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
