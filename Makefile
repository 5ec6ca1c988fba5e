# leadflow: `make demo` shows it working, `make test` proves it.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PYTHONTZPATH :=

.PHONY: install snowflake-env demo test test-slow test-all lint typecheck check bench bench-smoke simulate stop clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The Snowflake emulator (fakesnow) cannot share .venv's pins: a second, small environment that
# runs the checkout's source modules against it (tests/sources/test_sources_snowflake.py).
SNOW_VENV := .venv-snowflake
SNOW_STAMP := $(SNOW_VENV)/.installed

$(SNOW_STAMP): requirements-snowflake.lock
	test -x $(SNOW_VENV)/bin/python || $(PY) -m venv $(SNOW_VENV)
	$(SNOW_VENV)/bin/python -m pip install -q --upgrade "pip>=24"
	$(SNOW_VENV)/bin/python -m pip install -q -r requirements-snowflake.lock
	touch $(SNOW_STAMP)

snowflake-env: $(SNOW_STAMP)

demo: $(STAMP)
	$(BIN)/python -m flows.demo

# Tests run on PYTEST_WORKERS processes (2: this machine's cores; 0 runs them in this process).
# loadgroup hands each test to a free worker, but keeps the tests of one xdist_group together
# (the server-stack tests, whose session fixture then starts once). See docs/testing.md.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

# The fast loop: lint, types, then every test not marked slow.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

# The tests marked slow (CI runs them after `make test`).
test-slow: $(STAMP) $(SNOW_STAMP)
	$(PYTEST) -m slow $(PYTEST_ARGS)

# Everything, in one go.
test-all: $(STAMP) $(SNOW_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --rows 1000000 --several-rows 250000 --dask-rows 250000 --stream-rows 10000000

bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks.run --rows 2000 --several-rows 2000 --dask-rows 2000 --stream-rows 3000 --sim-posts 2 --repeat 1 --no-warmup

simulate: $(STAMP)
	$(BIN)/leadflow simulate

clean:
	rm -rf $(VENV) $(SNOW_VENV) .pytest_cache .mypy_cache .ruff_cache leadflow-out

stop: $(STAMP)
	$(BIN)/python -m flows.server stop
