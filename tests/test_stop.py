"""search.stop: the rule, the lock it is decided under, and whole sweeps that end early.

"Exactly the trials needed", checked by `_check_exact`: trial creations and finishes happen one
at a time under the study's lock, so their times form one history. Replayed in time order, no
trial was created after a finish that made the rule fire; the rule fired; and every trial
created before it, running or not, finished normally (none left RUNNING, none failed).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import tiny_raw, write_config
from optuna.trial import FrozenTrial, TrialState, create_trial

from sweeps.config.schema import validate
from sweeps.config.search import SearchConfig, StopConfig
from sweeps.errors import ConfigError
from sweeps.keys import INTERRUPTED_ATTR, NOTE_TAG, PARENT_ATTR, STOP_ATTR
from sweeps.search.stopping import Stopper, reason_for, stop_reason
from sweeps.search.study import budget_used
from sweeps.stores.storage import BudgetSpent, guard, lock_for, open_storage
from sweeps.track.leaderboard import markdown

T0 = dt.datetime(2026, 1, 1)


def _done(number: int, value: float | None, state: TrialState = TrialState.COMPLETE) -> FrozenTrial:
    trial = create_trial(state=state, value=value if state == TrialState.COMPLETE else None)
    trial.number = number
    trial.datetime_complete = T0 + dt.timedelta(seconds=number)
    return trial


def _reason(values: list[float | None], minimize: bool = True, **stop: Any) -> str | None:
    trials = [
        _done(i, v, TrialState.COMPLETE if v is not None else TrialState.PRUNED)
        for i, v in enumerate(values)
    ]
    return stop_reason(trials, StopConfig(**stop), minimize=minimize, metric="val_loss")


def test_target_is_direction_aware() -> None:
    assert "trial 2 has val_loss = 0.009 <= 0.01" in str(_reason([0.5, 0.2, 0.009], target=0.01))
    assert _reason([0.5, 0.2, 0.011], target=0.01) is None
    assert _reason([0.5, 0.2], minimize=False, target=0.9) is None
    assert "trial 1 has val_loss = 0.95 >= 0.9" in str(
        _reason([0.5, 0.95], minimize=False, target=0.9)
    )
    assert "trial 0" in str(_reason([0.01], target=0.01))  # reaching it is enough


def test_patience_counts_finished_trials_since_the_best() -> None:
    # 0.3 is the best from trial 1; trials 2, 3 (pruned) and 4 bring nothing new.
    assert _reason([0.5, 0.3, 0.4, None, 0.3], patience=3) is not None
    assert _reason([0.5, 0.3, 0.4, None, 0.2], patience=3) is None  # trial 4 improves
    reason = _reason([0.5, 0.3, 0.4, None, 0.3], patience=3)
    assert "3 finished trials in a row without a new best" in str(reason)
    assert "best val_loss = 0.3 (trial 1)" in str(reason)
    assert "no trial completed" in str(_reason([None, None], patience=2))


def test_a_fired_rule_stays_fired_when_a_running_trial_improves_later() -> None:
    # Trial 4 was running when the stop fired after trial 3; its better value comes after.
    assert _reason([0.5, 0.6, 0.7, 0.8, 0.1], patience=3) is not None


def test_finish_order_not_trial_number_decides() -> None:
    trials = [_done(i, v) for i, v in enumerate([0.5, 0.6, 0.1, 0.7])]
    stop = StopConfig(patience=2)
    assert stop_reason(trials, stop, minimize=True, metric="m") is None  # trial 2 improves
    trials[2].datetime_complete = T0 + dt.timedelta(seconds=9)  # finished last: too late
    assert stop_reason(trials, stop, minimize=True, metric="m") is not None


def test_interrupted_trials_await_their_retry_and_do_not_count() -> None:
    trials = [_done(0, 0.5), *(_done(i, None, TrialState.FAIL) for i in (1, 2))]
    stop = StopConfig(patience=2)
    assert stop_reason(trials, stop, minimize=True, metric="m") is not None  # two failures
    for t in trials[1:]:
        t.set_user_attr(INTERRUPTED_ATTR, True)
    assert stop_reason(trials, stop, minimize=True, metric="m") is None


def test_no_rule_never_stops() -> None:
    assert _reason([0.5] * 100) is None


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        ({"patience": 0}, "search.stop.patience: Input should be greater than or equal to 1"),
        ({"target": "low"}, "search.stop.target: Input should be a valid number"),
        ({"target": float("nan")}, "search.stop.target: Input should be a finite number"),
        ({"after": 3}, "search.stop.after is not a known key"),
    ],
)
def test_bad_stop_fields_are_one_line_errors(stop: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate({"name": "x", "data": {"name": "adding"}, "search": {"stop": stop}})
    assert str(err.value).startswith(message), err.value


def test_a_stop_needs_one_objective() -> None:
    search = {"metric": ["val_loss", "val_acc"], "direction": ["minimize", "maximize"]}
    with pytest.raises(ConfigError, match=r"^search.stop.target needs one objective"):
        validate(
            {"name": "x", "data": {"name": "adding"}, "search": {**search, "stop": {"target": 1}}}
        )


N_TRIALS = 40
TARGET_AT = 9  # the trial value falls below the target from this trial number on


def _value(number: int) -> float:
    return 1.0 / (number + 1) if number < TARGET_AT else 0.001


def _stopped(url: str, stop: dict[str, Any]) -> optuna.Study:
    """A study whose storage is guarded as a worker's is: budget and stop, under one lock."""
    store = open_storage(url)
    search = SearchConfig(n_trials=N_TRIALS, stop=StopConfig(**stop))
    stopper = Stopper(store, "s", search)

    def may_start(trials: list[FrozenTrial]) -> bool:
        return budget_used(trials) < N_TRIALS and stopper.settle(trials) is None

    guard(store, lock_for(url, "s"), may_start, stopper.settle)
    return optuna.create_study(study_name="s", storage=store, load_if_exists=True)


def _eager(url: str, stop: dict[str, Any]) -> None:
    """A worker that asks for trials as fast as it can until the stop refuses one."""
    study = _stopped(url, stop)
    while True:
        try:
            trial = study.ask()
        except BudgetSpent:
            return
        study.tell(trial, _value(trial.number))


def _check_exact(trials: list[FrozenTrial], search: SearchConfig, workers: int) -> str:
    """The replay described at the top; returns the stop's reason."""
    events: list[tuple[dt.datetime, int, FrozenTrial]] = []
    for t in trials:
        assert t.datetime_start is not None and t.datetime_complete is not None, t
        events.append((t.datetime_start, 1, t))  # a creation
        events.append((t.datetime_complete, 0, t))  # a finish
    finished: list[FrozenTrial] = []
    needed = None  # finishes up to the one that made the rule fire
    for _, is_start, t in sorted(events, key=lambda e: (e[0], e[1])):
        if is_start:
            assert needed is None, f"trial {t.number} was created after the stop"
        else:
            finished.append(t)
            if needed is None and reason_for(finished, search) is not None:
                needed = len(finished)
    assert needed is not None, "the rule never fired"
    # The other workers had at most one trial each running when it fired; those finished.
    assert len(trials) <= needed + workers - 1, (len(trials), needed)
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return str(reason_for(trials, search))


@pytest.mark.parametrize("stop", [{"target": 0.01}, {"patience": 5}])
def test_racing_workers_create_exactly_the_trials_needed(
    tmp_path: Path, stop: dict[str, Any]
) -> None:
    url = f"journal:///{tmp_path / 'j'}"
    _stopped(url, stop)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_eager, args=(url, stop)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    study = optuna.load_study(study_name="s", storage=open_storage(url))
    search = SearchConfig(n_trials=N_TRIALS, stop=StopConfig(**stop))
    reason = _check_exact(study.trials, search, workers=3)
    assert study.user_attrs[STOP_ATTR] == reason
    assert TARGET_AT + 1 <= len(study.trials) < N_TRIALS  # trial 9 is the first that can stop it


def test_the_reason_is_cleared_when_search_stop_no_longer_fires(tmp_path: Path) -> None:
    url = f"journal:///{tmp_path / 'j'}"
    _eager(url, {"target": 0.01})
    stopped = _stopped(url, {"target": 0.01})
    with pytest.raises(BudgetSpent):
        stopped.ask()
    resumed = _stopped(url, {"target": 0.0001})  # a stricter target on resume: go on
    trial = resumed.ask()
    assert resumed.user_attrs[STOP_ATTR] is None
    resumed.tell(trial, 0.00001)
    assert "search.stop.target reached" in resumed.user_attrs[STOP_ATTR]


def test_the_leaderboard_says_why_the_sweep_stopped() -> None:
    study = optuna.create_study(study_name="s")
    study.add_trial(create_trial(value=0.5, params={}, distributions={}))
    assert "Stopped early" not in markdown(study, "val_loss", "1")
    study.set_user_attr(STOP_ATTR, "search.stop.target reached: trial 0 has val_loss = 0.5 <= 1")
    text = markdown(study, "val_loss", "1")
    assert "**Stopped early**: search.stop.target reached: trial 0" in text.split("###")[0]


# Whole sweeps: two worker processes, real training on tiny data. (Heavy imports inside the
# tests: the racing workers above import this module.)


def _sweep(folder: Path, stop: dict[str, Any], space: dict[str, Any] | None = None) -> Path:
    raw = tiny_raw()
    raw["trainer"] = {"max_epochs": 2}
    raw["search"]["n_trials"] = 12
    raw["search"]["stop"] = stop
    if space is not None:
        raw["search"]["space"] = space
    return write_config(folder, raw)


def _run(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["sweep", "run", str(path), *args], cwd=path.parent, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _finished_study(folder: Path, stop: dict[str, Any]) -> tuple[optuna.Study, str]:
    study = optuna.load_study(study_name="tiny", storage=open_storage(
        f"journal:///{folder / 'optuna.journal'}"))  # fmt: skip
    search = SearchConfig(n_trials=12, stop=StopConfig(**stop))
    return study, _check_exact(study.trials, search, workers=2)


@pytest.mark.slow
def test_a_target_ends_a_two_worker_sweep_with_the_trials_needed(workdir: Path) -> None:
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from sweeps.cli.app import app

    stop = {"target": 10.0}  # any finished trial reaches it: the first finish decides
    path = _sweep(workdir, stop)
    out = _run(path, "--workers", "2")
    study, reason = _finished_study(workdir, stop)
    assert f"stopped early: {reason}" in out, out
    assert 1 <= len(study.trials) <= 2, out  # the first, and the one the other worker ran
    # The leaderboard, `sweep status`, and a rerun all say why.
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    note = client.get_run(study.user_attrs[PARENT_ATTR]).data.tags[NOTE_TAG]
    assert f"**Stopped early**: {reason}" in note
    status = CliRunner().invoke(app, ["status", str(path)])
    assert status.exit_code == 0 and f"stopped early: {reason}" in status.output, status.output
    again = CliRunner().invoke(app, ["run", str(path)])
    assert again.exit_code == 0, again.output
    assert f"has stopped: {reason}; nothing to do" in again.output
    assert len(study.trials) == len(_finished_study(workdir, stop)[0].trials), "the rerun ran"


@pytest.mark.slow
def test_patience_ends_a_two_worker_sweep_with_the_trials_needed(workdir: Path) -> None:
    # One point in the space and one seed: every trial trains the same network to the same
    # value, so none improves on the first and the third finish after it stops the sweep.
    stop = {"patience": 3}
    path = _sweep(
        workdir, stop, space={"model.hidden_size": {"type": "categorical", "choices": [8]}}
    )
    out = _run(path, "--workers", "2")
    study, reason = _finished_study(workdir, stop)
    assert f"stopped early: {reason}" in out, out
    assert "3 finished trials in a row without a new best" in reason
    assert 4 <= len(study.trials) <= 5, out  # 4 needed, and one the other worker was running
