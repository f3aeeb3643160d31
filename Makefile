# The two commands of the README: `make test` and `make demo`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch's CPU build (about 200 MB). A version pin does not choose it: PyPI's torch for Linux x86_64 is the CUDA
# build, several GB. The CPU build is installed first and alone from PyTorch's CPU index; the next install keeps it
# and takes torch's dependencies from PyPI.
TORCH := torch==2.13.0
TORCH_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: test demo bench docs lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-installed: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps --index-url $(TORCH_INDEX) "$(TORCH)"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[test,docs]"
	touch $@

$(VENV)/.bench-installed: $(VENV)/.test-installed
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[test,docs,bench]"
	touch $@

$(VENV)/.demo-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[demo]"
	touch $@

# One pytest-xdist worker per core and one more: a worker spends much of its time waiting (pip installing `make
# demo`'s environment, a JupyterLab server starting), and the others keep the cores busy meanwhile.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(WORKERS)

# JupyterLab prints the URL to open; it refuses to run as root unless told.
demo: $(VENV)/.demo-installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# Measured overhead, as ratios against the raw seeding calls in one process, under pytest-benchmark (not part of
# `make test`): `make bench BENCH_ARGS=--quick` runs a tenth of the rounds, `BENCH_ARGS="-k census"` some of them.
bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The documentation: Sphinx builds docs/ (MyST pages and the notebooks' stored outputs) into docs/_build; a warning
# is an error.
docs: $(VENV)/.test-installed
	$(BIN)/python -m sphinx -W --keep-going -n docs docs/_build

# Lint and type-check: ruff, and mypy strict on seedmagic/ (its settings are in pyproject.toml).
lint: $(VENV)/.test-installed
	$(BIN)/python -m ruff check seedmagic tests benchmarks docs/conf.py
	$(BIN)/python -m ruff format --check seedmagic tests benchmarks docs/conf.py
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) .pytest_cache
