"""The global budget and the reaper, on real stores and real processes, without training."""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeps.keys import BEAT_ATTR, HOST_ATTR, INTERRUPTED_ATTR, PID_ATTR, RETRY_OF
from sweeps.runner.reaper import alive, owner_gone, reap, requeue_interrupted
from sweeps.search.study import budget_used, counted
from sweeps.stores.storage import BudgetSpent, guard, lock_for, open_storage

N_TRIALS = 7


def _budgeted(url: str) -> optuna.Study:
    store = open_storage(url)
    guard(store, lock_for(url, "s"), lambda trials: budget_used(trials) < N_TRIALS)
    return optuna.create_study(study_name="s", storage=store, load_if_exists=True)


def _eager(url: str) -> None:
    """A worker that asks for trials as fast as it can until the budget refuses one."""
    study = _budgeted(url)
    while True:
        try:
            trial = study.ask()
        except BudgetSpent:
            return
        study.tell(trial, float(trial.number))


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_racing_processes_never_overshoot_the_budget(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    # Not SQLite: its writers from several processes deadlock (benchmarks/storage.py).
    url = (
        request.getfixturevalue("pg_url")
        if kind == "postgresql"
        else f"journal:///{tmp_path / 'j'}"
    )
    _budgeted(url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_eager, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    trials = optuna.load_study(study_name="s", storage=open_storage(url)).trials
    assert len(trials) == N_TRIALS
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))  # unique numbers
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_a_queued_retry_runs_even_when_the_budget_is_spent(tmp_path: Path) -> None:
    study = _budgeted(f"journal:///{tmp_path / 'optuna.journal'}")
    for _ in range(N_TRIALS):
        trial = study.ask()
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(trial, state=TrialState.FAIL)
    with pytest.raises(BudgetSpent):  # interrupted trials keep their slots until retried
        study.ask()
    assert requeue_interrupted(study) == list(range(N_TRIALS))
    assert requeue_interrupted(study) == []  # once only
    retry = study.ask()
    assert retry.user_attrs[RETRY_OF] == 0
    study.tell(retry, 1.0)
    trials = study.trials
    assert budget_used(trials) == N_TRIALS and counted(trials) == 1


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _running(study: optuna.Study, **attrs: object) -> optuna.Trial:
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return trial


def test_reap_fails_and_retries_only_trials_no_live_process_owns(tmp_path: Path) -> None:
    study = _budgeted(f"journal:///{tmp_path / 'optuna.journal'}")
    here, now = socket.gethostname(), time.time()
    dead = _running(study, **{HOST_ATTR: here, PID_ATTR: _dead_pid(), BEAT_ATTR: now})
    mine = _running(study, **{HOST_ATTR: here, PID_ATTR: os.getpid(), BEAT_ATTR: now})
    silent = _running(study, **{HOST_ATTR: "elsewhere", PID_ATTR: 1, BEAT_ATTR: now - 100})
    beating = _running(study, **{HOST_ATTR: "elsewhere", PID_ATTR: 1, BEAT_ATTR: now})
    closed: list[tuple[int, str]] = []
    lines: list[str] = []
    reaped = reap(study, 10.0, lambda t, why: closed.append((t.number, why)), lines.append)
    assert reaped == [dead.number, silent.number]
    assert [n for n, _ in closed] == reaped
    assert "on this host is gone" in closed[0][1] and "no heartbeat for 100s" in closed[1][1]
    states = {t.number: t.state for t in study.trials}
    assert states[mine.number] == states[beating.number] == TrialState.RUNNING
    retries = study.get_trials(states=(TrialState.WAITING,))
    assert sorted(t.user_attrs[RETRY_OF] for t in retries) == reaped
    assert retries[0].system_attrs["fixed_params"] == study.trials[dead.number].params
    # A second reaper finds nothing: failing is compare-and-set.
    assert reap(study, 10.0, lambda t, why: None, lines.append) == []


def test_a_reaped_retry_is_not_retried_again(tmp_path: Path) -> None:
    study = _budgeted(f"journal:///{tmp_path / 'optuna.journal'}")
    first = _running(study, **{HOST_ATTR: socket.gethostname(), PID_ATTR: _dead_pid()})
    reap(study, 10.0, lambda t, why: None, lambda line: None)
    retry = study.ask()
    assert retry.user_attrs[RETRY_OF] == first.number
    retry.set_user_attr(HOST_ATTR, socket.gethostname())
    retry.set_user_attr(PID_ATTR, _dead_pid())
    lines: list[str] = []
    reap(study, 10.0, lambda t, why: None, lines.append)
    assert not study.get_trials(states=(TrialState.WAITING,)) and "retried" not in lines[0]


def test_alive_tells_a_reused_pid_apart() -> None:
    assert alive(os.getpid(), None)
    assert not alive(_dead_pid(), None)
    assert not alive(os.getpid(), "0")  # same PID, another start time: a different process
    start = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
    assert alive(os.getpid(), start)


def test_a_trial_caught_mid_claim_on_this_host_is_judged_by_its_beats() -> None:
    # Another `sweep run` on this host reaped between the claim's writes: host seen, pid not yet.
    here, now = socket.gethostname(), time.time()
    claiming = optuna.trial.create_trial(
        state=TrialState.RUNNING, user_attrs={HOST_ATTR: here, BEAT_ATTR: now}
    )
    assert owner_gone(claiming, 10.0, now) is None
    stale = optuna.trial.create_trial(
        state=TrialState.RUNNING, user_attrs={HOST_ATTR: here, BEAT_ATTR: now - 100}
    )
    assert "no heartbeat for 100s" in str(owner_gone(stale, 10.0, now))
