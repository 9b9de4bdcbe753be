"""The jupytext sources notebooks/NN_*.py are the only committed notebook source.

* a committed ``notebooks/*.ipynb`` must match its ``.py`` source (better: commit none);
* every notebook has exactly one cell tagged ``parameters``, it is the first code cell, it holds
  only flat ``name = literal`` assignments and sets ``profile``;
* every notebook is listed in ``_toc.yml`` and the toc lists no chapter without a source.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from posecore import book

ROOT = book.ROOT
SOURCES = book.notebook_sources()


def _committed_ipynbs() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", "notebooks"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        return [ROOT / p for p in out.split("\0") if p.endswith(".ipynb")]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: check what is there
        return sorted((ROOT / "notebooks").rglob("*.ipynb"))


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert SOURCES, f"no notebooks matching {book.NOTEBOOKS / book.NOTEBOOK_GLOB}"


def test_committed_ipynb_match_their_sources():
    problems = []
    for ipynb in _committed_ipynbs():
        if ".ipynb_checkpoints" in ipynb.parts:
            problems.append(f"{ipynb.relative_to(ROOT)}: checkpoint committed")
            continue
        src = ipynb.with_suffix(".py")
        if not src.exists():
            problems.append(f"{ipynb.relative_to(ROOT)}: committed without a {src.name} source")
            continue
        if not ipynb.exists():
            continue  # deleted in the work tree
        if _cells(nbformat.read(ipynb, as_version=4)) != _cells(book.read_notebook(src)):
            problems.append(f"{ipynb.relative_to(ROOT)} differs from {src.name}; commit only the .py "
                            f"(jupytext --to py:percent {ipynb.name}) and remove the .ipynb")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_parameters_cell(src):
    params = book.check_parameters_cell(book.read_notebook(src), src.name)
    assert "profile" in params


@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_percent_format(src):
    text = src.read_text()
    assert "# %%" in text, f"{src.name}: not a jupytext percent-format notebook"
    assert src.stem[:2].isdigit() and src.stem[2] == "_", f"{src.name}: name it NN_topic.py"


def test_toc_lists_every_notebook():
    listed = book.check_toc()
    assert sorted(listed) == sorted(p.stem for p in SOURCES)
    files = book.toc_files()
    for f in files:
        if not f.startswith(book.EXECUTED_PREFIX):
            assert (ROOT / f"{f}.md").exists() or (ROOT / f).exists(), f"_toc.yml: {f} does not exist"


# --- the rules themselves -------------------------------------------------------------------------
def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for kind, src, tags in cells:
        c = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(src)
        if tags:
            c.metadata["tags"] = tags
        nb.cells.append(c)
    return nb


GOOD = ("code", "profile = None\nepochs = 3  # comment\ndataset: str = 'synth'\nsizes = [1, 2]", ["parameters"])


def test_rules_accept_a_good_cell():
    params = book.check_parameters_cell(_nb(("markdown", "# t", None), GOOD, ("code", "x = 1", None)))
    assert params == {"profile": None, "epochs": 3, "dataset": "synth", "sizes": [1, 2]}


@pytest.mark.parametrize("cells, message", [
    ([("code", "profile = None", None)], "exactly one cell tagged 'parameters', found 0"),
    ([GOOD, ("code", "profile = None", ["parameters"])], "found 2"),
    ([("code", "import os", None), GOOD], "must be the first code cell"),
    ([("code", "profile = None\nimport os", ["parameters"])], "only flat assignments"),
    ([("code", "profile = None\na = b = 1", ["parameters"])], "only flat assignments"),
    ([("code", "profile = None\nif True:\n    a = 1", ["parameters"])], "only flat assignments"),
    ([("code", "profile = None\nn = 2 ** 10", ["parameters"])], "must be a literal"),
    ([("code", "profile = None\nn = os.cpu_count()", ["parameters"])], "must be a literal"),
    ([("code", "epochs = 3", ["parameters"])], "must set `profile = None`"),
    ([("code", "profile = None\nprofile = 'quick'", ["parameters"])], "assigned twice"),
])
def test_rules_reject(cells, message):
    with pytest.raises(book.BookError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        book.check_parameters_cell(_nb(*cells), "nb")


def test_toc_check_names_the_missing_line(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: _build/executed/99_nothing\n")
    with pytest.raises(book.BookError) as e:
        book.check_toc(toc)
    msg = str(e.value)
    assert f"- file: _build/executed/{SOURCES[0].stem}" in msg
    assert "99_nothing" in msg
