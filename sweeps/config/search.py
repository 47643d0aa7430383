"""The config's search section: the space, the sampler, the pruner, the stop, the budget."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sweeps.config.strict import Strict


class ParamSpec(Strict):
    """One searched field: turned into a `trial.suggest_*` call by `sweeps.search.space`."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None
    # Searched only while each named field (dotted path) holds one of the listed values, e.g.
    # {model.num_layers: [2, 3]}; otherwise the config's own value stands and the trial has
    # no such parameter, so the sampler is not fed a dead dimension.
    when: dict[str, list[Any]] | None = None


class SamplerConfig(Strict):
    # gp: Optuna's Gaussian-process sampler (needs scipy and torch, both installed with us).
    name: Literal["tpe", "random", "grid", "cmaes", "qmc", "gp"] = "tpe"
    seed: int | None = None
    n_startup_trials: int | None = Field(None, ge=0)  # tpe, cmaes and gp: random trials first


class StopConfig(Strict):
    """When the sweep has its answer, no new trial starts (sweeps/search/stopping.py)."""

    # A finished trial whose value reaches this (<= when minimizing, >= when maximizing).
    target: float | None = None
    # This many finished trials in a row without a new best (pruned and failed ones count).
    patience: int | None = Field(None, ge=1)


class PrunerConfig(Strict):
    # plateau, not successive halving or the median: on the adding problem the loss sits on a
    # 0.167 plateau before it drops; halving pruned every late bloomer, and the median pruner
    # needs a warm-up so long that it saves little (docs/pruning.md).
    # plateau prunes trials that stay on it longer than the others did (sweeps/search/pruners.py).
    name: Literal["median", "percentile", "sha", "hyperband", "plateau", "none"] = "plateau"
    # null: the pruner's own default, in sweeps/search/pruners.py (STARTUP_TRIALS: completed
    # trials before any pruning; warmup_steps: epochs before any pruning).
    n_startup_trials: int | None = Field(None, ge=0)
    n_warmup_steps: int | None = Field(None, ge=0)
    percentile: float = Field(25.0, gt=0.0, lt=100.0)
    min_resource: int = Field(1, ge=1)
    reduction_factor: int = Field(3, ge=2)


Direction = Literal["minimize", "maximize"]


class SearchConfig(Strict):
    metric: str = "val_loss"
    direction: Direction = "minimize"
    # Several objectives: search.metric and search.direction written as lists. These hold them
    # all; metric and direction then hold the first, which drives checkpoints and early stopping.
    objectives: list[str] = []
    directions: list[Direction] = []
    n_trials: int = Field(12, ge=1)  # total for the study, across resumes
    timeout: float | None = Field(None, gt=0.0)  # seconds for the whole sweep, all workers
    # Seconds between a worker's heartbeats; a trial of another host is failed and retried
    # after three missed beats (a dead process on this host at once).
    heartbeat: float = Field(20.0, gt=0.0)
    # Worker processes per GPU that `sweep run --workers auto` starts (sweeps/runner/placement.py):
    # a small recurrent network leaves most of a GPU idle, so trials share one.
    trials_per_gpu: int = Field(4, ge=1)
    sampler: SamplerConfig = SamplerConfig()
    pruner: PrunerConfig = PrunerConfig()
    stop: StopConfig = StopConfig()
    space: dict[str, ParamSpec] = {}
    # Param sets (dotted paths from the space) to try first, once per study; partial sets are
    # completed by the sampler.
    enqueue: list[dict[str, Any]] = []

    @model_validator(mode="before")
    @classmethod
    def _objective_lists(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        metric, direction = raw.get("metric", "val_loss"), raw.get("direction", "minimize")
        if not isinstance(metric, list) and not isinstance(direction, list):
            return raw
        metrics = metric if isinstance(metric, list) else [metric]
        directions = direction if isinstance(direction, list) else [direction]
        if not metrics or len(metrics) != len(directions):
            raise ValueError(
                f"search.metric and search.direction must be lists of the same length, but got "
                f"{len(metrics)} metrics and {len(directions)} directions"
            )
        return {
            **raw,
            "metric": metrics[0],
            "direction": directions[0],
            "objectives": metrics,
            "directions": directions,
        }

    @model_validator(mode="after")
    def _stop_needs_one_objective(self) -> SearchConfig:
        rules = [k for k in ("target", "patience") if getattr(self.stop, k) is not None]
        if rules and len(self.all_metrics()) > 1:
            raise ValueError(
                f"search.stop.{rules[0]} needs one objective, but search.metric lists "
                f"{len(self.all_metrics())}; remove search.stop or search for one metric"
            )
        return self

    def all_metrics(self) -> list[str]:
        """Every objective's name, in order; one unless search.metric is a list."""
        return list(self.objectives) or [self.metric]

    def all_directions(self) -> list[Direction]:
        return list(self.directions) or [self.direction]
