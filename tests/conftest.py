"""Shared pytest setup for posecore's tests.

* the repository root is importable even without ``pip install -e .``;
* matplotlib draws off-screen (Agg);
* the ``browser`` marker tags the headless-Chromium check of the built book (``make test`` runs it
  after building the smoke book; ``pytest -m "not browser"`` leaves it out);
* every test gets its own user cache (``POSECORE_CACHE``) in a temporary folder, so no test writes
  converted datasets or checkpoints into the real user cache; session-scoped fixtures (which run
  before it) get a private session cache unless the caller named one;
* fixtures: ``rng`` (seeded numpy Generator) and ``standing_pose`` (a plausible (17, 3) pose in
  camera coordinates, mm).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
# Session-scoped fixtures run before the per-test cache below (e.g. test_book_build's html_dir, which
# executes the smoke book when no built book is given): without a cache named from outside (make
# test's TEST_ENV), they get a private one too, removed at exit -- never the user's ~/.cache/posecore.
if "POSECORE_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile
    _SESSION_CACHE = tempfile.mkdtemp(prefix="posecore-pytest-cache-")
    os.environ["POSECORE_CACHE"] = _SESSION_CACHE
    os.environ.pop("POSECORE_CHECKPOINTS", None)
    atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: opens the built book in headless Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(autouse=True)
def _private_user_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache (checkpoints included) in pytest's temporary folders: never
    the user's, never another test's (``$POSECORE_CHECKPOINTS`` from outside would point elsewhere)."""
    monkeypatch.setenv("POSECORE_CACHE", str(tmp_path_factory.mktemp("posecore-cache")))
    monkeypatch.delenv("POSECORE_CHECKPOINTS", raising=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# person standing 4 m in front of the camera, facing it (their left is the camera's +x); y is down
_OFFSETS = {0: (0, 0), 1: (-130, 0), 2: (-130, 450), 3: (-130, 880), 4: (130, 0), 5: (130, 450),
            6: (130, 880), 7: (0, -230), 8: (0, -480), 9: (0, -580), 10: (0, -700), 11: (180, -470),
            12: (200, -200), 13: (210, 40), 14: (-180, -470), 15: (-200, -200), 16: (-210, 40)}


@pytest.fixture
def standing_pose():
    pose = np.zeros((17, 3))
    for j, (x, y) in _OFFSETS.items():
        pose[j] = (x, y, 4000.0 + (30.0 if j in (13, 16) else 0.0))
    return pose
