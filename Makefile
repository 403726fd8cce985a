# Tidings: the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# checkov (tests/infra/test_checkov.py) in a venv of its own: its pins cannot sit beside the project's.
CHECKOV_VENV := .venv-checkov
STAMP_CHECKOV := $(CHECKOV_VENV)/.installed
# The dashboard (dashboard/): its own Node packages, and a build redone only when its sources, its
# packages or the API (its client is typed from the API's OpenAPI document) changed.
STAMP_DASH_NODE := dashboard/node_modules/.installed
STAMP_DASH := dashboard/dist/.built
DASH_SOURCES := $(shell find dashboard/src -type f ! -name schema.d.ts) dashboard/index.html \
	dashboard/tsconfig.json dashboard/vite.config.ts $(wildcard shared/tidings/api/*.py)
ARGS ?=
# TEST_WORKERS=N runs the test files on N pytest-xdist workers, each file whole on one worker (its
# module's stack and browser start once): on a 2-core machine two workers took the run from 32.6 to
# about 20 min, but the extra load made a few waits on a stack time out, so one process, one file
# after another (TEST_WORKERS=0), stays the default.
TEST_WORKERS ?= 0

.PHONY: dev test setup lint typecheck contracts unit integration infra e2e bench synth clean

setup: $(STAMP_PY) $(STAMP_NODE) $(STAMP_DASH)

$(STAMP_PY): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(STAMP_NODE): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP_DASH_NODE): dashboard/package.json dashboard/package-lock.json
	npm ci --prefix dashboard --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP_DASH): $(STAMP_PY) $(STAMP_DASH_NODE) $(DASH_SOURCES)
	$(BIN)/python -m infra.local.openapi dashboard/build/openapi.json
	cd dashboard && npm run -s types && npm run -s build
	touch $@

$(STAMP_CHECKOV): requirements-checkov.txt
	test -d $(CHECKOV_VENV) || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

## Start the local stack (DynamoDB Local, moto, fake platforms, HTTP API). ARGS=--demo for a demo.
dev: setup
	$(BIN)/tidings dev $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

## The import contracts: layers, no cycles between sibling packages, the composition root on top.
contracts: setup
	$(BIN)/lint-imports --no-logo

unit: setup
	$(BIN)/pytest tests/unit -q

integration: setup
	$(BIN)/pytest tests/integration -q

infra: setup $(STAMP_CHECKOV)
	$(BIN)/pytest tests/infra -q

e2e: setup
	$(BIN)/pytest tests/e2e -q -n $(TEST_WORKERS) --dist loadfile

## Every gate: lint, types, and every test tier.
test: setup $(STAMP_CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	node dashboard/scripts/budget.mjs
	cd dashboard && npm run -s test
	$(BIN)/pytest tests/unit tests/integration tests/infra tests/e2e -q -n $(TEST_WORKERS) --dist loadfile

## Benchmarks: writes bench-results.json and prints a table.
bench: setup
	$(BIN)/python tests/bench/run.py $(ARGS)

synth: setup
	npx cdk synth --quiet

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out build .tidings dashboard/node_modules dashboard/dist dashboard/build
