"""Per-epoch diagnostics of a trial: `diag.*` metrics and gradient-over-time artifacts in MLflow."""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl

from models.diagnostics import ProbeTwin, finite
from models.options import DIAGNOSTICS, check_diagnostics, probe_due

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient

    from sweeps.track.tracking import TrialRun
    from sweeps.train.callbacks import EpochCurves

PROBE_SIZE = 64  # sequences in the probe batch: the first ones of the validation split
# The MLflow step (and the artifact's epoch) of the probe before the first update: what the
# initialisation gave the cell, one step before epoch 0's.
INITIAL = -1
ARTIFACT_DIR = "diagnostics"
CURVE_NAME = "grad_over_time"
# The largest share of a trial's time that the scheduled probes may take, measured as it runs:
# on short epochs a probe costs a large part of one, and the schedule then thins out.
PROBE_BUDGET = 0.05


class DiagnosticsLog(pl.Callback):
    """After the validations of a schedule, probes the model on a fixed batch.

    `every` reads as `trainer.diagnostics`: true or "log" probes after epochs 0, 1, 2, 4, 8, ...,
    an integer N after every N-th; always also before the first update (as epoch INITIAL, on a
    trial that starts fresh, not on one resumed from a checkpoint) and after the last epoch (at
    max_epochs, or at train end when training stopped early; a pruned trial has no last epoch).
    Logs the `diag.*` metrics as that epoch's values (with a `sink`, in the same MLflow call as
    the epoch's own metrics) and, when training ends (pruned included), saves the
    gradient-over-time curves as `diagnostics/grad_over_time.json`, and as `.png` with `plot`.
    Put it after the sink and before the pruning callback, so the epoch a trial is pruned at is
    still recorded. A sweep draws the `.png` once, at its end, for the best trial of each cell
    (`plot_best`): matplotlib's drawing costs a short GPU trial a large share of its time.
    With a `budget` (a share, PROBE_BUDGET in a sweep), a scheduled probe is skipped while the
    probes so far and one more would take more than that share of the time since fit start;
    the first and the last probes always run.
    """

    def __init__(
        self,
        run: TrialRun,
        probe_size: int = PROBE_SIZE,
        *,
        every: bool | int | str = DIAGNOSTICS,
        sink: EpochCurves | None = None,
        plot: bool = False,
        probe_from: Iterable[tuple[Any, ...]] | None = None,
        budget: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.run = run
        self.budget = budget
        self._clock = clock
        self._started = 0.0
        self._spent = 0.0  # seconds the probes took so far
        self._cost = 0.0  # seconds the last probe took
        self.probe_from = probe_from  # the validation batches; else the datamodule's
        self.every = check_diagnostics(every)
        self.sink = sink
        self.plot = plot
        self.probe_size = probe_size
        self.epochs: list[int] = []
        self.curves: list[dict[str, list[float]]] = []
        self._twin: ProbeTwin | None = None
        self._batch: tuple[Any, ...] = ()
        self._saved = False
        self._validated = -1  # the last epoch whose validation ended

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = self._clock()
        loader = self.probe_from
        if loader is None:
            loader = trainer.datamodule.val_dataloader()  # type: ignore[attr-defined]
        first = next(iter(loader))  # validation is never shuffled
        self._batch = tuple(t[: self.probe_size].to(pl_module.device) for t in first)
        self._twin = ProbeTwin(pl_module.net)  # type: ignore[arg-type]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._twin is not None and trainer.global_step == 0 and trainer.current_epoch == 0:
            self._probe(pl_module, INITIAL)  # sent alone: no epoch's metrics exist yet

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._twin is None:
            return
        epoch = self._validated = trainer.current_epoch
        last = 0 < (trainer.max_epochs or 0) <= epoch + 1  # -1 or None: no last epoch
        if (probe_due(epoch, self.every) and self._affordable()) or last:
            self._probe(pl_module, epoch)

    def _affordable(self) -> bool:
        if self.budget is None:
            return True
        return self._spent + self._cost <= self.budget * (self._clock() - self._started)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Stopped early (patience, a stop request): the weights are still the last epoch's.
        if self._validated >= 0 and self._validated not in self.epochs:
            self._probe(pl_module, self._validated)
        self._save()

    def _probe(self, pl_module: pl.LightningModule, epoch: int) -> None:
        assert self._twin is not None
        start = self._clock()
        found = self._twin.diagnose(pl_module.net, self._batch, pl_module.task)  # type: ignore[arg-type]
        if self.sink is not None:  # at train end the epoch's batch has gone: add sends alone
            self.sink.add(finite(found.metrics), epoch=epoch)
        else:
            self.run.log_epoch(finite(found.metrics), epoch=epoch)
        self.epochs.append(epoch)
        self.curves.append(found.grad_over_time)
        self._cost = self._clock() - start
        self._spent += self._cost

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, KeyboardInterrupt | SystemExit):
            return  # stopping: the signal may have cut a database call short
        try:  # pruned or crashed: keep the curve so far, never hiding the real exception
            self._save()
        except Exception as err:  # noqa: BLE001
            warnings.warn(f"could not save the diagnostics artifacts: {err}", stacklevel=1)

    def _save(self) -> None:
        if self._saved or not self.epochs:
            return
        self._saved = True
        data = curve_record(self.epochs, self.curves)
        with tempfile.TemporaryDirectory(prefix="sweep-diag-") as folder:
            path = Path(folder) / f"{CURVE_NAME}.json"
            path.write_text(json.dumps(data))
            self.run.client.log_artifact(self.run.run_id, str(path), ARTIFACT_DIR)
            if self.plot:
                plot_grad_over_time(data, path.with_suffix(".png"))
                self.run.client.log_artifact(
                    self.run.run_id, str(path.with_suffix(".png")), ARTIFACT_DIR
                )


def plot_best(client: MlflowClient, study: optuna.Study) -> list[str]:
    """Draw `grad_over_time.png` for the best COMPLETE trial of each `model.cell` (or of the
    study), from its `.json`; returns the run ids drawn. Runs already drawn are skipped."""
    from optuna.trial import TrialState

    from sweeps.keys import RUN_ATTR
    from sweeps.search.ranking import best_trial, maximizing

    if len(study.directions) != 1:
        return []
    cells: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        cells.setdefault(str(t.params.get("model.cell", "")), []).append(t)
    maximize = maximizing(study)
    drawn = []
    for trial in (best_trial(group, maximize=maximize) for group in cells.values()):
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id is None:
            continue
        names = {a.path for a in client.list_artifacts(str(run_id), ARTIFACT_DIR)}
        if (
            f"{ARTIFACT_DIR}/{CURVE_NAME}.json" not in names
            or f"{ARTIFACT_DIR}/{CURVE_NAME}.png" in names
        ):
            continue
        with tempfile.TemporaryDirectory(prefix="sweep-diag-") as folder:
            local = client.download_artifacts(
                str(run_id), f"{ARTIFACT_DIR}/{CURVE_NAME}.json", folder
            )
            png = Path(folder) / f"{CURVE_NAME}.png"
            plot_grad_over_time(json.loads(Path(local).read_text()), png)
            client.log_artifact(str(run_id), str(png), ARTIFACT_DIR)
        drawn.append(str(run_id))
    return drawn


def curve_record(epochs: list[int], curves: list[dict[str, list[float]]]) -> dict[str, Any]:
    """The JSON artifact: per layer key, one curve of ||dLoss/dh_t|| per probed epoch."""
    keys = list(curves[0]) if curves else []
    return {
        "quantity": "norm of dLoss/dh_t on the probe batch",
        "steps": "in the order each direction reads the sequence; the loss is after the last",
        "epochs": epochs,
        "curves": {key: [c[key] for c in curves] for key in keys},
    }


def plot_grad_over_time(data: dict[str, Any], path: Path, title: str = "") -> None:
    """One panel per layer: each epoch's curve on a log axis, early epochs light, late dark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(data["curves"])
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
    cmap = plt.get_cmap("viridis")
    epochs = data["epochs"]
    for ax, key in zip(axes[0], keys, strict=True):
        for i, curve in enumerate(data["curves"][key]):
            shade = cmap(i / max(len(epochs) - 1, 1))
            label = None
            if i in (0, len(epochs) - 1):
                label = "initial" if epochs[i] == INITIAL else f"epoch {epochs[i]}"
            ax.plot([max(v, 1e-30) for v in curve], color=shade, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.set_ylabel("||dLoss/dh_t||")
        ax.set_title(f"{title} layer {key}".strip())
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
