# Every target creates and uses .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test test-fast test-resilience lint migrate seed bench bench-scale bench-tuning bench-reports replay clean

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

## make test-resilience: the tests marked `resilience` (left out of `make test`): the worker SIGKILLed
## during 300 refunds, the Temporal dev server restarted, the mail server down for two minutes, a
## gateway hanging past the client's timeout — each bounded by a hard timeout; ~10 minutes on SQLite,
## ~17 with the worker kills on PostgreSQL too (TEST_POSTGRES_URL, as in CI). Each prints what it saw.
test-resilience: install
	$(BIN)/python -m pytest -m resilience -rP --durations=0

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrate: install
	$(BIN)/python -m db.migrate

seed: install
	$(BIN)/python -m devstack.seed

## make screenshots: the Temporal UI pictures in docs/operations.md, taken against a running `make dev`
.PHONY: screenshots
screenshots: install
	$(BIN)/python -m devstack.temporal_ui_screenshots

## make browser-screenshots: the console pictures README.md links, saved by the browser tests into
## docs/screenshots (a plain `make test` saves them to a temporary directory)
.PHONY: browser-screenshots
browser-screenshots: install
	AFTERCARE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/browser

## make bench: the workflow benchmark (bench/workflows.py). The system as `make dev` runs it, each piece a
## process: refunds asked through the API, approved from the review queue and paid by the sandbox
## gateway, against a skeleton workflow of the refund's shape (Temporal's own floor here), then at half
## the rate beside complaints with SLA timers. About 13 minutes at the default size on 2 cores; writes
## docs/benchmarks.md. BENCH_REFUNDS=2000 is the issue's size (about 35 minutes here); BENCH_ARGS="--help".
BENCH_REFUNDS ?= 300
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench.workflows --refunds $(BENCH_REFUNDS) $(BENCH_ARGS)

## make bench-scale: the rush standing still (bench/scale.py): BENCH_SCALE_REFUNDS refunds awaiting review and
## as many complaints with running SLA timers, opened through the API on one dev server; worker RSS as they
## grow, the review queue's latency, the timers' and the breaches' lateness with all of them open; writes
## docs/benchmarks.md.
## The issue's size, 20,000 each, takes about 2¼ hours on 2 cores (3,000 each: 20 minutes); BENCH_SCALE_ARGS="--help".
BENCH_SCALE_REFUNDS ?= 20000
BENCH_SCALE_ARGS ?=
bench-scale: install
	$(BIN)/python -m bench.scale --refunds $(BENCH_SCALE_REFUNDS) --complaints $(BENCH_SCALE_REFUNDS) $(BENCH_SCALE_ARGS)

## make bench-tuning: each worker/database/dev-server setting alone against the defaults, refunds at max rate
## (bench/tuning.py); writes its table into docs/benchmarks.md. About 25 minutes.
bench-tuning: install
	$(BIN)/python -m bench.tuning $(BENCH_TUNING_ARGS)

## make bench-reports: the reports benchmark (bench/reports.py) at full scale on SQLite and on the
## PostgreSQL at BENCH_POSTGRES_URL (skipped, and said so, when unreachable); writes docs/benchmarks.md.
## Quick look: make bench-reports BENCH_SCALE=0.01 (leaves the docs alone). BENCH_REPORTS_ARGS="--help".
BENCH_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
BENCH_SCALE ?= 1
BENCH_REPORTS_ARGS ?=
bench-reports: install
	$(BIN)/python -m bench.reports --scale $(BENCH_SCALE) --postgres-url '$(BENCH_POSTGRES_URL)' $(BENCH_REPORTS_ARGS)

## make replay: replay exported histories (default: every one in tests/histories/) against today's code;
## REPLAY_ARGS="--workflow-id refund-RF…" or "--query …" fetches them from the server (python -m replay --help).
REPLAY_ARGS ?= tests/histories/*.json
replay: install
	$(BIN)/python -m replay $(REPLAY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
