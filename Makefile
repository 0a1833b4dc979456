# Relay: two commands on a fresh clone — `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-dev lint docs-lint format migrate demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate, start the API and the worker on http://$(HOST):$(PORT) (SQLite in ./var)
run: install
	$(BIN)/python -m service.devenv .env
	$(BIN)/relay migrate
	$(BIN)/relay serve --host $(HOST) --port $(PORT)

## make test: install with dev extras and run the whole suite (RELAY_TEST_DATABASE_URL picks PostgreSQL)
test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check service integrations tests bench
	$(BIN)/ruff format --check service integrations tests bench
	$(BIN)/mypy

## make docs-lint: the content library in briefs/ against the documentation standards
docs-lint: install
	$(BIN)/relay docs lint --no-faqs

format: install-dev
	$(BIN)/ruff format service integrations tests bench
	$(BIN)/ruff check --fix service integrations tests bench

migrate: install
	$(BIN)/relay migrate

demo: install
	$(BIN)/relay migrate
	$(BIN)/relay demo

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
