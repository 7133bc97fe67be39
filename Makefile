# bewaar: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench

install: $(STAMP)

# Python dependencies, then Chromium (system package, else Playwright's) and pywb's own
# environment, via `bewaar setup`.
$(STAMP): pyproject.toml
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
	$(BIN)/python benchmarks/redis_memory.py
	$(BIN)/python benchmarks/workers_scale.py
	$(BIN)/python benchmarks/watch_scale.py
