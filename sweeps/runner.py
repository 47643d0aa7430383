"""The sweep loop: resume or start a study, run trials until n_trials, track each in MLflow."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sweeps.callbacks import MissingMetricError
from sweeps.config import Config, make_datamodule, with_values
from sweeps.errors import ConfigError
from sweeps.leaderboard import Leaderboard
from sweeps.objectives import objective_values
from sweeps.preflight import preflight
from sweeps.secrets import redact
from sweeps.signals import STOP
from sweeps.space import check_space, grid, suggest
from sweeps.study import (
    CONFIG_ATTR,
    DEFAULT_STORAGE,
    INTERRUPTED_ATTR,
    MAX_FAILURES_IN_A_ROW,
    SweepSummary,
    counted,
    load_existing,
    open_study,
    requeue_interrupted,
    state_counts,
)
from sweeps.tracking import RUN_ATTR, Tracker, TrialRun
from sweeps.trial import TrainResult, baseline_tags, check_metric, train
from sweeps.warmstart import warm_start

Report = Callable[[str], None]


def objective_for(
    config: Config, tracker: Tracker, parent_id: str, report: Report
) -> Callable[[optuna.Trial], float | list[float]]:
    """The Optuna objective: sample, build the trial's config, train, record in MLflow."""

    def objective(trial: optuna.Trial) -> float | list[float]:
        values = suggest(trial, config.search.space, config)
        trial_config = with_values(config, values)
        trial.set_user_attr(CONFIG_ATTR, trial_config.public())  # passwords masked
        run = tracker.start_trial(parent_id, trial, values, trial_config)
        started = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="sweep-trial-") as workdir:
                result = train(trial_config, Path(workdir), trial=trial, run=run)
                _record_complete(run, result, config.search.metric)
        except optuna.TrialPruned as err:
            _close(run, report, state="PRUNED", status="KILLED", reason=str(err))
            report(f"trial {trial.number:3d} PRUNED    {err}  {_short(values)}")
            raise
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            _close(run, report, state="FAIL", status="KILLED", reason="interrupted by a signal")
            raise
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            _close(run, report, state="FAIL", status="FAILED", reason=reason)
            raise
        seconds = time.perf_counter() - started
        report(
            f"trial {trial.number:3d} COMPLETE  {config.search.metric}={result.best_value:.6g} "
            f"(epoch {result.best_epoch}, {seconds:.1f}s)  {_short(values)}"
        )
        return objective_values(config, result)

    return objective


def _close(run: TrialRun, report: Report, *, state: str, status: str, reason: str) -> None:
    """End a trial's MLflow run on the way out; a logging error must not replace the cause."""
    try:
        run.finish(state=state, status=status, reason=reason)
    except Exception as err:  # noqa: BLE001
        report(f"warning: MLflow run {run.run_id} could not be closed ({err}); it stays RUNNING")


def _record_complete(run: TrialRun, result: TrainResult, metric: str) -> None:
    if result.checkpoint is not None:
        run.log_artifact(result.checkpoint)  # the best epoch only: ModelCheckpoint keeps top 1
    run.log_summary(result.summary(metric), {})
    run.finish(state="COMPLETE", status="FINISHED")


def _short(values: dict[str, object]) -> str:
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def run_sweep(
    config: Config,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    report: Report = print,
    from_study: str | None = None,
    from_top: int = 5,
) -> SweepSummary:
    """Run (or resume) the study until search.n_trials trials have finished in total.

    `from_study` names a study in the same storage whose `from_top` best params run first.
    """
    check_space(config)
    config = _fit_to_grid(config, report)
    datamodule = make_datamodule(config, load=True)
    check_metric(config, datamodule.spec)  # a typo in search.metric fails now, not per trial
    STOP.check()  # stopped while loading: leave before any store is touched
    storage = storage or config.storage or DEFAULT_STORAGE
    name = study_name or config.name
    preflight(config, storage)  # a store or device that cannot work fails now, in one line
    tracker = Tracker(config.tracking.uri, config.name)  # creates and migrates the store once
    study = open_study(config, storage, name, on_stale=tracker.close_stale)
    done_before = counted(study.get_trials(deepcopy=False))
    parent_id = tracker.open_parent(study, config, storage)
    TrialRun(tracker.client, parent_id).log_summary({}, baseline_tags(datamodule.spec))
    board = Leaderboard(tracker.client, tracker.experiment_id, parent_id, config.search.metric)
    board(study)  # the parent's description holds the answer from the start
    started = time.perf_counter()
    if done_before >= config.search.n_trials:
        tracker.close_parent(parent_id, study, status="FINISHED")
        return _summary(
            study, storage, tracker, parent_id, 0.0, datamodule.spec.baselines, done=True
        )
    report(
        f"study {name!r} in {redact(storage)}; MLflow experiment {config.name!r} at "
        f"{redact(tracker.uri)}; "
        f"{config.search.metric} ({config.search.direction}), {config.search.n_trials} trials"
    )
    if done_before:
        report(f"resuming study {name!r}: {done_before}/{config.search.n_trials} trials done")
    requeued = requeue_interrupted(study)
    if requeued:
        report(f"re-running interrupted trials {requeued} with their params")
    source = load_existing(from_study, storage) if from_study else None
    queued = warm_start(study, config, source, from_top)
    if queued:
        report(f"warm start: {queued} param sets queued to run first")
    status = "FAILED"
    try:
        _loop(study, config, objective_for(config, tracker, parent_id, report), report, board)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if status != "KILLED":  # stopping: no new work after a signal
            _attach_report(tracker, parent_id, study, report)
        tracker.close_parent(parent_id, study, status=status)
    return _summary(
        study, storage, tracker, parent_id, time.perf_counter() - started, datamodule.spec.baselines
    )


def _attach_report(tracker: Tracker, parent_id: str, study: optuna.Study, report: Report) -> None:
    """The offline report on the parent run; a failure to write it must not fail the sweep."""
    from sweeps.report import attach

    try:
        attach(tracker.client, parent_id, study)
    except Exception as err:  # noqa: BLE001
        report(f"warning: report.html could not be attached to the parent run ({err})")


def _fit_to_grid(config: Config, report: Report) -> Config:
    """A grid has a fixed number of points: more trials would only repeat them."""
    if config.search.sampler.name != "grid":
        return config
    size = math.prod(len(values) for values in grid(config.search.space).values())
    if config.search.n_trials <= size:
        return config
    n_trials = config.search.n_trials
    report(f"search.n_trials {n_trials} exceeds the grid's {size} points; using {size}")
    search = config.search.model_copy(update={"n_trials": size})
    return config.model_copy(update={"search": search})


def _loop(
    study: optuna.Study,
    config: Config,
    objective: Callable[[optuna.Trial], float | list[float]],
    report: Report,
    board: Leaderboard,
) -> None:
    """One trial per optimize call, so the loop owns the total count, timeout and failures."""
    deadline = None if config.search.timeout is None else time.monotonic() + config.search.timeout
    failures = 0
    while counted(study.get_trials(deepcopy=False)) < config.search.n_trials:
        STOP.check()  # between trials: a Ctrl-C during the last one's bookkeeping ends here
        if deadline is not None and time.monotonic() >= deadline:
            report(f"search.timeout of {config.search.timeout}s reached")
            return
        try:
            study.optimize(objective, n_trials=1, callbacks=[board])
            failures = 0
        except (ConfigError, MissingMetricError):
            raise  # the config is wrong for every trial: stop now
        except Exception as err:  # noqa: BLE001 - one trial's crash must not end the sweep
            failures += 1
            report(f"trial FAILED  {type(err).__name__}: {err}")
            if failures >= MAX_FAILURES_IN_A_ROW:
                raise RuntimeError(
                    f"{failures} trials in a row failed; last error: {type(err).__name__}: {err}"
                ) from err


def _summary(
    study: optuna.Study,
    storage: str,
    tracker: Tracker,
    parent_id: str,
    seconds: float,
    baselines: dict[str, float],
    *,
    done: bool = False,
) -> SweepSummary:
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if completed and len(study.directions) == 1 else None
    return SweepSummary(
        study_name=study.study_name,
        storage=storage,
        counts=state_counts(study),
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        best_run_id=best.user_attrs.get(RUN_ATTR) if best else None,
        parent_run_id=parent_id,
        tracking_uri=tracker.uri,
        seconds=seconds,
        baselines=baselines,
        already_done=done,
    )
