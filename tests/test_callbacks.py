"""Pruning on the one metric: reported per epoch, NaN ends the trial, a missing metric raises."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch

from sweeps.callbacks import MetricWatch, MissingMetricError, NonFiniteMetricError


def _trainer(epoch: int, sanity: bool = False, **metrics: float) -> Any:
    return SimpleNamespace(
        sanity_checking=sanity,
        current_epoch=epoch,
        callback_metrics={k: torch.tensor(v) for k, v in metrics.items()},
    )


def _trial(pruner: optuna.pruners.BasePruner | None = None) -> optuna.Trial:
    study = optuna.create_study(pruner=pruner or optuna.pruners.NopPruner())
    return study.ask()


def test_reports_each_epoch_and_skips_the_sanity_check() -> None:
    trial = _trial()
    watch = MetricWatch("val_loss", trial)
    watch.on_validation_end(_trainer(0, sanity=True, val_loss=9.0), None)  # type: ignore[arg-type]
    for epoch, value in enumerate([0.5, 0.25]):
        watch.on_validation_end(_trainer(epoch, val_loss=value), None)  # type: ignore[arg-type]
    frozen = trial.study.trials[0]
    assert frozen.intermediate_values == {0: 0.5, 1: 0.25}
    assert watch.history == [0.5, 0.25]


def test_missing_metric_raises_and_lists_what_was_logged() -> None:
    watch = MetricWatch("val_los", _trial())
    with pytest.raises(MissingMetricError, match=r"'val_los' was not logged.*val_loss"):
        watch.on_validation_end(_trainer(0, val_loss=0.5), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_metric_prunes_the_trial_with_a_reason(bad: float) -> None:
    watch = MetricWatch("val_loss", _trial())
    with pytest.raises(optuna.TrialPruned, match="diverged"):
        watch.on_validation_end(_trainer(3, val_loss=bad), None)  # type: ignore[arg-type]
    assert watch.prune_reason is not None and "epoch 3" in watch.prune_reason


def test_non_finite_metric_without_a_trial_raises() -> None:
    watch = MetricWatch("val_loss", None)
    with pytest.raises(NonFiniteMetricError):
        watch.on_validation_end(_trainer(1, val_loss=math.nan), None)  # type: ignore[arg-type]


def test_pruner_decision_raises_trial_pruned() -> None:
    # Percentile 1 with no warm-up: any trial worse than the best earlier one is pruned.
    study = optuna.create_study(pruner=optuna.pruners.PercentilePruner(1.0, 1, 0))
    first = study.ask()
    first.report(0.1, 0)
    study.tell(first, 0.1)
    watch = MetricWatch("val_loss", study.ask())
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 0"):
        watch.on_validation_end(_trainer(0, val_loss=0.9), None)  # type: ignore[arg-type]
