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

The package is split by concern: :mod:`.sources` (chapters, parameters cells, ``_toc.yml``),
:mod:`.execution` (papermill, nbval), :mod:`.html` (Jupyter Book build and page checks),
:mod:`.sphinx_ext` and :mod:`.cli`; every name is re-exported here.

This package is also a Sphinx extension (listed in ``_config.yml``): it copies the installed plotly
package's ``plotly.min.js`` into the book's ``_static/`` so that every page loads one local copy,
writes each script once per page (a Sphinx 7.4 bug wrote some inline scripts twice) and warns when
``sphinx_thebe`` is loaded (the book runs no kernel; see ``_config.yml``).
After a build, :func:`build` checks the pages: no asset from the network, no inline script written
twice, exactly the toc's pages (plus genindex, search and the index redirect), and
``_static/posecore.css`` linked from every page; it lists the executed notebooks' outputs that a
reader should not see (:func:`output_problems`).
"""
from __future__ import annotations

from . import cli, execution, html, sources, sphinx_ext  # the submodules (tests patch their names)
from .cli import main
from .execution import (NBVAL_CONFTEST, NBVAL_PHASE, NbvalCapture, check_parameters, execute, execute_one,
                        execution_phases, library_digest, nbval_phase_dirs, reads_results, results_digest,
                        write_nbval_copies)
from .html import (ASSET_DIRS, BOOK_CSS, EXTRA_PAGES, build, duplicate_scripts, expected_pages, external_assets,
                   html_pages, output_problems, page_set_problems, pages_without_css, search_docnames)
from .sources import (EXECUTED, EXECUTED_PREFIX, KERNEL, NBVAL, NOTEBOOK_GLOB, NOTEBOOKS, PROFILES, ROOT, TOC,
                      BookError, check_all, check_parameters_cell, check_toc, notebook_sources, read_notebook,
                      toc_files, toc_with_chapters)
from .sphinx_ext import plotly_js_path, setup

__all__ = ["ASSET_DIRS", "BOOK_CSS", "BookError", "EXECUTED", "EXECUTED_PREFIX", "EXTRA_PAGES", "KERNEL", "NBVAL",
           "NBVAL_CONFTEST", "NBVAL_PHASE", "NOTEBOOKS", "NOTEBOOK_GLOB", "NbvalCapture", "PROFILES",
           "ROOT", "TOC", "build", "check_all", "check_parameters", "check_parameters_cell", "check_toc",
           "cli", "duplicate_scripts", "execute", "execute_one", "execution", "execution_phases",
           "expected_pages", "external_assets", "html", "html_pages", "library_digest", "main",
           "nbval_phase_dirs", "notebook_sources", "output_problems", "page_set_problems",
           "pages_without_css", "plotly_js_path", "read_notebook", "reads_results", "results_digest",
           "search_docnames", "setup", "sources", "sphinx_ext", "toc_files", "toc_with_chapters",
           "write_nbval_copies"]
