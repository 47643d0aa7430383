"""The coordinator: what a sweep does once, around the workers that run its trials.

`sweep run` is a coordinator. It checks the config, creates (or joins) the study and the MLflow
experiment, finds or creates the one parent run, reaps trials whose process is gone, requeues
interrupted ones, starts the workers and, when they are done, closes the parent run if no one
else is still training. Whichever coordinator arrives second, here or on another machine,
joins the same study and parent run: the once-per-sweep steps run under the study's lock.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
import uuid
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sweeps.config.dataset import make_datamodule
from sweeps.config.schema import Config
from sweeps.errors import UnavailableError
from sweeps.keys import RUN_ATTR, SESSION_ATTR
from sweeps.output import Echo
from sweeps.runner.parent import close_parent, last_end_ms
from sweeps.runner.preflight import preflight
from sweeps.runner.reaper import reap, requeue_interrupted
from sweeps.runner.registry import LoggedBest, publish
from sweeps.runner.supervisor import run_children
from sweeps.runner.worker import WorkerArgs, open_budgeted, work
from sweeps.search.objectives import check_metric
from sweeps.search.space import check_space, grid
from sweeps.search.stopping import recorded, settle_study
from sweeps.search.study import SweepSummary, budget_used, load_existing, state_counts
from sweeps.search.warmstart import warm_start
from sweeps.secrets import redact
from sweeps.signals import STOP
from sweeps.stores.storage import DEFAULT_STORAGE, StudyLock, lock_for
from sweeps.track.leaderboard import Leaderboard
from sweeps.track.tracking import Tracker, TrialRun
from sweeps.train.trial import baseline_tags

CHECKPOINTS = "sweep-checkpoints"  # per-trial training state, beside the embedded stores


def run_sweep(
    config: Config,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    report: Echo = print,
    from_study: str | None = None,
    from_top: int = 5,
    workers: int = 1,
    spawned: list[subprocess.Popen[str]] | None = None,
    gpus: list[str] | None = None,
) -> SweepSummary:
    """Run (or join, or resume) the study until search.n_trials trials have finished in total,
    or search.stop fires.

    `from_study` names a study in the same storage whose `from_top` best params run first.
    `spawned`: worker processes already importing (`sweeps.runner.children.start`), to use first.
    `gpus`: the GPUs the worker processes are spread over (`sweeps.runner.placement`).
    """
    check_space(config)
    config = _fit_to_grid(config, report)
    datamodule = make_datamodule(config, load=True)
    check_metric(config, datamodule.spec)  # a typo in search.metric fails now, not per trial
    STOP.check()  # stopped while loading: leave before any store is touched
    url = storage or config.storage or DEFAULT_STORAGE
    name = study_name or config.name
    preflight(config, url)  # a store or device that cannot work fails now, in one line
    # Creates and migrates the store once.
    tracker = Tracker(config.tracking.uri, config.name, reconnect_s=config.reconnect)
    study = open_budgeted(config, url, name)
    lock = lock_for(url, name)
    source = load_existing(from_study, url) if from_study else None
    with lock():
        parent_id = tracker.open_parent(study, config, url)
        _tidy(study, tracker, config, lock, report)
        queued = warm_start(study, config, source, from_top)
        stopped = settle_study(study, config.search)  # search.stop may have changed on a resume
    if tracker.lost_parent is not None:
        report(
            f"the tracking store at {redact(tracker.uri)} has no parent run {tracker.lost_parent}; "
            f"the sweep goes on under a new parent run {parent_id}"
        )
    TrialRun(tracker.client, parent_id).log_summary({}, baseline_tags(datamodule.spec))
    Leaderboard(tracker.client, tracker.experiment_id, parent_id, config.search.metric)(study)
    trials = study.get_trials(deepcopy=False)
    if (stopped or budget_used(trials) >= config.search.n_trials) and not _active(study):
        if not tracker.parent_finished(parent_id):  # a sweep that ended without closing it
            end = last_end_ms(trials)
            close_parent(tracker, parent_id, study, lock, status="FINISHED", report=report, end=end)
        done = _summary(study, url, tracker, parent_id, 0.0, datamodule.spec.baselines, done=True)
        done.model = _publish(tracker, parent_id, study, config, lock, report)
        return done
    tracker.resume_parent(parent_id)
    report(
        f"study {name!r} in {redact(url)}; MLflow experiment {config.name!r} at "
        f"{redact(tracker.uri)}; "
        f"{config.search.metric} ({config.search.direction}), {config.search.n_trials} trials"
        + (f", {workers} workers" if workers > 1 else "")
    )
    if trials:
        report(f"joining study {name!r}: {budget_used(trials)}/{config.search.n_trials} started")
    if queued:
        report(f"warm start: {queued} param sets queued to run first")
    args = WorkerArgs(
        config=config.model_dump(mode="json"),
        storage=url,
        study=name,
        parent_id=parent_id,
        session=uuid.uuid4().hex,
        checkpoints=str(Path(CHECKPOINTS).resolve()),
        deadline=None if config.search.timeout is None else time.time() + config.search.timeout,
        coordinator_pid=os.getpid() if workers > 1 else None,
    )
    started = time.perf_counter()
    status, unusable = "FAILED", ""
    try:
        if workers == 1:
            work(args, report, stores=(tracker, study))
        else:
            run_children(
                args,
                workers,
                lambda: _tidy(study, tracker, config, lock, report),
                spawned or [],
                gpus or [],
            )
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except UnavailableError:
        status = unusable = "KILLED"  # a store or the disk failed: the rerun resumes the sweep
        raise
    finally:
        # With a store or the disk gone, this bookkeeping may fail too; the rerun redoes it,
        # and the error that says what to fix must not be replaced by a later one.
        with contextlib.suppress(Exception) if unusable else contextlib.nullcontext():
            with lock():
                requeued = _tidy(study, tracker, config, lock, report)
            if status == "KILLED" and requeued:
                report(f"interrupted trials {requeued} will resume from their checkpoints on rerun")
            close_parent(tracker, parent_id, study, lock, status=status, report=report)
        _remove_if_empty(Path(args.checkpoints) / name, Path(args.checkpoints))
    summary = _summary(
        study, url, tracker, parent_id, time.perf_counter() - started, datamodule.spec.baselines
    )
    summary.all_failed = _all_failed(study, args.session)
    summary.model = _publish(tracker, parent_id, study, config, lock, report)
    return summary


def _publish(
    tracker: Tracker,
    parent_id: str,
    study: optuna.Study,
    config: Config,
    lock: StudyLock,
    report: Echo,
) -> LoggedBest | None:
    """The best trial's model, logged once the sweep is done (sweeps/runner/registry.py)."""
    with lock():  # two coordinators ending together log it once
        return publish(tracker.client, parent_id, study, config.tracking, report)


def _remove_if_empty(*folders: Path) -> None:
    """Remove each folder that holds nothing: a sweep whose trials all ended leaves none behind.
    A folder that still holds an interrupted trial's state, or another sweep's, stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, not there, or not ours to remove
            return


def _tidy(
    study: optuna.Study, tracker: Tracker, config: Config, lock: StudyLock, report: Echo
) -> list[int]:
    """Reap trials no live process owns, and queue interrupted ones again; returns those."""
    with lock():
        reap(study, config.search.heartbeat, tracker.close_reaped, report)
        return requeue_interrupted(study)


def _active(study: optuna.Study) -> bool:
    states = (TrialState.RUNNING, TrialState.WAITING)
    return bool(study.get_trials(deepcopy=False, states=states))


def _all_failed(study: optuna.Study, session: str) -> bool:
    """Every trial this invocation finished failed (and it finished at least one)."""
    mine = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get(SESSION_ATTR) == session and t.state.is_finished()
    ]
    return bool(mine) and all(t.state == TrialState.FAIL for t in mine)


def _fit_to_grid(config: Config, report: Echo) -> Config:
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
        stopped=recorded(study),
        best_number=best.number if best else None,
    )
