"""The book's sources: the chapter notebooks, their parameters cells and ``_toc.yml``."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
TOC = ROOT / "_toc.yml"
EXECUTED = ROOT / "_build" / "executed"
NBVAL = ROOT / "_build" / "nbval"
EXECUTED_PREFIX = "_build/executed/"
NOTEBOOK_GLOB = "[0-9][0-9]_*.py"
KERNEL = "python3"
PROFILES = ("smoke", "quick", "full")


class BookError(RuntimeError):
    """A problem with the book's sources or build, with a message that says how to fix it."""


# --- sources ---------------------------------------------------------------------------------------
def notebook_sources(only: list[str] | None = None) -> list[Path]:
    """``notebooks/NN_*.py`` in order; ``only`` filters by number ("03") or full stem."""
    paths = sorted(NOTEBOOKS.glob(NOTEBOOK_GLOB))
    if only:
        want = [str(o) for o in only]
        picked = [p for p in paths if p.stem[:2] in want or p.stem in want]
        unknown = [o for o in want if not any(p.stem[:2] == o or p.stem == o for p in paths)]
        if unknown:
            raise BookError(f"--only {unknown}: no such notebook in {NOTEBOOKS} "
                            f"(have: {[p.stem for p in paths]})")
        return picked
    return paths


def read_notebook(path: Path):
    """The jupytext percent source ``path`` as an nbformat notebook (kernel python3)."""
    import jupytext
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": KERNEL}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def check_parameters_cell(nb, name: str = "notebook") -> dict:
    """The notebook's parameters as ``{name: value}``; raises BookError unless exactly one cell is
    tagged ``parameters``, it is the first code cell, it holds only flat assignments of literals
    (``name = <literal>``, one name per statement; comments allowed) and it sets ``profile``."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise BookError(f"{name}: expected exactly one cell tagged 'parameters', found {len(tagged)} "
                        "(jupytext: `# %% tags=[\"parameters\"]`)")
    if not code or code[0] is not tagged[0]:
        raise BookError(f"{name}: the 'parameters' cell must be the first code cell")
    src = tagged[0].source
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        raise BookError(f"{name}: parameters cell does not parse: {e}") from e
    params = {}
    for stmt in tree.body:
        ok = (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)) \
            or (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None)
        if not ok:
            raise BookError(f"{name}: parameters cell line {stmt.lineno}: only flat assignments "
                            f"`name = literal` are allowed, got: {ast.get_source_segment(src, stmt)!r}")
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
        try:
            value = ast.literal_eval(stmt.value)
        except ValueError as e:
            raise BookError(f"{name}: parameter {target.id!r} must be a literal (number, string, "
                            f"None, list, ...), got {ast.get_source_segment(src, stmt.value)!r}") from e
        if target.id in params:
            raise BookError(f"{name}: parameter {target.id!r} is assigned twice")
        params[target.id] = value
    if "profile" not in params:
        raise BookError(f"{name}: the parameters cell must set `profile = None`")
    return params


# --- table of contents ----------------------------------------------------------------------------
def toc_files(toc_path: Path = TOC) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (including ``root``), in order."""
    import yaml
    if not toc_path.exists():
        raise BookError(f"{toc_path} does not exist")
    data = yaml.safe_load(toc_path.read_text())
    out = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("file", "root") and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(data)
    return out


def check_toc(toc_path: Path = TOC) -> list[str]:
    """The chapter stems listed in ``_toc.yml``; BookError naming the fix when a notebook is not
    listed, or when the toc lists a chapter that has no notebook source."""
    files = toc_files(toc_path)
    listed = [f[len(EXECUTED_PREFIX):] for f in files if f.startswith(EXECUTED_PREFIX)]
    listed = [re.sub(r"\.ipynb$", "", s) for s in listed]
    have = [p.stem for p in notebook_sources()]
    missing = [s for s in have if s not in listed]
    orphans = [s for s in listed if s not in have]
    problems = []
    if missing:
        problems.append("notebooks missing from _toc.yml (add under the 'Chapters' part, or run "
                        "`python -m posecore.book toc --write`):\n"
                        + "\n".join(f"      - file: {EXECUTED_PREFIX}{s}" for s in missing))
    if orphans:
        problems.append("_toc.yml lists chapters with no notebooks/<name>.py source: "
                        + ", ".join(orphans))
    if problems:
        raise BookError(f"{toc_path}: " + "\n".join(problems))
    return listed


CHAPTERS_CAPTION = "  - caption: Chapters"


def toc_with_chapters(toc_text: str, stems: list[str]) -> str:
    """``_toc.yml`` text with the 'Chapters' part listing exactly ``stems`` (other parts kept)."""
    lines = toc_text.splitlines()
    try:
        start = lines.index(CHAPTERS_CAPTION)
    except ValueError as e:
        raise BookError(f"_toc.yml has no line {CHAPTERS_CAPTION.strip()!r}") from e
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - caption:")), len(lines))
    block = [CHAPTERS_CAPTION, "    numbered: false", "    chapters:"]
    block += [f"      - file: {EXECUTED_PREFIX}{s}" for s in stems]
    return "\n".join(lines[:start] + block + lines[end:]) + "\n"


def check_all() -> list[str]:
    """check_toc plus the parameters-cell rules for every notebook; returns the problems found."""
    problems = []
    try:
        check_toc()
    except BookError as e:
        problems.append(str(e))
    for p in notebook_sources():
        try:
            check_parameters_cell(read_notebook(p), p.name)
        except BookError as e:
            problems.append(str(e))
    return problems
