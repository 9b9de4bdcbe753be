"""Chapters 01-04 run end to end on real Human3.6M files (here: the H36M-format fixture, written in the
exact VideoPose3D layout) with `-p dataset h36m -p data_root DIR`, no wild dataset: the wild sections say
so and are skipped. Smoke profile; every cache goes to a temporary folder."""
from pathlib import Path

import jupytext
import papermill
import pytest

from posecore.data import fixtures

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("01_drover_lifting_gan", "02_drover_ablation", "03_wang_label_generator", "04_wang_ablation")


@pytest.fixture(scope="module")
def h36m_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    fixtures.write_h36m_npz(root, subjects=("S1", "S5", "S9", "S11"), n_frames=60)
    return root


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_on_h36m_files(chapter, h36m_root, tmp_path, monkeypatch):
    for var, sub in (("POSECORE_CACHE", "cache"), ("POSECORE_CHECKPOINTS", "ckpt"), ("POSECORE_RESULTS", "results")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = {p: p.stat().st_mtime_ns for p in h36m_root.iterdir()}
    nb = jupytext.read(ROOT / "notebooks" / f"{chapter}.py")
    src, out = tmp_path / f"{chapter}.ipynb", tmp_path / f"{chapter}-out.ipynb"
    jupytext.write(nb, src)
    papermill.execute_notebook(str(src), str(out), cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3",
                               parameters=dict(profile="smoke", dataset="h36m", data_root=str(h36m_root)))
    text = out.read_text()
    if chapter != "02_drover_ablation":                       # 02 uses the lab data only
        assert "no wild_test: dataset 'h36m' has none" in text
    assert (tmp_path / "results" / f"{chapter}.json").is_file()
    assert '"dataset": "h36m"' in (tmp_path / "results" / f"{chapter}.json").read_text()
    assert {p: p.stat().st_mtime_ns for p in h36m_root.iterdir()} == before   # the data folder is untouched
