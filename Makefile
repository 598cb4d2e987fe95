# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
CARDSIM_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export CARDSIM_TEST_POSTGRES_URL

.PHONY: run test test-fast lint system-deps corpus bench clean

$(VENV)/.run-installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## Set up everything and start the app on http://127.0.0.1:5000 (SQLite, demo staff account).
run: $(VENV)/.run-installed
	$(VENV)/bin/cardsim serve --host 127.0.0.1 --port 5000 --demo-staff

## Install test dependencies (Python and Debian) and run ruff, mypy and the whole pytest suite.
test: system-deps $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

## Fast tests only: no browser, no PostgreSQL, no mediapipe-heavy runs.
test-fast: $(VENV)/.test-installed
	$(VENV)/bin/pytest -m "unit and not slow"

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

system-deps:
	./scripts/install-system-deps

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache test-artifacts
