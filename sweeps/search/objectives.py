"""Several objectives: `search.metric` and `search.direction` as lists, e.g. loss and size.

The first objective is a metric the module logs per epoch: it drives checkpoints and early
stopping, and its best epoch gives the trial's value. The others are numbers every run
records once training ends. Optuna cannot prune a multi-objective trial, so pruning is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from models.metrics import metric_names
from sweeps.errors import ConfigError

if TYPE_CHECKING:
    from datamodules.catalog import DataKind
    from sweeps.config.schema import Config

LATER = ("n_parameters", "best_epoch")  # what an objective after the first may name
# Optuna's CMA-ES sampler is single-objective only.
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)


def check_metric(config: Config, data: DataKind) -> None:
    """search.metric must be one the module logs for this data, else pruning would be blind.

    `data` is the dataset's catalog entry (`sweep validate`, no torch) or a built `DataSpec`.
    """
    names = metric_names(data.task, every_step=data.every_step, standardised=data.standardised)
    if config.search.metric not in names:
        raise ConfigError(
            f"search.metric {config.search.metric!r} is not logged for data.name="
            f"{config.data.name!r}; choose one of {names}"
        )
    if data.tokens and data.every_step and config.model.bidirectional:
        raise ConfigError(
            "model.bidirectional must be false for next-token prediction: a backward pass "
            "would read the very tokens it is asked to predict"
        )


def check_objectives(config: Config) -> None:
    """Later objectives name recorded numbers; no pruner and a multi-objective sampler."""
    metrics = config.search.all_metrics()
    if len(metrics) < 2:
        return
    for i, name in enumerate(metrics[1:], 1):
        if name not in LATER:
            raise ConfigError(
                f"search.metric[{i}] {name!r} cannot be an objective after the first; "
                f"choose one of {list(LATER)} (the first may be any logged metric)"
            )
    if len(set(metrics)) != len(metrics):
        raise ConfigError(f"search.metric lists a metric twice: {metrics}")
    if config.search.pruner.name != "none":
        raise ConfigError(
            f"search.pruner.name must be none with several objectives, but got "
            f"{config.search.pruner.name!r}: Optuna cannot prune multi-objective trials"
        )
    if config.search.sampler.name in SINGLE_OBJECTIVE_SAMPLERS:
        raise ConfigError(
            f"search.sampler.name {config.search.sampler.name!r} is single-objective; "
            "use tpe, random, grid or qmc with several objectives"
        )


def objective_values(config: Config, recorded: Mapping[str, float]) -> float | list[float]:
    """The trial's value, from the numbers its run recorded: one, or one per objective."""
    metrics = config.search.all_metrics()
    values = [float(recorded[name]) for name in metrics]
    return values[0] if len(values) == 1 else values
