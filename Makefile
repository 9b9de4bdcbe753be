# posecore: build the book and run the tests on a fresh machine.
#   make book    venv + data + execute every chapter (quick profile) + build the HTML book
#   make test    unit tests + notebooks with pytest --nbval-lax (smoke profile) + offline browser check
#   make bench   run benchmarks/bench_*.py
#   make clean   remove _build/ (never data/, results/ or .venv/)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.posecore-installed
JOBS   ?= 2
# where `make test` executes the smoke notebooks and builds its own copy of the book
TEST_BOOK := _build/test_book
# every phase of `make test` keeps what it caches under _build/ (never the user's ~/.cache/posecore): the
# unit tests get a fresh cache per test (tests/conftest.py) in pytest's folders under _build/pytest, the
# notebooks and the smoke book share _build/test_cache (two workers wanting one checkpoint wait for each
# other: posecore.artefacts.locked)
TEST_CACHE := $(CURDIR)/_build/test_cache
TEST_ENV  := POSECORE_RESULTS=$(CURDIR)/_build/test_results POSECORE_CACHE=$(TEST_CACHE) POSECORE_CHECKPOINTS=$(TEST_CACHE)/checkpoints
# pytest -n 2 runs two workers: one torch thread each avoids oversubscribing 2 cores (spinning
# OpenMP threads made steps 5-50x slower on a loaded machine)
export OMP_WAIT_POLICY := PASSIVE

.PHONY: venv data book execute build test unit nbval browser-book browser-book-papermill browser chromium bench checkpoints clean lab

venv: $(STAMP)

# re-run only when requirements.txt or pyproject.toml change; torch stays pinned (CPU wheel) by
# requirements.txt, and posecore itself is installed with --no-deps so it cannot pull another torch
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

data: venv
	@if [ -f data_scripts/generate_benchmark.py ]; then \
		$(BIN)/python data_scripts/generate_benchmark.py; \
	else \
		echo "data: data_scripts/generate_benchmark.py does not exist yet, skipping"; \
	fi

execute: venv data
	$(BIN)/python -m posecore.book execute --profile quick

build: venv
	$(BIN)/python -m posecore.book build

book: execute build
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

# --- tests ------------------------------------------------------------------------------------
test: venv data chromium unit nbval browser

unit: venv
	rm -rf _build/pytest && mkdir -p _build
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -x -q -n $(JOBS) -m "not browser" --basetemp=_build/pytest

# the notebooks as ipynb copies (jupytext), run cell by cell by nbval in the smoke profile;
# --dist loadfile keeps each notebook's cells on one worker, in order. The executed notebooks are
# kept (POSECORE_NBVAL_CAPTURE, see posecore.book.NbvalCapture) and become the smoke book that the
# browser test opens: every notebook runs once in `make test`.
# One pytest run per phase folder, in order (posecore.book.execution_phases): _build/nbval/phase2
# holds the notebooks that read the results the others write (the summary chapter), so they start
# only when every notebook of phase1 has finished.
nbval: venv data
	$(BIN)/python -m posecore.book nbval --out _build/nbval
	rm -rf $(TEST_BOOK)/executed
	for phase in _build/nbval/phase*/; do \
		echo "nbval: $$phase"; \
		$(TEST_ENV) POSECORE_PROFILE=smoke OMP_NUM_THREADS=1 POSECORE_NBVAL_CAPTURE=$(CURDIR)/$(TEST_BOOK)/executed \
			$(BIN)/python -m pytest "$$phase" -q --nbval-lax --nbval-current-env \
			-n $(JOBS) --dist loadfile -p no:cacheprovider; \
	done

# the smoke book (a separate build: _build/html is untouched); `make browser-book-papermill`
# executes it with papermill instead of reusing the nbval run
# (--clean: no page of an earlier build survives, the test compares the pages with the toc)
browser-book: venv
	@test -d $(TEST_BOOK)/executed || { echo "run 'make nbval' first"; exit 1; }
	$(TEST_ENV) $(BIN)/python -m posecore.book build --executed $(TEST_BOOK)/executed --out $(TEST_BOOK) --clean

browser-book-papermill: venv data
	$(TEST_ENV) $(BIN)/python -m posecore.book execute --profile smoke --out $(TEST_BOOK)/executed -j $(JOBS)
	$(BIN)/python -m posecore.book build --executed $(TEST_BOOK)/executed --out $(TEST_BOOK) --clean

browser: browser-book
	rm -rf _build/pytest-browser && mkdir -p _build
	$(TEST_ENV) POSECORE_BOOK_HTML=$(CURDIR)/$(TEST_BOOK)/_build/html $(BIN)/python -m pytest tests/test_book_build.py -q -rs \
		--basetemp=_build/pytest-browser

# headless Chromium (Debian package) for the browser test; without root it is skipped with a message
chromium:
	@if [ -x /usr/bin/chromium ]; then \
		echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null || echo installed)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "chromium: installing the Debian package"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null \
			|| echo "chromium: apt-get install failed; the browser test will be skipped"; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		echo "chromium: installing the Debian package with sudo"; \
		sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
			|| echo "chromium: apt-get install failed; the browser test will be skipped"; \
	else \
		echo "chromium: /usr/bin/chromium is missing and cannot be installed without root;"; \
		echo "          the browser test will be SKIPPED (install it: apt-get install chromium)"; \
	fi

# --- benchmarks -------------------------------------------------------------------------------
bench: venv data
	@shopt -s nullglob; files=(benchmarks/bench_*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "bench: no benchmarks/bench_*.py yet"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "=== $$f"; $(BIN)/python "$$f"; done

# --- shipped lifters ---------------------------------------------------------------------------
# posecore/weights/{martinez,wang}.pt (+ README.md): the default lifters of `posecore lift`, trained
# deterministically on one thread (a few minutes; --check-determinism trains twice and compares bytes)
checkpoints: venv data
	OMP_NUM_THREADS=1 $(BIN)/python data_scripts/make_checkpoints.py

clean:
	rm -rf _build

# --- JupyterLab -------------------------------------------------------------------------------
# JupyterLab on the chapters: jupytext (its contents manager and JupyterLab extension) opens the
# notebooks/*.py sources as notebooks and saves them back as py:percent with jupytext.toml's
# filters. The server's root is the repository (jupytext looks for jupytext.toml from the notebook
# up to the root) and it opens on notebooks/. _build/jupyter holds a `python3` kernel named
# "Python 3" as in the chapters' headers (ipykernel's own is "Python 3 (ipykernel)", which JupyterLab
# would write into the header on save) and the setting that makes a .py open as a notebook.
#   make lab LAB_ARGS="--no-browser --port 8890"
# GPU workstations often run in containers as root, where JupyterLab refuses to start without --allow-root
LAB_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: venv
	mkdir -p _build/jupyter/kernels/python3 _build/jupyter/lab-settings/overrides.d
	printf '%s\n' '{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],' \
		' "display_name": "Python 3", "language": "python"}' > _build/jupyter/kernels/python3/kernel.json
	printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin":' \
		' {"defaultViewers": {"python": "Jupytext Notebook"}}}' > _build/jupyter/lab-settings/overrides.d/posecore.json
	JUPYTER_PATH=$(CURDIR)/_build/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH} \
		$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks \
		--LabApp.app_settings_dir=$(CURDIR)/_build/jupyter/lab-settings $(LAB_ROOT) $(LAB_ARGS)
