# leadflow: `make demo` shows it working, `make test` proves it.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PYTHONTZPATH :=

.PHONY: install demo test lint typecheck check bench bench-smoke simulate stop clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m flows.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --rows 100000 --rows 1000000 --no-baseline-limit --stream-rows 5000000

bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks.run --rows 2000 --no-baseline-limit

simulate: $(STAMP)
	$(BIN)/leadflow simulate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache leadflow-out

stop: $(STAMP)
	$(BIN)/python -m flows.server stop
