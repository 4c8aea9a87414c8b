# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   — set up, migrate, seed demo data and serve http://127.0.0.1:5000 (SQLite)
#   make bench  — the benchmark over HTTP and in process (README, "Benchmarks")
#   make test   — set up and run every check and test: ruff, ruff format, mypy, then the suite on
#                 SQLite and PostgreSQL (browser tests in Chromium) with coverage and its floor
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CATALOGS := marketplace/translations vouchers/translations providers/translations
FLASK := $(BIN)/flask --app marketplace
PYTEST_WORKERS ?= 2

.PHONY: demo test setup translations browser lint typecheck bench clean screenshots

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,dev]'
	@touch $(STAMP)

setup: $(STAMP) translations

translations: $(STAMP)
	@for d in $(CATALOGS); do $(BIN)/pybabel -q compile -f -d $$d; done

browser:
	@bash scripts/ensure-chromium.sh

# The demo logs as readable lines (production's default is JSON, one object per line).
demo: export LOG_FORMAT ?= text
demo: setup
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(FLASK) run --host 127.0.0.1 --port 5000

# Lint, format and types first (seconds), then the whole suite with coverage and its floor.
test: setup browser lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --cov --cov-report=term

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The README's pictures: the browser journeys write the few it shows into docs/screenshots.
screenshots: setup browser
	E2E_SCREENSHOTS=docs/screenshots $(BIN)/pytest -n 0 -p no:randomly -q tests/e2e/test_journeys.py

# Over HTTP (gunicorn + wrk + pgbench + bare Flask), then the in-process table; see README.
bench: setup
	@bash scripts/ensure-wrk.sh
	@$(BIN)/python -c 'import gunicorn' 2>/dev/null || $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
