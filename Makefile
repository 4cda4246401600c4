# Every target creates and uses .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test test-fast lint migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make dev: migrate + seed the SQLite database, then run Temporal, mailbox, sandbox gateway, worker, API
dev: install
	$(BIN)/python -m devstack.run

## make test: the whole suite (SQLite; PostgreSQL too when TEST_POSTGRES_URL is set)
test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not integration"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrate: install
	$(BIN)/python -m db.migrate

seed: install
	$(BIN)/python -m devstack.seed

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
