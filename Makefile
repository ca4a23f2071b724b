# Two commands a new user needs: `make demo` and `make test`. Both create .venv when missing,
# install torch first (a CPU build here; override TORCH_SPEC for another), then the package:
# `make demo` only what running datawheel needs; `make test` adds the dev extra (test tools,
# oracles, the optional parts under test) and the benchmark peers.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.datawheel-installed
DEV_STAMP := $(VENV)/.datawheel-dev-installed
# torch's default OpenMP threads stall in bursts on small VMs; one thread per process is steady.
export OMP_NUM_THREADS ?= 1

.PHONY: demo test test-fast lint format install clean i18n

demo: $(STAMP)
	$(BIN)/datawheel demo

# Everything CI runs: lint, format, types, then the whole suite (PostgreSQL half included when a
# server answers at 127.0.0.1:5432; the pytest header says) in TEST_WORKERS processes
# (pytest-xdist; the Ray tests share one worker and its cluster). About 12 CPU-minutes.
TEST_WORKERS ?= 2
test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# The inner loop, about 1.5 minutes on two cores: unit tests only — no training of the example model, no
# datawheel processes, servers or browsers (it deselects the markers `slow` and `e2e`).
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow and not e2e"

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

install: $(STAMP)

# Collect new messages from the source into the catalogs (translations kept), compile the .mo.
i18n: $(STAMP)
	$(BIN)/python -m datawheel.cli.messages zh_CN

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
