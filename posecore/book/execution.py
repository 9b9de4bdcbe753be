"""Executing the chapters: papermill runs with freshness fingerprints and phases, and the nbval copies
(with the capture plugin) that ``make test`` runs."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from .sources import (
    EXECUTED,
    KERNEL,
    NBVAL,
    NOTEBOOK_GLOB,
    NOTEBOOKS,
    PROFILES,
    ROOT,
    BookError,
    check_parameters_cell,
    check_toc,
    notebook_sources,
    read_notebook,
)


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


FOLDED_TAGS = ("parameters", "injected-parameters")


def fold_parameters(nb) -> None:
    """Fold (Jupyter Book's ``hide-input``) the code of the parameters cells, the chapter's own and the
    one papermill or nbval injects: the published page opens with results, and a reader unfolds the
    parameters with one click (every table also names its profile)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and any(t in tags for t in FOLDED_TAGS) and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]


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
        fold_parameters(nb)
        nbformat.write(nb, out)
    return src.stem, status, dt, msg


def check_parameters(src: Path, parameters: dict, nb=None) -> dict:
    """Check ``parameters`` (name -> value, e.g. from ``execute -p``) against the notebook's
    parameters cell (:func:`posecore.params.check`: declared names only, values of the defaults'
    types); returns every parameter's value. Raises BookError naming the notebook and the problem."""
    from ..params import ParameterError, check
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
    from ..results import results_dir
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
            fold_parameters(nb)
            nbformat.write(nb, dest)
