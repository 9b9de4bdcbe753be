"""Build tooling for the posecore book: ``python -m posecore.book COMMAND``.

Commands
--------
``list``      the chapters (``notebooks/NN_*.py``) and whether each is in ``_toc.yml``
``check``     static checks: every notebook is in ``_toc.yml`` (and vice versa) and has a valid
              ``parameters`` cell (see :func:`check_parameters_cell`)
``execute``   jupytext ``notebooks/NN_*.py`` -> ipynb, run with papermill (``-p profile P``), write
              ``_build/executed/NN_*.ipynb``; a notebook whose source, parameters and ``posecore``
              library code are unchanged since its last execution is skipped (``--force`` reruns)
``build``     ``jupyter-book build .`` over the executed notebooks; prints the path of index.html
``toc``       print (``--write``: rewrite) ``_toc.yml`` with every notebook under "Chapters"
``nbval``     write unexecuted ipynb copies to ``_build/nbval/phase1/`` (and ``phase2/``: the
              notebooks that read other chapters' results) for ``pytest --nbval-lax``, one pytest
              run per phase folder, in order (see :func:`execution_phases`)

Conventions
-----------
* The jupytext percent sources ``notebooks/NN_name.py`` are the only committed notebook source.
* Papermill runs every notebook with kernel ``python3`` and **cwd = notebooks/** (as when a reader
  opens it in Jupyter). Notebooks must not depend on the cwd anyway (nbval runs them from
  ``_build/nbval/``): use paths from ``posecore`` (e.g. :func:`posecore.results.results_dir`).
* ``_toc.yml`` is static: each chapter is listed as ``- file: _build/executed/NN_name``. ``check``,
  ``execute`` and ``build`` fail, naming the line to add, when a notebook is missing from it;
  ``python -m posecore.book toc --write`` lists every notebook there.
* A notebook that reads other chapters' results (:func:`reads_results`, e.g. the summary chapter)
  runs after all the others have finished, in ``execute -j N`` and in ``make nbval`` alike.
* Parameters given with ``execute -p NAME VALUE`` are checked against every selected notebook's
  parameters cell before papermill starts (:func:`posecore.params.check`); each chapter also calls
  :func:`posecore.params.validate` right after its parameters cell, for papermill run by hand.

This module is also a Sphinx extension (listed in ``_config.yml``): it copies the installed plotly
package's ``plotly.min.js`` into the book's ``_static/`` so that every page loads one local copy,
writes each script once per page (a Sphinx 7.4 bug wrote some inline scripts twice) and warns when
``sphinx_thebe`` is loaded (the book runs no kernel; see ``_config.yml``).
After a build, :func:`build` checks the pages: no asset from the network, no inline script written
twice, exactly the toc's pages (plus genindex, search and the index redirect), and
``_static/posecore.css`` linked from every page; it lists the executed notebooks' outputs that a
reader should not see (:func:`output_problems`).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


# --- execution ------------------------------------------------------------------------------------
def library_digest() -> str:
    """A hash of the posecore package's sources (an executed notebook is stale when they change)."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "posecore").rglob("*.py")):
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _fingerprint(src: Path, parameters: dict, lib: str) -> dict:
    return {"source_sha256": hashlib.sha256(src.read_bytes()).hexdigest()[:16],
            "parameters": parameters, "library": lib}


def _is_fresh(out: Path, fp: dict) -> bool:
    if not out.exists():
        return False
    try:
        meta = json.loads(out.read_text())["metadata"].get("posecore", {})
    except (ValueError, KeyError):
        return False
    return meta.get("fingerprint") == fp and meta.get("status") == "ok"


def execute_one(src: Path, out: Path, parameters: dict, timeout: int | None = None,
                log_output: bool = False, progress: bool = False) -> float:
    """Execute one notebook source with papermill into ``out``; returns the seconds taken."""
    import papermill as pm
    nb = read_notebook(src)
    check_parameters(src, parameters, nb)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    env_profile = os.environ.get("POSECORE_PROFILE")
    try:
        # the kernel inherits our environment: make $POSECORE_PROFILE agree with -p profile
        if "profile" in parameters and parameters["profile"] is not None:
            os.environ["POSECORE_PROFILE"] = parameters["profile"]
        pm.execute_notebook(nb, str(out), parameters=parameters, kernel_name=KERNEL, language="python",
                            cwd=str(NOTEBOOKS), progress_bar=progress and not log_output,
                            log_output=log_output,
                            execution_timeout=timeout, report_mode=False)
    finally:
        if env_profile is None:
            os.environ.pop("POSECORE_PROFILE", None)
        else:
            os.environ["POSECORE_PROFILE"] = env_profile
    return time.time() - t0


def _run_one(args) -> tuple[str, str, float, str]:
    src, out, parameters, fp, timeout, log_output, progress = args
    import nbformat
    try:
        dt = execute_one(src, out, parameters, timeout, log_output, progress)
        status, msg = "ok", ""
    except Exception as e:  # papermill writes the failing notebook too; report and mark it
        dt, status = 0.0, "failed"
        msg = f"{type(e).__name__}: {e}"
        if len(msg) > 4000:
            msg = msg[:4000] + " [...]"
    if out.exists():
        nb = nbformat.read(out, as_version=4)
        nb.metadata["posecore"] = {"fingerprint": fp, "status": status}
        nbformat.write(nb, out)
    return src.stem, status, dt, msg


def check_parameters(src: Path, parameters: dict, nb=None) -> dict:
    """Check ``parameters`` (name -> value, e.g. from ``execute -p``) against the notebook's
    parameters cell (:func:`posecore.params.check`: declared names only, values of the defaults'
    types); returns every parameter's value. Raises BookError naming the notebook and the problem."""
    from .params import ParameterError, check
    declared = check_parameters_cell(nb if nb is not None else read_notebook(src), src.name)
    try:
        return check(declared, parameters, where=f"{src.name}: ")
    except ParameterError as e:
        raise BookError(str(e)) from e


def reads_results(src: Path) -> bool:
    """Whether a notebook reads other chapters' results (``posecore.results.read`` or
    ``results_dir``): such a notebook runs after the others and is stale when they change."""
    text = src.read_text()
    return "results.read(" in text or "results_dir(" in text


def execution_phases(srcs: list[Path]) -> list[list[Path]]:
    """``srcs`` split into the phases that must run one after the other: first the notebooks that
    write results, then those that read other chapters' results (:func:`reads_results`); empty
    phases are left out. Notebooks within a phase may run in parallel."""
    phases = [[s for s in srcs if not reads_results(s)], [s for s in srcs if reads_results(s)]]
    return [ph for ph in phases if ph]


def results_digest() -> str:
    """A hash of the results directory's ``*.json`` (the inputs of the summary notebooks)."""
    from .results import results_dir
    h = hashlib.sha256()
    d = results_dir()
    for f in sorted(d.glob("*.json")) if d.exists() else []:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def execute(profile: str, only=None, out_dir: Path = EXECUTED, force: bool = False, jobs: int = 1,
            timeout: int | None = None, extra: dict | None = None, keep_going: bool = False,
            log_output: bool = False) -> list[Path]:
    """Execute the notebooks; returns the executed paths. Raises BookError if any failed.

    Notebooks that read other chapters' results (:func:`reads_results`) run last, and their
    up-to-date check includes the results directory's contents at that point."""
    if profile not in PROFILES:
        raise BookError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    check_toc()
    srcs = notebook_sources(only)
    if not srcs:
        raise BookError(f"no notebooks matching {NOTEBOOKS / NOTEBOOK_GLOB}")
    parameters = {"profile": profile, **(extra or {})}
    # a typo or a wrongly typed -p value fails here, before any notebook starts
    problems = []
    for src in srcs:
        try:
            check_parameters(src, parameters)
        except BookError as e:
            problems.append(str(e))
    if problems:
        raise BookError("bad parameters (nothing was executed):\n  " + "\n  ".join(problems))
    lib = library_digest()
    out_dir = Path(out_dir)
    outs = [out_dir / f"{src.stem}.ipynb" for src in srcs]
    # the summary chapters start only when every other notebook has finished (and written results)
    phases = execution_phases(srcs)
    print(f"executing up to {len(srcs)} notebook(s) with profile {profile!r}, kernel {KERNEL}, "
          f"cwd notebooks/, {jobs} at a time -> {out_dir}", flush=True)
    failures = []
    t0 = time.time()

    def report(res):
        stem, status, dt, msg = res
        if status == "ok":
            print(f"  {stem}: ok in {dt:.1f} s", flush=True)
        else:
            print(f"  {stem}: FAILED\n{msg}\n  (the failing notebook is {out_dir / (stem + '.ipynb')})",
                  flush=True)
            failures.append(stem)
        return status == "ok"

    for phase in phases:
        if failures and not keep_going:
            break
        todo = []
        for src in phase:
            out = out_dir / f"{src.stem}.ipynb"
            fp = _fingerprint(src, parameters, lib)
            if reads_results(src):
                fp["results"] = results_digest()
            if not force and _is_fresh(out, fp):
                print(f"  {src.stem}: up to date (profile {profile}), skipped", flush=True)
                continue
            # a per-cell progress bar when one notebook runs at a time in a terminal
            todo.append((src, out, parameters, fp, timeout, log_output, jobs == 1 and sys.stderr.isatty()))
        if jobs > 1 and len(todo) > 1:
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(jobs) as pool:
                for res in pool.map(_run_one, todo):
                    report(res)
        else:
            for item in todo:
                print(f"  {item[0].stem} ...", flush=True)
                if not report(_run_one(item)) and not keep_going:
                    break
    print(f"executed in {time.time() - t0:.1f} s", flush=True)
    if failures:
        raise BookError(f"{len(failures)} notebook(s) failed: {', '.join(failures)}")
    return outs


NBVAL_CONFTEST = """\
# Written by `python -m posecore.book nbval`: with $POSECORE_NBVAL_CAPTURE set, the notebooks that
# nbval executed are saved there with their outputs (make test builds its browser-checked book
# from them, so each notebook runs once).
import os

from posecore.book import NbvalCapture


def pytest_configure(config):
    if os.environ.get("POSECORE_NBVAL_CAPTURE"):
        config.pluginmanager.register(NbvalCapture(os.environ["POSECORE_NBVAL_CAPTURE"]),
                                      "posecore-nbval-capture")
"""


NBVAL_PHASE = "phase{}"


def write_nbval_copies(out_dir: Path = NBVAL, only=None) -> list[Path]:
    """Unexecuted ipynb copies of the notebooks for ``pytest --nbval-lax`` (old copies removed), one
    folder per :func:`execution_phases` phase (``phase1/``, ``phase2/``: run one pytest per folder,
    in order, so that the summary chapters find every other chapter's results), each with the
    conftest.py that registers :class:`NbvalCapture`. Returns the notebook copies."""
    import nbformat
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    outs = []
    for i, phase in enumerate(execution_phases(notebook_sources(only)), start=1):
        folder = out_dir / NBVAL_PHASE.format(i)
        folder.mkdir()
        for src in phase:
            nb = read_notebook(src)
            check_parameters_cell(nb, src.name)
            out = folder / f"{src.stem}.ipynb"
            nbformat.write(nb, out)
            outs.append(out)
        # in each folder (not above them): found whatever pytest takes as its rootdir
        (folder / "conftest.py").write_text(NBVAL_CONFTEST)
    for folder in nbval_phase_dirs(out_dir):
        print(f"wrote {folder}: {' '.join(p.stem for p in sorted(folder.glob('*.ipynb')))}")
    return outs


def nbval_phase_dirs(out_dir: Path = NBVAL) -> list[Path]:
    """The phase folders written by :func:`write_nbval_copies`, in the order they must run."""
    return sorted((p for p in Path(out_dir).glob(NBVAL_PHASE.format("*")) if p.is_dir()),
                  key=lambda p: int(p.name[len(NBVAL_PHASE.format("")):]))


class NbvalCapture:
    """pytest plugin for nbval runs: keeps each code cell's outputs (``item.test_outputs``) in the
    notebook and, at the end of the session, writes every notebook whose cells all passed to
    ``out_dir`` (a failed one is removed there). Works per xdist worker with ``--dist loadfile``.
    A visible cell tagged ``injected-parameters`` records ``$POSECORE_PROFILE``, as papermill would."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.books: dict[str, dict] = {}

    def pytest_runtest_makereport(self, item, call):
        nbfile = getattr(item, "parent", None)
        if call.when != "call" or not hasattr(item, "cell") or not hasattr(nbfile, "nb"):
            return None
        st = self.books.setdefault(str(nbfile.fspath), {"nb": nbfile.nb, "ok": True, "count": 0})
        if call.excinfo is not None and call.excinfo.typename != "Skipped":
            st["ok"] = False
        outs = getattr(item, "test_outputs", None)
        if outs is not None:
            st["count"] += 1
            item.cell.outputs = list(outs)
            item.cell.execution_count = st["count"]
            for o in item.cell.outputs:
                if o.get("output_type") == "execute_result":
                    o["execution_count"] = st["count"]
        return None

    def pytest_sessionfinish(self, session):
        import nbformat
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for path, st in self.books.items():
            dest = self.out_dir / Path(path).name
            if not st["ok"]:
                dest.unlink(missing_ok=True)
                continue
            nb = st["nb"]
            idx = next((i for i, c in enumerate(nb.cells)
                        if "parameters" in c.get("metadata", {}).get("tags", [])), None)
            if idx is not None:
                profile = os.environ.get("POSECORE_PROFILE", "quick")
                cell = nbformat.v4.new_code_cell(f"# Parameters (from $POSECORE_PROFILE)\nprofile = {profile!r}\n")
                cell.metadata["tags"] = ["injected-parameters"]
                nb.cells.insert(idx + 1, cell)
            nb.metadata["posecore"] = {"executed_by": "nbval", "status": "ok"}
            nbformat.write(nb, dest)


# --- build ----------------------------------------------------------------------------------------
EXTERNAL_ASSET = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["'](?:https?:)?//""",
                            re.IGNORECASE)


def external_assets(html_dir: Path) -> dict[str, list[str]]:
    """Pages whose HTML loads a script, stylesheet, image or frame from another host."""
    found = {}
    for page in sorted(Path(html_dir).rglob("*.html")):
        text = page.read_text(errors="replace")
        hits = []
        for m in EXTERNAL_ASSET.finditer(text):
            tag = text[m.start(): text.find(">", m.end()) + 1]
            if tag.lower().startswith("<link") and not re.search(r"rel=[\"']?(stylesheet|preload|modulepreload)",
                                                                 tag, re.IGNORECASE):
                continue  # plain hyperlinks (<link rel=canonical ...>) load nothing
            hits.append(tag[:200])
        if hits:
            found[str(page.relative_to(html_dir))] = hits
    return found


# pages that Sphinx / Jupyter Book write besides the toc's (index.html redirects to the root page)
EXTRA_PAGES = frozenset({"index.html", "genindex.html", "search.html"})
BOOK_CSS = "posecore.css"
# folders of a built book that hold assets, not pages (_static/ has the theme's template fragments)
ASSET_DIRS = frozenset({"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"})
INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)


def html_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative to ``html_dir`` (POSIX), without the theme's
    template fragments in ``_static/``."""
    html_dir = Path(html_dir)
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if p.relative_to(html_dir).parts[0] not in ASSET_DIRS)


def expected_pages(toc_path: Path = TOC) -> set[str]:
    """The HTML pages a build from ``toc_path`` must produce: one per toc entry, plus :data:`EXTRA_PAGES`."""
    return {re.sub(r"\.(md|ipynb)$", "", f) + ".html" for f in toc_files(toc_path)} | set(EXTRA_PAGES)


def search_docnames(html_dir: Path) -> list[str]:
    """The documents indexed for search (``docnames`` of ``searchindex.js``): what Sphinx built."""
    text = (Path(html_dir) / "searchindex.js").read_text()
    start, end = text.index("(") + 1, text.rindex(")")
    return list(json.loads(text[start:end])["docnames"])


def page_set_problems(html_dir: Path, toc_path: Path = TOC) -> list[str]:
    """Differences between the pages of a built book and its toc: documents indexed for search
    that the toc does not list (e.g. a stray ``.pytest_cache/README``), toc pages not built, and
    HTML files that are neither (stale files of an earlier build count: build with ``clean``)."""
    want_docs = {re.sub(r"\.(md|ipynb)$", "", f) for f in toc_files(toc_path)}
    docs = set(search_docnames(html_dir))
    pages = set(html_pages(html_dir))
    want_pages = expected_pages(toc_path)
    problems = []
    if docs - want_docs:
        problems.append(f"documents built and indexed for search but not in {toc_path.name}: "
                        f"{sorted(docs - want_docs)} (exclude them in _config.yml's exclude_patterns)")
    if want_docs - docs:
        problems.append(f"toc entries that were not built: {sorted(want_docs - docs)}")
    if pages - want_pages:
        problems.append(f"HTML pages that are not in the toc: {sorted(pages - want_pages)}")
    if want_pages - pages:
        problems.append(f"HTML pages missing: {sorted(want_pages - pages)}")
    return problems


def duplicate_scripts(html_dir: Path) -> dict[str, list[str]]:
    """Pages that contain the same script twice (one inline body, or one ``src``): a ``const`` or
    ``let`` declared twice throws a SyntaxError in the browser."""
    found = {}
    for rel in html_pages(html_dir):
        text = (Path(html_dir) / rel).read_text(errors="replace")
        seen, dups = set(), []
        for m in INLINE_SCRIPT.finditer(text):
            attrs, body = m.group(1), m.group(2).strip()
            src = re.search(r"""\bsrc\s*=\s*["']([^"']+)""", attrs)
            kind = re.search(r"""\btype\s*=\s*["']?([^"'\s>]+)""", attrs)
            if kind and kind.group(1).lower() not in ("text/javascript", "application/javascript", "module"):
                continue  # data blocks (application/json, text/x-thebe-config, ...) are not run
            key = ("src", src.group(1).split("?")[0]) if src else ("body", body)
            if not src and not body:
                continue
            if key in seen:
                dups.append(key[1][:120])
            seen.add(key)
        if dups:
            found[rel] = dups
    return found


def pages_without_css(html_dir: Path, css: str = BOOK_CSS) -> list[str]:
    """Pages that do not link ``_static/<css>``."""
    pat = re.compile(r"<link\b[^>]*href=[\"'][^\"']*_static/" + re.escape(css), re.IGNORECASE)
    return [rel for rel in html_pages(html_dir)
            if rel != "index.html" and not pat.search((Path(html_dir) / rel).read_text(errors="replace"))]


# absolute paths of the build machine, in what a reader sees
MACHINE_PATHS = tuple(p for p in dict.fromkeys([str(ROOT), str(Path.home()).rstrip("/") + "/", "/root/",
                                                "/home/", "/Users/", "/tmp/"]) if p != "/")
TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex")


def _ends_with_call(source: str) -> bool:
    """Whether a cell's last statement is a bare function call (``check(...)``), whose return value
    IPython then shows; a bare name (``cfg``) is taken as meant to be shown."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # magics
        return False
    return bool(body) and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call)


def output_problems(nb_path: Path) -> list[str]:
    """What a reader should not see in an executed notebook's outputs: any stderr stream (warnings,
    logging, progress noise), an absolute path of the build machine (:data:`MACHINE_PATHS`) in a
    text output, a bare ``True``/``False`` result or the plain-text return value of a cell's last
    call (a stray expression: ``check_claim(...)`` showing its dict), an error. One line per
    problem, naming the cell by its first source line."""
    import nbformat
    nb = nbformat.read(nb_path, as_version=4)
    name = Path(nb_path).name
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:70]
        where = f"{name} cell {i} [{first!r}]"
        stderr = "".join("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
                         for o in cell.get("outputs", [])
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        if stderr.strip():
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            warn = " (a Warning)" if re.search(r"warning", stderr, re.IGNORECASE) else ""
            problems.append(f"{where}: stderr output{warn}, {len(lines)} line(s): {lines[0][:160]!r}")
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                text = o.get("text", "")
                texts = ["".join(text) if isinstance(text, list) else text]
            elif kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                texts = [("".join(v) if isinstance(v, list) else str(v)) for k, v in data.items() if k in TEXT_MIME]
                plain = data.get("text/plain", "")
                plain = "".join(plain) if isinstance(plain, list) else plain
                if kind == "execute_result" and plain.strip() in ("True", "False"):
                    problems.append(f"{where}: a bare `{plain.strip()}` result (the cell ends with an "
                                    "expression; assign it or end the line with `;`)")
                elif kind == "execute_result" and set(data) == {"text/plain"} and _ends_with_call(cell.source):
                    problems.append(f"{where}: the return value of the cell's last call is shown as text "
                                    f"({plain.strip()[:80]!r}...; assign it or end the line with `;`)")
            elif kind == "error":
                problems.append(f"{where}: error output {o.get('ename')}: {str(o.get('evalue'))[:160]!r}")
                texts = []
            else:
                texts = []
            for text in texts:
                hits = sorted({p for p in MACHINE_PATHS if p in text})
                if hits:
                    line = next(ln for ln in text.splitlines() if any(p in ln for p in hits))
                    problems.append(f"{where}: absolute path of the build machine {hits}: {line.strip()[:160]!r}")
    return problems


def build(executed: Path = EXECUTED, out: Path | None = None, strict: bool = False, only=None,
          clean: bool = False) -> Path:
    """``jupyter-book build`` of the book over the notebooks executed into ``executed``; ``out`` is
    jupyter-book's ``--path-output`` (default: the repository, i.e. ``_build/html``); ``only``
    (chapter numbers or stems) builds a preview with just those chapters; ``clean`` removes the
    previous HTML and doctrees first (so that no stale page survives). Returns the path of
    index.html. Fails (BookError) when the built pages are not exactly the toc's (plus
    :data:`EXTRA_PAGES`; stale pages of an earlier build are ignored unless ``clean``), when a page
    contains a script twice or lacks ``_static/posecore.css``; prints the executed notebooks'
    :func:`output_problems`."""
    chapters = check_toc()
    if only:
        keep = {p.stem for p in notebook_sources(only)}
        chapters = [c for c in chapters if c in keep]
    executed = Path(executed).resolve()
    missing = [s for s in chapters if not (executed / f"{s}.ipynb").exists()]
    if missing:
        raise BookError(f"not executed yet: {missing} (run `python -m posecore.book execute` first; "
                        f"looked in {executed})")
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(ROOT)]
    toc_used = TOC
    if executed != EXECUTED.resolve() or only:
        # a derived toc pointing at the other executed directory (e.g. the smoke build of `make test`)
        try:
            rel = executed.relative_to(ROOT).as_posix() + "/"
        except ValueError as e:
            raise BookError(f"the executed notebooks must lie inside {ROOT}, got {executed}") from e
        text = TOC.read_text()
        if only:
            text = toc_with_chapters(text, chapters)
        toc_dir = Path(out).resolve() if out else executed
        toc_dir.mkdir(parents=True, exist_ok=True)
        derived = toc_dir / "_toc.yml"
        derived.write_text(text.replace(EXECUTED_PREFIX, rel))
        cmd += ["--toc", str(derived)]
        toc_used = derived
    if out:
        cmd += ["--path-output", str(Path(out).resolve())]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    build_dir = (Path(out).resolve() if out else ROOT) / "_build"
    if clean:
        for sub in ("html", ".doctrees", "jupyter_execute"):
            shutil.rmtree(build_dir / sub, ignore_errors=True)
    print("+ jupyter-book", " ".join(cmd[3:]), flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT)
    if res.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {res.returncode})")
    html = (Path(out).resolve() if out else ROOT) / "_build" / "html"
    index = html / "index.html"
    if not index.exists():
        raise BookError(f"jupyter-book finished but {index} does not exist")
    if not (html / "_static" / "plotly.min.js").exists():
        raise BookError(f"{html}/_static/plotly.min.js is missing: is `posecore.book` in "
                        "_config.yml's sphinx.extra_extensions?")
    ext = external_assets(html)
    if ext:
        lines = "\n".join(f"  {p}: {h}" for p, hs in ext.items() for h in hs[:3])
        raise BookError(f"the book loads assets from the network (it must work offline):\n{lines}")
    problems = page_set_problems(html, toc_used)
    if not clean:  # stale HTML files of an earlier build are not this build's fault
        problems = [p for p in problems if not p.startswith("HTML pages that are not in the toc")]
    dups = duplicate_scripts(html)
    if dups:
        problems.append("pages with the same script twice (a SyntaxError in the browser): "
                        + "; ".join(f"{p}: {d[:2]}" for p, d in list(dups.items())[:3]))
    if not (html / "_static" / BOOK_CSS).exists() or pages_without_css(html):
        problems.append(f"_static/{BOOK_CSS} is not shipped or not linked from every page: is it in "
                        "_config.yml's sphinx.config.html_css_files?")
    if problems:
        raise BookError("the built book is not as expected:\n  " + "\n  ".join(problems))
    notes = [p for s in chapters for p in output_problems(executed / f"{s}.ipynb")]
    if notes:
        print(f"note: {len(notes)} output(s) a reader should not see (tests/test_book_build.py fails on them):",
              *[f"  {n}" for n in notes], sep="\n", flush=True)
    print(f"built in {time.time() - t0:.1f} s; open file://{index}", flush=True)
    return index


# --- Sphinx extension -----------------------------------------------------------------------------
def plotly_js_path() -> Path:
    """The installed plotly package's bundled plotly.min.js."""
    import plotly
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise BookError(f"{path} not found: the plotly package is incomplete")
    return path


def _copy_plotly_js(app, exc):
    if exc is None and app.builder.format == "html":
        dest = Path(app.outdir) / "_static"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plotly_js_path(), dest / "plotly.min.js")


def _check_js_files(app, config):
    from sphinx.util import logging
    names = [f[0] if isinstance(f, (tuple, list)) else f for f in (config.html_js_files or [])]
    if "plotly.min.js" not in names:
        logging.getLogger(__name__).warning(
            "posecore.book: 'plotly.min.js' is not in html_js_files; plotly figures will not draw")
    css = [f[0] if isinstance(f, (tuple, list)) else f for f in (config.html_css_files or [])]
    if BOOK_CSS not in css:
        logging.getLogger(__name__).warning(
            f"posecore.book: {BOOK_CSS!r} is not in html_css_files; long output lines will be cut off")


def _warn_thebe(app):
    if "sphinx_thebe" in app.extensions:
        from sphinx.util import logging
        logging.getLogger(__name__).warning(
            "posecore.book: sphinx_thebe is loaded but the book runs no kernel; list the extensions in "
            "_config.yml's sphinx.config.extensions without it (a sphinx.extra_extensions list brings "
            "back Jupyter Book's defaults, sphinx_thebe among them)")


def _script_key(js) -> tuple:
    name = getattr(js, "filename", js) or ""
    attrs = getattr(js, "attributes", None) or {}
    return str(name), tuple(sorted((str(k), str(v)) for k, v in attrs.items()))


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Write each script once. Sphinx 7.4 puts an inline script (``app.add_js_file(None, body=...)``)
    that an extension adds after the builder is initialised into every page twice (once with the
    file name None, once with ''): sphinx-thebe's ``const THEBE_JS_URL`` then threw "SyntaxError:
    Identifier 'THEBE_JS_URL' has already been declared" on every page, and sphinx-togglebutton's
    selector is declared twice."""
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, keep = set(), []
    for js in files:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            keep.append(js)
    files[:] = keep


def setup(app):
    """Sphinx extension: ship the installed plotly.js as ``_static/plotly.min.js``; write each script
    once per page (:func:`_dedupe_scripts`); warn when sphinx_thebe is loaded."""
    app.connect("config-inited", _check_js_files)
    app.connect("builder-inited", _warn_thebe)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("build-finished", _copy_plotly_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


# --- CLI ------------------------------------------------------------------------------------------
def _parse_param(items):
    out = {}
    for k, v in items or []:
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m posecore.book", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the chapters")
    sub.add_parser("check", help="check _toc.yml and the parameters cells")
    ex = sub.add_parser("execute", help="execute the notebooks with papermill")
    ex.add_argument("--profile", default="quick", choices=PROFILES)
    ex.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers or stems (default: all)")
    ex.add_argument("--out", type=Path, default=EXECUTED, help="output directory (default: %(default)s)")
    ex.add_argument("--force", action="store_true", help="re-execute up-to-date notebooks too")
    ex.add_argument("-j", "--jobs", type=int, default=1, help="notebooks executed in parallel")
    ex.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    ex.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="extra papermill parameter (value parsed as a Python literal)")
    ex.add_argument("--keep-going", action="store_true", help="run the others after a failure")
    ex.add_argument("--log-output", action="store_true", help="stream the notebooks' outputs")
    bd = sub.add_parser("build", help="jupyter-book build of the executed notebooks")
    bd.add_argument("--executed", type=Path, default=EXECUTED, help="executed notebooks (default: %(default)s)")
    bd.add_argument("--out", type=Path, default=None, help="jupyter-book --path-output (default: repo root)")
    bd.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
    bd.add_argument("--only", nargs="+", metavar="NN", help="a preview with just these chapters")
    bd.add_argument("--clean", action="store_true", help="remove the previous HTML and doctrees first")
    tc = sub.add_parser("toc", help="print _toc.yml with every notebook under 'Chapters'")
    tc.add_argument("--write", action="store_true", help="write it to _toc.yml")
    nv = sub.add_parser("nbval", help="write ipynb copies for pytest --nbval-lax, one folder per phase")
    nv.add_argument("--out", type=Path, default=NBVAL)
    nv.add_argument("--only", nargs="+", metavar="NN")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "list":
            listed = set()
            try:
                listed = set(check_toc())
            except BookError as e:
                print(e, file=sys.stderr)
                listed = {f[len(EXECUTED_PREFIX):] for f in toc_files() if f.startswith(EXECUTED_PREFIX)}
            for p in notebook_sources():
                print(f"{p.stem:40s} {'in _toc.yml' if p.stem in listed else 'NOT IN _toc.yml'}")
        elif args.cmd == "check":
            problems = check_all()
            for pr in problems:
                print(pr, file=sys.stderr)
            if problems:
                return 1
            print(f"ok: {len(notebook_sources())} notebook(s), _toc.yml and parameters cells consistent")
        elif args.cmd == "execute":
            execute(args.profile, args.only, args.out, args.force, args.jobs, args.timeout,
                    _parse_param(args.parameter), args.keep_going, args.log_output)
        elif args.cmd == "build":
            print(build(args.executed, args.out, args.strict, args.only, args.clean))
        elif args.cmd == "toc":
            text = toc_with_chapters(TOC.read_text(), [p.stem for p in notebook_sources()])
            if args.write:
                TOC.write_text(text)
                print(f"wrote {TOC}")
            else:
                print(text, end="")
        elif args.cmd == "nbval":
            write_nbval_copies(args.out, args.only)
    except BookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
