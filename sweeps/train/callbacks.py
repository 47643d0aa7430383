"""Lightning callbacks of the sweep: pruning on the one metric, and per-epoch MLflow curves."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
import pytorch_lightning as pl

if TYPE_CHECKING:
    from sweeps.track.tracking import EpochRecord, TrialRun


class MissingMetricError(RuntimeError):
    """The watched metric was not logged: a typo must not silently switch pruning off."""


class NonFiniteMetricError(RuntimeError):
    """The metric became NaN or infinite: the run diverged."""


def read_metric(trainer: pl.Trainer, metric: str) -> float:
    """The metric's value this epoch, or MissingMetricError naming what was logged instead."""
    value = trainer.callback_metrics.get(metric)
    if value is None:
        logged = sorted(trainer.callback_metrics)
        raise MissingMetricError(
            f"search.metric {metric!r} was not logged; the module logs {logged}"
        )
    return float(value)


class MetricWatch(pl.Callback):
    """Reports the metric to Optuna once per validation epoch and stops on NaN or inf.

    With a trial it raises TrialPruned (the trial ends PRUNED, the reason in `prune_reason`);
    without one (a plain `sweep train`), a non-finite metric raises NonFiniteMetricError.
    """

    def __init__(self, metric: str, trial: optuna.Trial | None = None) -> None:
        self.metric = metric
        self.trial = trial
        self.prune_reason: str | None = None
        self.history: list[float] = []  # the metric per validation epoch, in order

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A resumed trial: give the new Optuna trial the epochs its checkpoint already ran,
        # so the pruner compares it over its whole curve.
        if self.trial is not None:
            for epoch, value in enumerate(self.history):
                if math.isfinite(value):
                    self.trial.report(value, step=epoch)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        epoch = trainer.current_epoch
        value = read_metric(trainer, self.metric)
        self.history.append(value)
        if not math.isfinite(value):
            self.prune_reason = f"{self.metric} was {value} at epoch {epoch} (diverged)"
            if self.trial is None:
                raise NonFiniteMetricError(self.prune_reason)
            raise optuna.TrialPruned(self.prune_reason)
        if self.trial is None or len(self.trial.study.directions) > 1:
            return  # Optuna takes no reports from multi-objective trials (and cannot prune them)
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            self.prune_reason = f"pruned at epoch {epoch} with {self.metric}={value:.6g}"
            raise optuna.TrialPruned(self.prune_reason)


class EpochCurves(pl.Callback):
    """Sends each epoch's metrics to the trial's MLflow run, several epochs in one batch call.

    Per epoch, not per step: an MLflow write to SQLite costs more than a small model's step. The
    first epoch is sent as soon as it may be (see `saved`), then finished epochs are held until
    `every_s` seconds have passed since the last send, and sent together (one SQLite commit); the
    rest go when training ends or the trial is pruned. Lightning validates before
    `on_train_epoch_end`, so an epoch is finished only once the module has logged its training
    loss, at the next epoch's start. Each epoch keeps the wall time its validation ended as its
    MLflow timestamp, so charts against time show when it ran, not when it was sent. With
    `saved` (the last epoch whose training state is on disk), no later epoch is sent before
    training ends: a retry resumes from that state and trains those epochs again, and the curve
    would show them twice.
    """

    def __init__(
        self,
        run: TrialRun,
        every_s: float,  # trainer.write_every_s
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        saved: Callable[[], int] | None = None,
    ) -> None:
        self.run = run
        self.saved = saved
        self.every_s = every_s
        self._clock = clock
        self._wall = wall
        self._last_send: float | None = None
        self._pending: EpochRecord | None = None  # validated, no training loss yet
        self._held: list[EpochRecord] = []  # finished, not yet sent

    # The held and pending epochs travel in each checkpoint (written before they are sent), so a
    # trial resumed from it still logs them: MLflow neither loses an epoch nor gets one twice.
    def state_dict(self) -> dict[str, Any]:
        return {"pending": self._pending, "held": list(self._held)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pending = state_dict.get("pending")
        self._pending = None if pending is None else self._record(*pending)
        self._held = [self._record(*held) for held in state_dict.get("held", [])]

    def _record(
        self, epoch: int, metrics: dict[str, float], at_ms: int | None = None
    ) -> EpochRecord:
        # A checkpoint of an earlier version holds (epoch, metrics): stamped now.
        return (int(epoch), dict(metrics), int(self._wall() * 1000) if at_ms is None else at_ms)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        metrics["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self._pending = self._record(trainer.current_epoch, metrics)

    def add(self, metrics: dict[str, float], *, epoch: int) -> None:
        """More metrics of an epoch whose validation ended: they travel in the same batch."""
        for held_epoch, held, _ in [*self._held, *([self._pending] if self._pending else [])]:
            if held_epoch == epoch:
                held.update(metrics)
                return
        self.run.log_epoch(metrics, epoch=epoch)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish_epoch(trainer, with_train=True)
        now = self._clock()
        if self._last_send is None or now - self._last_send >= self.every_s:
            self._send()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish_epoch(trainer, with_train=True)
        self._send(final=True)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, KeyboardInterrupt | SystemExit):
            return  # stopping: the signal may have cut a database call short, so send nothing
        # Pruned (or crashed) mid-epoch: this epoch's training loss was never computed; send
        # what exists, and never let a logging error hide the exception that ends the trial.
        try:
            self._finish_epoch(trainer, with_train=False)
            self._send(final=True)
        except Exception as err:  # noqa: BLE001
            warnings.warn(f"could not log the last epochs to MLflow: {err}", stacklevel=1)

    def _finish_epoch(self, trainer: pl.Trainer, *, with_train: bool) -> None:
        if self._pending is None:
            return
        _, metrics, _ = self._pending
        if with_train:
            metrics.update(
                {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train_")}
            )
        self._held.append(self._pending)
        self._pending = None

    def _send(self, *, final: bool = False) -> None:
        upto = math.inf if final or self.saved is None else self.saved()
        ready = [record for record in self._held if record[0] <= upto]
        if ready:
            self.run.log_epochs(ready)
            self._held = [record for record in self._held if record[0] > upto]
            self._last_send = self._clock()
