"""Many processes on one study: real `sweep run` processes, real signals, real servers.

Each test checks what a user relies on: exactly n_trials finished with unique numbers, one
parent run with every trial's run under it, and nothing left RUNNING in Optuna or MLflow.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import free_port, tiny_raw, write_config
from mlflow import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import PARENT_ATTR, PID_ATTR, RESUMED_ATTR, RETRY_OF, RUN_ATTR, SESSION_ATTR
from sweeps.search.study import counted
from sweeps.stores.storage import DEFAULT_STORAGE, open_storage
from sweeps.track.tracking import curve_name

pytestmark = pytest.mark.slow

# Tiny data: long enough to stop a trial mid-way; a checkpoint after every epoch, so the
# epoch a kill comes at says what the retry resumes from.
SLOW_TRIALS = {"max_epochs": 40, "write_every_s": 0}


def _config(folder: Path, n_trials: int, **trainer: Any) -> Path:
    raw = tiny_raw()
    raw["trainer"] = {"max_epochs": 2, **trainer}
    raw["search"]["n_trials"] = n_trials
    raw["search"]["heartbeat"] = 1.0
    return write_config(folder, raw)


def _start(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        ["sweep", "run", *args],
        cwd=folder,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(proc: subprocess.Popen[str], code: int = 0, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == code, out
    return out


def _study(storage: str, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def _wait_for(storage: str, ready: Any, what: str, timeout: float = 300) -> FrozenTrial:
    """Poll the study until a trial satisfies `ready`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            trials = _study(storage).get_trials(deepcopy=False)
        except (KeyError, ValueError):
            continue
        for trial in trials:
            if ready(trial):
                return trial
        time.sleep(0.5)
    raise AssertionError(f"no trial {what} within {timeout}s")


def _training(trial: FrozenTrial, epochs: int = 2) -> bool:
    return trial.state == TrialState.RUNNING and len(trial.intermediate_values) >= epochs


def _check_sweep(storage: str, uri: str, n_trials: int, name: str = "tiny") -> optuna.Study:
    """Exactly n_trials count, numbers unique, one parent, every child under it, none RUNNING."""
    study = _study(storage, name)
    trials = study.get_trials(deepcopy=False)
    assert counted(trials) == n_trials, [(t.number, t.state) for t in trials]
    assert len({t.number for t in trials}) == len(trials)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.run_id for p in parents] == [study.user_attrs[PARENT_ATTR]]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    tracked = {t.user_attrs.get(RUN_ATTR) for t in trials} - {None}
    assert tracked == {c.info.run_id for c in children}
    return study


def test_two_sweep_runs_started_together_share_the_default_stores(workdir: Path) -> None:
    (workdir / "mlflow.db").unlink()  # a brand-new store: the two race to create it
    path = _config(workdir, n_trials=6)
    first = _start(workdir, str(path), "--workers", "2")
    second = _start(workdir, str(path))
    outputs = [_finish(first), _finish(second)]
    study = _check_sweep(DEFAULT_STORAGE, f"sqlite:///{workdir / 'mlflow.db'}", 6)
    # Both joined the one study and the one parent run (which of them ran more trials depends
    # on who started faster), and neither hit a race.
    parent = study.user_attrs[PARENT_ATTR]
    assert all(f"parent run {parent}" in out for out in outputs), outputs
    assert all("Traceback" not in out for out in outputs), outputs


def test_kill_9_of_a_worker_is_reaped_and_the_trial_resumes_from_its_checkpoint(
    workdir: Path,
) -> None:
    path = _config(workdir, n_trials=3, **SLOW_TRIALS)
    proc = _start(workdir, str(path), "--workers", "2")
    # A trial reports an epoch's value before it writes that epoch's checkpoint, so with 4
    # values seen, the checkpoint holds at least 3 epochs (with 3 seen, a kill may come first).
    victim = _wait_for(DEFAULT_STORAGE, lambda t: _training(t, 4), "training for 4 epochs")
    os.kill(int(victim.user_attrs[PID_ATTR]), signal.SIGKILL)
    out = _finish(proc)
    assert f"trial {victim.number:3d} REAPED" in out, out
    study = _check_sweep(DEFAULT_STORAGE, f"sqlite:///{workdir / 'mlflow.db'}", 3)
    dead = study.trials[victim.number]
    assert dead.state == TrialState.FAIL
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_OF) == victim.number]
    assert retry.state == TrialState.COMPLETE and retry.params == dead.params
    assert retry.user_attrs[RESUMED_ATTR] >= 3, out  # not from scratch
    # The retry continues the dead trial's MLflow run: one curve, every epoch, to the end.
    assert retry.user_attrs[RUN_ATTR] == dead.user_attrs[RUN_ATTR]
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    curve = client.get_metric_history(retry.user_attrs[RUN_ATTR], curve_name("val_loss"))
    steps = {m.step for m in curve}
    assert steps == set(range(40)), (sorted(steps), out)


def test_ctrl_c_stops_every_worker_and_the_rerun_resumes_from_checkpoints(
    workdir: Path,
) -> None:
    path = _config(workdir, n_trials=3, **SLOW_TRIALS)
    proc = _start(workdir, str(path), "--workers", "2")
    _wait_for(DEFAULT_STORAGE, lambda t: _training(t, 3), "training for 3 epochs")
    proc.send_signal(signal.SIGINT)
    out = _finish(proc, code=130)
    assert "run the same command to resume" in out
    study = _study(DEFAULT_STORAGE)
    assert not study.get_trials(states=(TrialState.RUNNING,)), out
    stopped = study.get_trials(states=(TrialState.FAIL,))
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert stopped and sorted(t.user_attrs[RETRY_OF] for t in waiting) == [
        t.number for t in stopped
    ]
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs if r.info.status == "RUNNING"] == [], out
    _finish(_start(workdir, str(path)))
    study = _check_sweep(DEFAULT_STORAGE, f"sqlite:///{workdir / 'mlflow.db'}", 3)
    retries = [t for t in study.trials if t.user_attrs.get(RETRY_OF) is not None]
    assert any(t.user_attrs.get(RESUMED_ATTR, 0) >= 3 for t in retries)


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Any:
    """A real `mlflow server` on 127.0.0.1 and a free port, stopped after the test."""
    port = free_port()
    folder = tmp_path / "server"
    folder.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert server.poll() is None, (folder / "server.log").read_text()
            time.sleep(1)
    try:
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def test_many_machines_share_postgres_and_an_mlflow_server(
    workdir: Path, pg_url: str, mlflow_server: str
) -> None:
    path = _config(workdir, n_trials=5)
    args = [str(path), "--storage", pg_url, "--tracking-uri", mlflow_server]
    # Three "machines": separate folders, so nothing is shared but the two servers.
    folders = [workdir / f"machine-{i}" for i in range(3)]
    procs = []
    for i, folder in enumerate(folders):
        folder.mkdir()
        procs.append(_start(folder, *args, *(["--workers", "2"] if i == 0 else [])))
    outputs = [_finish(proc) for proc in procs]
    study = _check_sweep(pg_url, mlflow_server, 5)
    assert len({t.user_attrs[SESSION_ATTR] for t in study.trials}) >= 2, outputs
