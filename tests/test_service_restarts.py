"""A store that restarts mid-trial: the trial waits, reconnects and finishes, and is not retried.

Each test runs a one-trial sweep as a real `sweep run` process against a private server
(benchmarks/services.py), breaks the server while the trial trains, and brings it back.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import tiny_raw, write_config

from benchmarks.services import MlflowServer, PrivatePostgres
from sweeps.keys import RETRY_OF, RUN_ATTR
from sweeps.stores.storage import open_storage

pytestmark = pytest.mark.slow

EPOCHS = 40  # with 4096 sequences an epoch: a window of many epochs for the poll below


def _raw(**sections: Any) -> dict[str, Any]:
    # Every epoch written as it ends (no write clock): the fault lands between two epoch writes.
    raw = tiny_raw(trainer={"max_epochs": EPOCHS, "write_every_s": 0}, **sections)
    raw["data"]["n_train"] = 4096
    raw["search"].update(n_trials=1, space={})
    raw["reconnect"] = 300  # a restarting server on a busy machine takes its time
    return raw


def _start(config: Path, cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sweep", "run", str(config), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _mid_trial(trials: list[optuna.trial.FrozenTrial]) -> bool:
    """The one trial has trained an epoch and has a few left: a fault now lands mid-trial."""
    return any(0 < len(t.intermediate_values) <= EPOCHS - 3 for t in trials)


def _wait_for(check: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before {what}:\n{process.stdout.read()}")  # type: ignore[union-attr]
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a store still starting up
            pass
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


def _one_trial_complete(study: optuna.Study) -> optuna.trial.FrozenTrial:
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 1, [(t.number, t.state) for t in trials]
    (trial,) = trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert RETRY_OF not in trial.user_attrs
    assert sorted(trial.intermediate_values) == list(range(EPOCHS))
    return trial


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_trial_rides_out_a_postgresql_restart(
    workdir: Path, postgres: PrivatePostgres, mode: str
) -> None:
    config = write_config(workdir, _raw())
    sweep = _start(config, workdir, "--storage", postgres.url)

    def training() -> bool:
        study = optuna.load_study(study_name="tiny", storage=postgres.url)
        return _mid_trial(study.get_trials(deepcopy=False))

    _wait_for(training, sweep, "the trial's first epoch")
    postgres.stop(mode)
    time.sleep(3)
    postgres.start()
    output, _ = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, output
    _one_trial_complete(optuna.load_study(study_name="tiny", storage=postgres.url))


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path / "mlflow-server")
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_a_trial_rides_out_an_mlflow_server_restart(
    workdir: Path, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    config = write_config(workdir, _raw(tracking={"uri": mlflow_server.url}))
    sweep = _start(config, workdir)
    storage = open_storage(f"journal:///{workdir / 'optuna.journal'}")
    client = MlflowClient(mlflow_server.url)

    def logging_epochs() -> bool:
        study = optuna.load_study(study_name="tiny", storage=storage)
        trials = study.get_trials(deepcopy=False)
        run_id = trials[0].user_attrs[RUN_ATTR]
        return _mid_trial(trials) and bool(client.get_metric_history(run_id, "val_loss_curve"))

    _wait_for(logging_epochs, sweep, "the trial's first epoch in MLflow")
    mlflow_server.kill()
    time.sleep(3)
    mlflow_server.start()
    output, _ = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, output
    trial = _one_trial_complete(optuna.load_study(study_name="tiny", storage=storage))
    run = client.get_run(trial.user_attrs[RUN_ATTR])
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss_curve")]
    assert sorted(steps) == list(range(EPOCHS)), steps  # none lost, none twice
