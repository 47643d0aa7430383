"""A worker: the trial loop of a sweep, in the `sweep run` process or in a child process.

A worker gets its orders as plain data (`WorkerArgs`, JSON on stdin for a child), opens the
study and the MLflow experiment the coordinator made, and runs trials until the study's
budget is spent, the sweep's deadline passes or a signal asks it to stop. It lives across
trials: importing the stack costs seconds, a trial on a small model less.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from sweeps.config.loader import with_values
from sweeps.config.schema import Config
from sweeps.errors import ConfigError, UnavailableError, disk_full
from sweeps.keys import (
    CHAIN_ATTR,
    CONFIG_ATTR,
    GPU_ATTR,
    INTERRUPTED_ATTR,
    RESUME_RUN_ATTR,
    RESUMED_ATTR,
)
from sweeps.output import Echo, quiet_failed_trials
from sweeps.runner.placement import VISIBLE_ENV
from sweeps.runner.reaper import (
    beating,
    claim,
)
from sweeps.search.objectives import objective_values
from sweeps.search.space import suggest
from sweeps.search.stopping import Stopper
from sweeps.search.study import MAX_FAILURES_IN_A_ROW, budget_used, open_study
from sweeps.signals import STOP
from sweeps.stores.reconnect import reconnecting
from sweeps.stores.storage import BudgetSpent, guard, lock_for, open_storage
from sweeps.track.leaderboard import Leaderboard
from sweeps.track.tracking import Tracker, TrialRun
from sweeps.train.callbacks import MissingMetricError
from sweeps.train.trial import TrainResult, train

# Exit codes of a worker process, read by the coordinator.
DONE, BAD_CONFIG, FAILING, UNAVAILABLE, STOPPED = 0, 2, 3, 4, 130


@dataclass(frozen=True)
class WorkerArgs:
    """Everything a worker needs, as JSON-ready values: it may run on another machine."""

    config: dict[str, object]
    storage: str
    study: str
    parent_id: str
    session: str  # the `sweep run` invocation, recorded on each trial
    checkpoints: str  # folder of per-trial checkpoints, for resuming retried trials
    deadline: float | None = None  # unix time after which no trial starts (search.timeout)
    coordinator_pid: int | None = None  # stop after the current trial if it is gone

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerArgs:
        return cls(**json.loads(text))


def open_budgeted(config: Config, storage: str, name: str) -> optuna.Study:
    """The study, whose storage refuses a fresh trial once search.n_trials slots are taken or
    search.stop has fired; every finish settles the stop, under the same lock."""
    store = open_storage(storage)
    n_trials = config.search.n_trials
    stopper = Stopper(store, name, config.search)

    def may_start(trials: list[FrozenTrial]) -> bool:
        return budget_used(trials) < n_trials and stopper.settle(trials) is None

    guard(store, lock_for(storage, name), may_start, stopper.settle)
    reconnecting(store, storage, config.reconnect)  # outermost: the lock is retried too
    return open_study(config, storage, name, store)


def objective_for(
    config: Config, tracker: Tracker, args: WorkerArgs, report: Echo
) -> Callable[[optuna.Trial], float | list[float]]:
    """The Optuna objective: claim, sample, build the trial's config, train, record in MLflow."""

    def objective(trial: optuna.Trial) -> float | list[float]:
        claim(trial, args.session)
        gpu = os.environ.get(VISIBLE_ENV)
        if gpu is not None and config.trainer.accelerator != "cpu":  # for `sweep status`
            trial.set_user_attr(GPU_ATTR, gpu)
        values = suggest(trial, config.search.space, config)
        trial_config = with_values(config, values)
        trial.set_user_attr(CONFIG_ATTR, trial_config.public())  # passwords masked
        resume_run = trial.user_attrs.get(RESUME_RUN_ATTR)
        run = tracker.start_trial(args.parent_id, trial, values, trial_config, resume_run)
        chain = trial.user_attrs.get(CHAIN_ATTR, trial.number)
        folder = Path(args.checkpoints) / args.study / f"trial-{chain}"
        started = time.perf_counter()
        try:
            with beating(trial, config.search.heartbeat):
                result = train(trial_config, folder, trial=trial, run=run, resume=True)
            trial.set_user_attr(RESUMED_ATTR, result.resumed_from)
            _record_complete(run, result, config.search.metric)
        except optuna.TrialPruned as err:
            _close(run, report, state="PRUNED", status="FINISHED", reason=str(err))
            shutil.rmtree(folder, ignore_errors=True)
            report(f"trial {trial.number:3d} PRUNED    {err}  {_short(values)}")
            raise
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)  # kept: the retry resumes from it
            _close(run, report, state="FAIL", status="KILLED", reason="interrupted by a signal")
            raise
        except Exception as err:
            full = disk_full(err)
            if full is not None:  # not the trial's fault: it runs again on the rerun
                _out_of_space(trial, run, report, folder)
                raise full from None
            _close(
                run, report, state="FAIL", status="FAILED", reason=f"{type(err).__name__}: {err}"
            )
            shutil.rmtree(folder, ignore_errors=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)
        seconds = time.perf_counter() - started
        resumed = f", resumed from epoch {result.resumed_from}" if result.resumed_from else ""
        report(
            f"trial {trial.number:3d} COMPLETE  {config.search.metric}={result.best_value:.6g} "
            f"(epoch {result.best_epoch}, {seconds:.1f}s{resumed})  {_short(values)}"
        )
        return objective_values(config, result.summary(config.search.metric))

    return objective


def _out_of_space(trial: optuna.Trial, run: TrialRun, report: Echo, folder: Path) -> None:
    """A trial cut short by a full disk: queued to run again from the start. Its checkpoints go
    first, so that the few bytes that record it as interrupted find room."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        trial.set_user_attr(INTERRUPTED_ATTR, True)
    except Exception:  # noqa: BLE001 - still no room: the rerun's reaper retries it instead
        return
    _close(run, report, state="FAIL", status="KILLED", reason="the disk is full")


def _close(run: TrialRun, report: Echo, *, state: str, status: str, reason: str) -> None:
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


def work(
    args: WorkerArgs, report: Echo = print, stores: tuple[Tracker, optuna.Study] | None = None
) -> int:
    """Run trials until the budget is spent, the deadline passes or a stop; returns why.

    `stores`: the MLflow tracker and budgeted study already open in this process (the
    coordinator's, when it runs the one worker itself); opening them again would repeat the
    stores' schema checks.
    """
    config = Config.model_validate(args.config)
    if stores is None:
        stores = (
            Tracker(config.tracking.uri, config.name, reconnect_s=config.reconnect),
            open_budgeted(config, args.storage, args.study),
        )
    tracker, study = stores
    objective = objective_for(config, tracker, args, report)
    board = Leaderboard(tracker.client, tracker.experiment_id, args.parent_id, config.search.metric)
    failures = 0
    while True:
        STOP.check()  # between trials: a Ctrl-C during the last one's bookkeeping ends here
        if args.deadline is not None and time.time() >= args.deadline:
            report(f"search.timeout of {config.search.timeout}s reached")
            return DONE
        if args.coordinator_pid is not None and os.getppid() != args.coordinator_pid:
            report("the coordinator is gone; this worker stops")
            return DONE
        try:
            study.optimize(objective, n_trials=1, callbacks=[board])
            failures = 0
        except BudgetSpent:
            return DONE
        except (ConfigError, MissingMetricError):
            raise  # the config is wrong for every trial, or a store or the disk is unusable
        except Exception as err:  # noqa: BLE001 - one trial's crash must not end the sweep
            full = disk_full(err)
            if full is not None:
                raise full from None
            failures += 1
            report(f"trial FAILED  {type(err).__name__}: {err}")
            if failures >= MAX_FAILURES_IN_A_ROW:
                report(f"{failures} trials in a row failed; this worker stops")
                return FAILING


def main() -> None:
    """A child worker: WorkerArgs as JSON on stdin; the exit code says how it ended.

    Started before the coordinator knows the orders, it waits for them here; no orders (the
    coordinator stopped first) means nothing to do.
    """
    orders = sys.stdin.read()
    if not orders.strip():
        sys.exit(DONE)
    args = WorkerArgs.from_json(orders)
    quiet_failed_trials()  # as the CLI does: the worker's own line reports a failed trial

    def report(line: str) -> None:
        print(line, flush=True)

    with STOP.installed():
        try:
            code = work(args, report)
        except KeyboardInterrupt:
            code = STOPPED
        except UnavailableError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            code = UNAVAILABLE
        except (ConfigError, MissingMetricError) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            code = BAD_CONFIG
    sys.exit(code)


if __name__ == "__main__":
    main()
