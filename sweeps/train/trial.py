"""One training run from one complete config: data, network, Lightning trainer, callbacks."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping
from pytorch_lightning.profilers import Profiler

from datamodules.base import DataSpec
from models.epochs import Epoch, EpochLoader
from models.lit_module import SequenceModule
from models.recurrent import RecurrentNet, count_parameters
from sweeps.config.dataset import make_datamodule
from sweeps.config.schema import Config
from sweeps.errors import ConfigError
from sweeps.keys import BASELINE_ATTR, INIT_ATTR
from sweeps.search.objectives import check_metric
from sweeps.search.ranking import best_index
from sweeps.signals import STOP
from sweeps.train.callbacks import EpochCurves, MetricWatch
from sweeps.train.checkpoints import LAST, Checkpoints
from sweeps.train.diagnosis import PROBE_BUDGET, DiagnosticsLog
from sweeps.train.threads import use_trial_threads

if TYPE_CHECKING:
    import optuna

    from sweeps.track.tracking import TrialRun

# Lightning announces devices and model summaries at INFO for every trial; one line per trial
# from the sweep itself is what a user reads.
logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
# Lightning's notices that no user can act on, silenced around the calls that raise them, not
# for the whole process: a program that imports this module keeps its own warning filters.
QUIET = (
    # A trial's folder holds its config stamp, and a resumed trial's own checkpoints: that is
    # the point, not a mistake.
    r"Checkpoint directory .* exists and is not empty",
    # torch 2.13 deprecates LeafSpec, which pytorch-lightning 2.6 still builds on every fit.
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        yield


@dataclass(frozen=True)
class TrainResult:
    best_value: float
    best_epoch: int
    epochs_run: int
    n_parameters: int
    checkpoint: Path | None
    test_metrics: dict[str, float]
    resumed_from: int = 0  # the epoch a retried trial continued from; 0 = from scratch

    def summary(self, metric: str) -> dict[str, float]:
        """The numbers every tracked run records once training ends.

        The best value goes under the metric's own name, so MLflow's column of that name ranks
        runs as the study does; the per-epoch curve is logged as `tracking.curve_name(metric)`.
        """
        return {
            metric: self.best_value,
            "n_parameters": float(self.n_parameters),
            "best_epoch": float(self.best_epoch),
        }


def baseline_tags(spec: DataSpec) -> dict[str, str]:
    """The data's reference values (chance level, naive forecast) as `baseline.<metric>`.

    Tags, not metrics: as metrics they were constant bar charts that sorted first in MLflow's
    chart view and became the default axis of its parallel-coordinates plot.
    """
    return {f"baseline.{name}": f"{value:.6g}" for name, value in spec.baselines.items()}


def make_module(config: Config, spec: DataSpec, steps: int | None = None) -> SequenceModule:
    """The network for this data, wrapped with loss, metrics and optimizer.

    `steps`: the data's sequence length, which `model.init: chrono` takes as its T_max.
    """
    net = RecurrentNet(
        spec.n_inputs,
        spec.n_outputs,
        config.model,
        vocab_size=spec.vocab_size,
        every_step=spec.every_step,
        steps=steps,
    )
    return SequenceModule(
        net,
        task=spec.task,
        every_step=spec.every_step,
        optimizer=config.optimizer,  # grad_clip included: the module clips
        max_epochs=config.trainer.max_epochs,
        target_mean=spec.target_mean,
        target_std=spec.target_std,
    )


def train(
    config: Config,
    workdir: Path,
    *,
    trial: optuna.Trial | None = None,
    run: TrialRun | None = None,
    test: bool = False,
    resume: bool = False,
    plot: bool = False,
) -> TrainResult:
    """Fit one model; raise TrialPruned when Optuna prunes it, KeyboardInterrupt when stopped.

    With `resume`, `workdir` outlives the process: the full training state is saved there
    on a clock (`last.ckpt`, sweeps/train/checkpoints.py), and a later call with the same
    folder continues from it.
    With `plot`, the diagnostics' gradient-over-time figure is drawn too (a sweep draws it for
    its best trials only, at the end).
    """
    use_trial_threads()  # every way into training passes here: sweep run, workers, train
    pl.seed_everything(config.seed, verbose=False)
    datamodule = make_datamodule(config, load=True)
    check_metric(config, datamodule.spec)
    baseline = datamodule.spec.baselines.get(config.search.metric)
    if trial is not None and baseline is not None:  # for `sweep status`: who stayed at it
        trial.set_user_attr(BASELINE_ATTR, baseline)
    module = make_module(config, datamodule.spec, steps=datamodule.splits.train.x.shape[1])
    initialised = module.net.initialised
    if trial is not None:
        trial.set_user_attr(INIT_ATTR, initialised)
    if run is not None:  # beside the values, so a reader sees whether the model beats them
        run.log_summary({}, baseline_tags(datamodule.spec) | {INIT_ATTR: initialised})
    metric, mode = config.search.metric, config.search.direction[:3]
    # best.ckpt, and with resume the state a retry continues from (last.ckpt): weights,
    # optimizer, scheduler, callbacks and epoch, written on a clock.
    every_s = config.trainer.write_every_s
    checkpoint = Checkpoints(
        workdir, metric, maximize=mode == "max", resume=resume, every_s=every_s
    )
    watch = MetricWatch(metric, trial)
    # Curves first: an epoch that gets pruned still reaches MLflow before the trial ends.
    curves = None
    if run is not None:
        curves = EpochCurves(run, every_s=every_s, saved=lambda: checkpoint.saved_epoch)
    callbacks: list[pl.Callback] = [curves] if curves is not None else []
    val_loader = datamodule.val_dataloader()  # validation's batches, and the probe's first
    if run is not None and config.trainer.diagnostics:  # before the pruner: its epoch counts
        callbacks.append(
            DiagnosticsLog(
                run,
                every=config.trainer.diagnostics,
                sink=curves,
                plot=plot,
                probe_from=val_loader,
                budget=PROBE_BUDGET,
            )
        )
    callbacks += [watch, checkpoint]
    last = workdir / LAST
    resumed_from = _resume_point(workdir, config) if resume else 0
    if config.trainer.patience is not None:
        callbacks.append(EarlyStopping(monitor=metric, mode=mode, patience=config.trainer.patience))
    trainer = pl.Trainer(
        max_epochs=config.trainer.max_epochs,
        accelerator=config.trainer.accelerator,
        devices=1,  # an Epoch serves one device (models/epochs.py)
        precision=config.trainer.precision,
        callbacks=callbacks,
        logger=False,  # MLflow is logged per epoch by EpochCurves, not per step
        enable_progress_bar=False,  # the rich/tqdm bar costs more than a small model's step
        enable_model_summary=False,
        profiler=_NoProfiler(),
        num_sanity_val_steps=0,
        default_root_dir=workdir,
    )
    _check_precision(trainer, config)
    try:
        # One Lightning step per epoch (models/epochs.py): the stop check and the batch caps
        # that were per-batch hooks and Trainer options go with the batches.
        train_epoch = Epoch(
            datamodule.train_dataloader(),
            limit=config.trainer.limit_train_batches,
            after_batch=STOP.check,
        )
        val_epoch = Epoch(
            val_loader, limit=config.trainer.limit_val_batches, after_batch=STOP.check
        )
        with _quiet():
            trainer.fit(
                module,
                train_dataloaders=EpochLoader(train_epoch),
                val_dataloaders=EpochLoader(val_epoch),
                ckpt_path=last if resumed_from else None,
            )
    except SystemExit as exc:
        # Lightning turns Ctrl-C and SIGTERM into SystemExit, which Optuna does not catch: the
        # trial would stay RUNNING. As KeyboardInterrupt, Optuna marks it FAIL and re-raises.
        # (Lightning also set SIGINT to ignore; the CLI restores its handlers on the way out.)
        raise KeyboardInterrupt(f"training stopped by a signal ({exc})") from exc
    best_value = checkpoint.best_value
    ckpt_path = checkpoint.best_path
    test_metrics: dict[str, float] = {}
    if test and ckpt_path is not None:
        with _quiet():
            out = trainer.test(
                module, datamodule.test_dataloader(), ckpt_path=str(ckpt_path), verbose=False
            )
        test_metrics = {k: float(v) for k, v in out[0].items()} if out else {}
    return TrainResult(
        best_value=best_value,
        best_epoch=best_index(watch.history, maximize=mode == "max"),
        epochs_run=trainer.current_epoch,
        n_parameters=count_parameters(module.net),
        checkpoint=ckpt_path,
        test_metrics=test_metrics,
        resumed_from=resumed_from,
    )


def _check_precision(trainer: pl.Trainer, config: Config) -> None:
    """Refuse a precision that Lightning swapped for another (16-mixed on a CPU, say)."""
    if trainer.precision != config.trainer.precision:
        raise ConfigError(
            f"trainer.precision {config.trainer.precision!r} cannot run on this trainer's "
            f"{type(trainer.accelerator).__name__} (Lightning would use {trainer.precision!r}); "
            "set trainer.precision to one it serves"
        )


def _resume_point(workdir: Path, config: Config) -> int:
    """Epochs to skip: those saved in `workdir` by a run of this very config, else none."""
    stamp = workdir / "config.sha"
    if stamp.exists() and stamp.read_text() != config.digest():
        # Same params, but the base config changed (say, max_epochs): its state does not apply.
        for old in workdir.glob("*.ckpt"):
            old.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(config.digest())
    return _saved_epoch(workdir / LAST)


def _saved_epoch(path: Path) -> int:
    """Epochs a `last.ckpt` has finished (0 if there is none, or it is unreadable)."""
    import torch

    if not path.exists():
        return 0
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a checkpoint cut short by a kill: start afresh
        path.unlink()
        return 0
    return int(saved.get("epoch", -1)) + 1


class _NoProfiler(Profiler):
    """A profiler that records nothing, at the cost of returning one shared null context.

    Lightning wraps every hook call in `profiler.profile(...)`, dozens a step; its default
    PassThroughProfiler still builds a generator-based context manager each time.
    """

    def profile(self, action_name: str) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return _NULL_CONTEXT

    def start(self, action_name: str) -> None:
        pass

    def stop(self, action_name: str) -> None:
        pass

    def summary(self) -> str:
        return ""


_NULL_CONTEXT: contextlib.nullcontext[None] = contextlib.nullcontext()
