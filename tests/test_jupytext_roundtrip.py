"""Saving an unchanged chapter leaves no diff.

The chapters notebooks/NN_*.py are jupytext percent scripts; jupytext.toml (repo root) says how
jupytext writes them. With that configuration:

* reading each chapter and writing it back as ``py:percent`` gives the file byte for byte;
* so does a save from JupyterLab (``make lab``), simulated with jupytext's contents manager: the
  notebook comes back with the metadata that JupyterLab adds (language_info, widgets, kernelspec of
  the ``python3`` kernel, execution times, outputs) and is saved into the same bytes, with no .ipynb
  written next to it (no pairing by default).
"""
from __future__ import annotations

import copy
import difflib
import json
import re
import shutil
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
from jupytext.config import find_jupytext_configuration_file, load_jupytext_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _diff(a: str, b: str, name: str) -> str:
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), f"{name} (file)",
                                          f"{name} (jupytext)", lineterm="", n=1))


def test_config_file_is_found():
    assert CHAPTERS
    for p in CHAPTERS:
        assert Path(find_jupytext_configuration_file(str(p))) == ROOT / "jupytext.toml"
    cfg = load_jupytext_config(str(CHAPTERS[0]))
    assert cfg.formats in ("py:percent", ["py:percent"])     # text notebooks only, no .ipynb pairing


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_roundtrips_byte_for_byte(path):
    config = load_jupytext_config(str(path))
    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent", config=config)
    out = jupytext.writes(nb, fmt="py:percent", config=config)
    assert out == text, ("jupytext would rewrite this chapter (see jupytext.toml):\n"
                         + _diff(text, out, path.name))


def _make_lab_kernel_display_name() -> str | None:
    m = re.search(r'"display_name": "([^"]+)"', (ROOT / "Makefile").read_text())
    return m.group(1) if m else None


def test_make_lab_kernel_matches_the_headers():
    """JupyterLab writes the running kernel's display name into the header on save: `make lab`'s
    python3 kernel must carry the name that the chapters have."""
    name = _make_lab_kernel_display_name()
    for p in CHAPTERS:
        nb = jupytext.reads(p.read_text(encoding="utf-8"), fmt="py:percent")
        assert nb.metadata["kernelspec"]["name"] == "python3", p.name
        assert nb.metadata["kernelspec"]["display_name"] == name, p.name


def test_jupyterlab_save_leaves_no_diff(tmp_path):
    pytest.importorskip("jupyter_server")
    from jupytext import TextFileContentsManager

    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    for p in CHAPTERS:
        shutil.copy(p, tmp_path / "notebooks" / p.name)
    cm = TextFileContentsManager(root_dir=str(tmp_path))
    kernel_name = _make_lab_kernel_display_name()
    problems = []
    for p in CHAPTERS:
        rel = f"notebooks/{p.name}"
        before = (tmp_path / rel).read_text(encoding="utf-8")
        model = cm.get(rel, content=True, type="notebook")
        nb = copy.deepcopy(model["content"])
        # what JupyterLab sends back after running the notebook
        nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": kernel_name, "language": "python"}
        nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.0", "mimetype": "text/x-python",
                                           "codemirror_mode": {"name": "ipython", "version": 3}}
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        for i, c in enumerate(nb["cells"]):
            c["metadata"]["trusted"] = True
            if c["cell_type"] == "code":
                c["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000Z"}
                c["metadata"]["scrolled"] = True
                c["execution_count"] = i
                c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "out\n"}]
        cm.save({"type": "notebook", "format": "json", "content": json.loads(json.dumps(nb))}, rel)
        after = (tmp_path / rel).read_text(encoding="utf-8")
        if after != before:
            problems.append(_diff(before, after, p.name))
    assert not problems, "\n".join(problems)
    assert not list((tmp_path / "notebooks").glob("*.ipynb"))      # not paired
