"""Commands that only read import neither torch nor Lightning (timed by a benchmark)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, tiny_raw

HEAVY = ("torch", "pytorch_lightning", "lightning")
TRACKING = ("mlflow",)  # what reading a study needs only to close a dead trial's run


def _imports_after(args: list[str], cwd: Path, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = "\n".join(
        [
            "import json, sys",
            "from sweeps.cli.app import app",
            "try:",
            f"    app({args!r})",
            "except SystemExit as stop:",
            "    assert not stop.code, stop.code",
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def storage(tmp_path: Path) -> str:
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="quickstart", storage=url)
    trial = study.ask()
    trial.suggest_categorical("model.cell", ["rnn", "lstm"])
    trial.set_user_attr("config", tiny_raw())
    study.tell(trial, 0.5)
    return url


@pytest.mark.parametrize("command", ["status", "best"])
def test_reading_a_study_imports_no_torch(command: str, storage: str, tmp_path: Path) -> None:
    args = [command, str(CONFIGS / "quickstart.yaml"), "--storage", storage]
    assert _imports_after(args, tmp_path, HEAVY + TRACKING) == []


@pytest.mark.parametrize(
    "args",
    [["validate", str(CONFIGS / "quickstart.yaml")], ["data", "list"]],
    ids=["validate", "data-list"],
)
def test_checking_a_config_imports_no_torch(args: list[str], tmp_path: Path) -> None:
    # validate reads the dataset catalog, not the data: no torch, and no MLflow either
    assert _imports_after(args, tmp_path, HEAVY + TRACKING) == []


def test_showing_a_dataset_imports_torch_but_not_lightning(tmp_path: Path) -> None:
    # The data is built (with torch) to be described; Lightning's slow import would buy nothing.
    args = ["data", "show", "adding", "--seq-len", "20"]
    assert _imports_after(args, tmp_path, HEAVY + TRACKING) == ["torch"]


def test_status_closes_the_run_of_a_trial_whose_process_died(workdir: Path) -> None:
    # MLflow is imported only for such a trial; this proves the lazy import still closes it.
    import optuna
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from sweeps.cli.app import app
    from sweeps.keys import HOST_ATTR, PID_ATTR, RUN_ATTR

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its PID now names no process
    client = MlflowClient("sqlite:///mlflow.db")
    run = client.create_run(client.create_experiment("quickstart"))
    url = f"sqlite:///{workdir / 'optuna.db'}"
    trial = optuna.create_study(study_name="quickstart", storage=url).ask()
    trial.set_user_attr(HOST_ATTR, socket.gethostname())
    trial.set_user_attr(PID_ATTR, dead.pid)
    trial.set_user_attr(RUN_ATTR, run.info.run_id)
    args = ["status", str(CONFIGS / "quickstart.yaml"), "--storage", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert client.get_run(run.info.run_id).info.status == "KILLED", result.output
