# bewaar: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench test-tools

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

# Test tools from outside PyPI: Apache PDFBox Preflight (the export's PDF/A check) from
# Debian, and ReplayWeb.page's ui.js/sw.js from npm (unpacked, no dependencies needed).
TOOLS := $(VENV)/.test-tools
RWP_VERSION := 2.5.3
test-tools: $(TOOLS)
$(TOOLS): $(STAMP)
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -qq libpdfbox2-java libactivation-java libjaxb-api-java default-jre-headless >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq libpdfbox2-java libactivation-java libjaxb-api-java default-jre-headless >/dev/null; }; \
	fi
	mkdir -p $(VENV)/replaywebpage
	cd $(VENV)/replaywebpage && npm pack --silent replaywebpage@$(RWP_VERSION) >/dev/null && tar -xzf replaywebpage-$(RWP_VERSION).tgz
	touch $@

test: install $(TOOLS)
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/crawl_overhead.py
	$(BIN)/python benchmarks/verify_throughput.py
	$(BIN)/python benchmarks/catalog_scale.py
