# bewaar: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench

install: $(STAMP)

# Python dependencies, then Chromium (system package, else Playwright's), pywb's own
# environment and ReplayWeb.page (npm), via `bewaar setup`. The installer pins versions in
# bewaar/environment.py, so a change there installs again.
$(STAMP): pyproject.toml bewaar/environment.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/bewaar setup
	touch $(STAMP)

demo: install
	$(BIN)/bewaar demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/crawl_overhead.py
	$(BIN)/python benchmarks/verify_throughput.py
	$(BIN)/python benchmarks/catalog_scale.py
	$(BIN)/python benchmarks/wacz_large.py  # needs ~10 GB free disk
