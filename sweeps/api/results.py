"""What the API's functions return: plain data, no store handles, safe to keep and compare.

Every field a command prints is here, so the CLI prints from these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Trial:
    """One finished trial: its number, its value on each objective, its params and MLflow run."""

    number: int
    values: list[float]
    params: dict[str, Any]
    run_id: str | None

    @property
    def value(self) -> float:
        """The value on the (first) objective."""
        return self.values[0]


@dataclass(frozen=True)
class Leaders:
    """A study's answer: its best trial, or with several objectives its Pareto front."""

    study: str
    objectives: list[str]
    best: Trial | None  # one objective: the best completed trial
    front: list[Trial] = field(default_factory=list)  # several objectives: the Pareto front
    no_best: str | None = None  # why there is no best trial yet


@dataclass(frozen=True)
class ModelVersion:
    """The best trial's network, logged as an MLflow model (and registered, when asked)."""

    model_uri: str  # models:/m-... : loads with mlflow.pyfunc.load_model
    trial: int
    run_id: str | None
    name: str | None = None  # the registered model, when registered
    version: str | None = None
    alias_uri: str | None = None  # models:/NAME@champion


@dataclass
class SweepResult:
    """What `run` did: the study, its counts, its best trial, and where they are recorded."""

    study: str
    experiment: str
    metric: str
    n_objectives: int
    n_trials: int
    storage: str
    tracking_uri: str
    parent_run_id: str
    counts: dict[str, int]
    best: Trial | None
    baselines: dict[str, float]
    seconds: float
    already_done: bool = False
    stopped: str | None = None  # why search.stop ended the sweep
    all_failed: bool = False  # every trial this invocation finished failed
    model: ModelVersion | None = None

    @property
    def best_value(self) -> float | None:
        return self.best.value if self.best else None

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best.params) if self.best else {}

    @property
    def best_run_id(self) -> str | None:
        return self.best.run_id if self.best else None

    @property
    def model_uri(self) -> str | None:
        """The registered alias (models:/NAME@champion) when registered, else the logged model."""
        if self.model is None:
            return None
        return self.model.alias_uri or self.model.model_uri


@dataclass(frozen=True)
class StudyStatus:
    """`status`: trial counts by state, why it stopped, the per-choice table, the leaders."""

    study: str
    counts: dict[str, int]
    stopped: str | None
    table: list[str]  # per cell and categorical value: trials, best, median (formatted)
    leaders: Leaders
    gpus: dict[int, str] = field(default_factory=dict)  # running trial -> the GPU it trains on


@dataclass(frozen=True)
class BestResult:
    """`best`: the leaders, the config file written (if asked), the model logged (if asked)."""

    leaders: Leaders
    config_out: Path | None = None
    model: ModelVersion | None = None


@dataclass(frozen=True)
class Validation:
    """`validate`: what the valid config will run."""

    study: str
    data: str
    n_trials: int
    objectives: list[tuple[str, str]]  # (metric, direction)
    space: list[str]  # the search space as an indented tree; empty: no search space


@dataclass(frozen=True)
class TrainOutcome:
    """`train` and `reproduce`: one tracked training run and what it reached."""

    experiment: str
    metric: str
    tracking_uri: str
    run_id: str
    best_value: float
    best_epoch: int
    epochs_run: int
    n_parameters: int
    test_metrics: dict[str, float]
    reproduces: str | None = None  # the run it retrained
    reached_before: float | None = None  # what that run reached
    differences: list[str] = field(default_factory=list)  # provenance that differs from it
