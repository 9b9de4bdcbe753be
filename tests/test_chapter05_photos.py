"""Chapter 05 runs end to end on the papers' kinds of images -- Human3.6M frames, MPII photos and the
MPI-INF-3DHP test set -- through ``images='photos'`` (here: fixture folders in those layouts, rendered or
marker frames, nothing of the datasets). Smoke profile; every cache goes to a temporary folder."""
import json
from pathlib import Path

import jupytext
import papermill
import pytest

from posecore.data import photo_fixtures as pf

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "05_zhou_weak_supervision"


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return pf.write_chapter_photos(tmp_path_factory.mktemp("photos"))


def test_chapter05_runs_on_photos(roots, tmp_path, monkeypatch):
    for var, sub in (("POSECORE_CACHE", "cache"), ("POSECORE_CHECKPOINTS", "ckpt"), ("POSECORE_RESULTS", "results")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = sorted((p, p.stat().st_mtime_ns) for p in roots.rglob("*"))
    nb = jupytext.read(ROOT / "notebooks" / f"{CHAPTER}.py")
    src, out = tmp_path / f"{CHAPTER}.ipynb", tmp_path / f"{CHAPTER}-out.ipynb"
    jupytext.write(nb, src)
    papermill.execute_notebook(str(src), str(out), cwd=str(ROOT / "notebooks"), progress_bar=False,
                               kernel_name="python3",
                               parameters=dict(profile="smoke", dataset="h36m", data_root=str(roots / "h36m"),
                                               images="photos", wild_dataset="mpii", wild_root=str(roots / "mpii"),
                                               wild_test_dataset="3dhp", wild_test_root=str(roots / "3dhp")))
    text = out.read_text()
    assert "h36m+mpii+3dhp (photos)" in text
    recs = json.loads((tmp_path / "results" / f"{CHAPTER}.json").read_text())
    assert "h36m+mpii+3dhp (photos)" in json.dumps(recs)
    assert sorted((p, p.stat().st_mtime_ns) for p in roots.rglob("*")) == before   # the data folders are untouched


def test_photo_parameters_are_checked():
    from posecore.recipes import photo_data
    with pytest.raises(ValueError, match="reads 'mpii' as wild_dataset"):
        photo_data.sources("h36m", "/x", None, None, "3dhp", "/y")
    with pytest.raises(ValueError, match="wild_test_root"):
        photo_data.sources("h36m", "/x", "mpii", "/y", "3dhp", None)
