"""Pruning on the one metric (reported per epoch, NaN ends the trial, a missing metric raises),
and the MLflow curves (every epoch once, several to a write)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch

from sweeps.train.callbacks import (
    EpochCurves,
    MetricWatch,
    MissingMetricError,
    NonFiniteMetricError,
)


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


class _Sent:
    """The TrialRun slice EpochCurves writes to: each call's epochs, in order."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.metrics: dict[int, dict[str, float]] = {}
        self.stamps: dict[int, int] = {}

    def log_epochs(self, epochs: list[tuple[int, dict[str, float], int]]) -> None:
        self.batches.append([epoch for epoch, _, _ in epochs])
        for epoch, metrics, at_ms in epochs:
            assert epoch not in self.metrics, f"epoch {epoch} sent twice"
            self.metrics[epoch] = dict(metrics)
            self.stamps[epoch] = at_ms

    def log_epoch(self, metrics: dict[str, float], *, epoch: int) -> None:
        self.log_epochs([(epoch, metrics, -1)])


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _epoch_trainer(epoch: int) -> Any:
    trainer = _trainer(epoch, val_loss=1.0 / (epoch + 2), train_loss=2.0 / (epoch + 2))
    trainer.optimizers = [SimpleNamespace(param_groups=[{"lr": 0.01}])]
    return trainer


def _run_epochs(curves: EpochCurves, clock: _Clock, epochs: range, seconds: float) -> None:
    """Lightning's order: an epoch starts (the last one's train loss logged), trains, validates."""
    for epoch in epochs:
        curves.on_train_epoch_start(_epoch_trainer(epoch - 1), None)  # type: ignore[arg-type]
        clock.now += seconds
        curves.on_validation_end(_epoch_trainer(epoch), None)  # type: ignore[arg-type]


def test_cheap_epochs_are_sent_together_and_each_once_with_its_train_loss() -> None:
    run, clock = _Sent(), _Clock()
    wall = lambda: 1000.0 + clock.now  # noqa: E731 - unix seconds, in step with the clock
    curves = EpochCurves(run, every_s=2.0, clock=clock, wall=wall)  # type: ignore[arg-type]
    _run_epochs(curves, clock, range(10), seconds=0.5)
    curves.on_train_end(_epoch_trainer(9), None)  # type: ignore[arg-type]
    # The first epoch at once, then one write per 2 s of epochs, the rest at the end.
    assert run.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]
    # Each stamped when its validation ended, not when its batch was sent.
    assert run.stamps == {e: int((1000.0 + 0.5 * (e + 1)) * 1000) for e in range(10)}
    assert sorted(run.metrics) == list(range(10))
    assert run.metrics[3] == pytest.approx({"val_loss": 0.2, "lr": 0.01, "train_loss": 0.4})


def test_slow_epochs_are_sent_one_by_one() -> None:
    run, clock = _Sent(), _Clock()
    curves = EpochCurves(run, every_s=2.0, clock=clock)  # type: ignore[arg-type]
    _run_epochs(curves, clock, range(3), seconds=3.0)
    curves.on_train_end(_epoch_trainer(2), None)  # type: ignore[arg-type]
    assert run.batches == [[0], [1], [2]]


def test_held_epochs_travel_in_a_checkpoint_and_are_sent_after_a_resume() -> None:
    run, clock = _Sent(), _Clock()
    curves = EpochCurves(run, every_s=2.0, clock=clock)  # type: ignore[arg-type]
    _run_epochs(curves, clock, range(4), seconds=0.1)
    saved = curves.state_dict()  # a checkpoint at epoch 3's validation end; then a kill
    assert run.batches == [[0]]
    resumed = EpochCurves(run, every_s=2.0, clock=clock)  # type: ignore[arg-type]
    resumed.load_state_dict(saved)
    # Lightning restores no logged metric: epoch 4 starts without epoch 3's train loss.
    resumed.on_train_epoch_start(_trainer(4), None)  # type: ignore[arg-type]
    resumed.on_validation_end(_epoch_trainer(4), None)  # type: ignore[arg-type]
    resumed.on_train_end(_epoch_trainer(4), None)  # type: ignore[arg-type]
    assert sorted(run.metrics) == list(range(5))  # none lost, none twice
    assert "train_loss" not in run.metrics[3] and "train_loss" in run.metrics[2]


def test_a_pruned_trial_sends_its_held_epochs_and_a_stopped_one_sends_nothing() -> None:
    for stop, sent in ((optuna.TrialPruned("pruned"), [0, 1, 2]), (KeyboardInterrupt(), [0])):
        run, clock = _Sent(), _Clock()
        curves = EpochCurves(run, every_s=2.0, clock=clock)  # type: ignore[arg-type]
        _run_epochs(curves, clock, range(3), seconds=0.1)
        curves.on_exception(_epoch_trainer(2), None, stop)  # type: ignore[arg-type]
        assert sorted(run.metrics) == sent
        assert "train_loss" not in run.metrics.get(2, {})


def test_a_checkpoint_written_before_the_batching_still_resumes() -> None:
    run = _Sent()
    curves = EpochCurves(run, every_s=2.0)  # type: ignore[arg-type]
    curves.load_state_dict({"pending": (3, {"val_loss": 0.5})})  # an older checkpoint: no stamps
    curves.on_train_end(_trainer(3), None)  # type: ignore[arg-type]
    assert run.metrics == {3: {"val_loss": 0.5}} and run.stamps[3] > 0


def test_no_epoch_after_the_saved_state_is_sent_before_training_ends() -> None:
    # A retry resumes from the saved state and trains the later epochs again: sent before,
    # they would be on the curve twice.
    run, clock, saved = _Sent(), _Clock(), [-1]
    curves = EpochCurves(run, every_s=2.0, clock=clock, saved=lambda: saved[0])  # type: ignore[arg-type]
    _run_epochs(curves, clock, range(3), seconds=1.0)
    assert run.batches == []  # nothing saved yet
    saved[0] = 2  # a checkpoint at epoch 2's end
    _run_epochs(curves, clock, range(3, 6), seconds=1.0)
    assert run.batches == [[0, 1, 2]]  # held back: epochs 3 and 4, after the checkpoint
    curves.on_train_end(_epoch_trainer(5), None)  # type: ignore[arg-type]
    assert run.batches == [[0, 1, 2], [3, 4, 5]]  # the end sends them all, each once
