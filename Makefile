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
TEST_ENV  := POSECORE_RESULTS=$(CURDIR)/_build/test_results
# pytest -n 2 runs two workers: one torch thread each avoids oversubscribing 2 cores (spinning
# OpenMP threads made steps 5-50x slower on a loaded machine)
export OMP_WAIT_POLICY := PASSIVE

.PHONY: venv data book execute build test unit nbval browser-book browser-book-papermill browser chromium bench clean

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
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -x -q -n $(JOBS) -m "not browser"

# the notebooks as ipynb copies (jupytext), run cell by cell by nbval in the smoke profile;
# --dist loadfile keeps each notebook's cells on one worker, in order. The executed notebooks are
# kept (POSECORE_NBVAL_CAPTURE, see posecore.book.NbvalCapture) and become the smoke book that the
# browser test opens: every notebook runs once in `make test`.
nbval: venv data
	$(BIN)/python -m posecore.book nbval --out _build/nbval
	rm -rf $(TEST_BOOK)/executed
	$(TEST_ENV) POSECORE_PROFILE=smoke OMP_NUM_THREADS=1 POSECORE_NBVAL_CAPTURE=$(CURDIR)/$(TEST_BOOK)/executed \
		$(BIN)/python -m pytest _build/nbval -q --nbval-lax --nbval-current-env \
		-n $(JOBS) --dist loadfile -p no:cacheprovider

# the smoke book (a separate build: _build/html is untouched); `make browser-book-papermill`
# executes it with papermill instead of reusing the nbval run
browser-book: venv
	@test -d $(TEST_BOOK)/executed || { echo "run 'make nbval' first"; exit 1; }
	$(BIN)/python -m posecore.book build --executed $(TEST_BOOK)/executed --out $(TEST_BOOK)

browser-book-papermill: venv data
	$(TEST_ENV) $(BIN)/python -m posecore.book execute --profile smoke --out $(TEST_BOOK)/executed -j $(JOBS)
	$(BIN)/python -m posecore.book build --executed $(TEST_BOOK)/executed --out $(TEST_BOOK)

browser: browser-book
	POSECORE_BOOK_HTML=$(CURDIR)/$(TEST_BOOK)/_build/html $(BIN)/python -m pytest tests/test_book_build.py -q -rs

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

clean:
	rm -rf _build
