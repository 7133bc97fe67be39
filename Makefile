# bewaar: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench test-tools

install: $(STAMP)

# Python dependencies, then Chromium (system package, else Playwright's), pywb's own
# environment, ReplayWeb.page (npm) and redis-server (system package: every crawl's queue;
# the tests start their own), via `bewaar setup`. The installer pins versions in
# bewaar/environment.py, so a change there installs again.
$(STAMP): pyproject.toml bewaar/environment.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/bewaar setup
	touch $(STAMP)

demo: install
	$(BIN)/bewaar demo

# Test tools from outside PyPI: Apache PDFBox Preflight (the export's PDF/A check) from
# Debian. (ReplayWeb.page, which the tests also use, is installed by `bewaar setup`.)
TOOLS := $(VENV)/.test-tools
test-tools: $(TOOLS)
$(TOOLS): $(STAMP)
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq libpdfbox2-java libactivation-java libjaxb-api-java default-jre-headless >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq libpdfbox2-java libactivation-java libjaxb-api-java default-jre-headless >/dev/null; }; \
	fi
	touch $@

test: install $(TOOLS)
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
	$(BIN)/python benchmarks/wacz_large.py  # needs ~10 GB free disk
