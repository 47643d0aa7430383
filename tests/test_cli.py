"""The `sweep` command, in process with CliRunner, and once as the installed program."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, tiny_raw, write_config
from typer.testing import CliRunner

from sweeps.cli.app import app

runner = CliRunner()


def test_help_answers_without_heavy_imports() -> None:
    code = (
        "import sys; from sweeps.cli.app import app; "
        "names = ('torch', 'pytorch_lightning', 'mlflow', 'optuna'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_help_lists_subcommands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("run", "validate", "train", "status", "best", "ui", "data"):
        assert command in result.output


def test_validate_prints_the_space() -> None:
    result = runner.invoke(app, ["validate", str(CONFIGS / "quickstart.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "optimizer.lr" in result.output


def test_validate_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    raw = tiny_raw(model={"cell": "lstm", "hiden_size": 8})
    result = runner.invoke(app, ["validate", str(write_config(tmp_path, raw))])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "model.hiden_size" in lines[0], result.output


def test_validate_with_set_override_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, tiny_raw())
    result = runner.invoke(app, ["validate", str(path), "--set", "search.metric=val_acc"])
    assert result.exit_code == 2, result.output
    assert "search.metric 'val_acc' is not logged" in result.output


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.output


def test_data_list_and_show() -> None:
    listed = runner.invoke(app, ["data", "list"])
    assert listed.exit_code == 0, listed.output
    assert "adding" in listed.output and "ucr" in listed.output
    shown = runner.invoke(app, ["data", "show", "digits", "--set", "mode=pixels"])
    assert shown.exit_code == 0, shown.output
    assert "seq_len: 64" in shown.output and "baselines" in shown.output
    bad = runner.invoke(app, ["data", "show", "nope"])
    assert bad.exit_code == 2 and "data.name 'nope' is unknown" in bad.output


@pytest.mark.slow
def test_run_status_best_and_train(workdir: Path) -> None:
    path = write_config(workdir, tiny_raw())
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    args = ["--storage", storage, "--tracking-uri", uri]
    result = runner.invoke(app, ["run", str(path), *args])
    assert result.exit_code == 0, result.output
    assert "complete 3" in result.output and "best val_loss" in result.output
    assert "(baseline 0.166667)" in result.output
    again = runner.invoke(app, ["run", str(path), *args])
    assert again.exit_code == 0 and "nothing to do" in again.output, again.output
    status = runner.invoke(app, ["status", "--study", "tiny", "--storage", storage])
    assert status.exit_code == 0 and "complete  3" in status.output, status.output
    assert "by model.cell:" in status.output and "at baseline 0.1667" in status.output
    best = runner.invoke(app, ["best", str(path), "--storage", storage, "--out", "best.yaml"])
    assert best.exit_code == 0, best.output
    trained = runner.invoke(app, ["train", "best.yaml", "--tracking-uri", uri])
    assert trained.exit_code == 0, trained.output
    assert "test_loss" in trained.output
    import optuna

    best_trial = optuna.load_study(study_name="tiny", storage=storage).best_trial
    again = runner.invoke(
        app, ["reproduce", best_trial.user_attrs["mlflow_run_id"], "--tracking-uri", uri]
    )
    assert again.exit_code == 0, again.output
    reached = float(again.output.split("reached val_loss = ")[1].split()[0])
    redone = float(again.output.split("best val_loss = ")[1].split()[0])
    assert reached == pytest.approx(best_trial.value, rel=1e-5)
    assert redone == pytest.approx(reached, rel=1e-3)  # same seed, same data, same CPU kernels
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=50)
    kinds = sorted((r.data.tags.get("sweep.kind"), r.info.run_name) for r in runs)
    trained_name = next(name for kind, name in kinds if kind == "train")
    assert trained_name.startswith("train-")
    reproduced = f"reproduce-trial-{best_trial.number}-of-tiny"
    assert ("reproduce", reproduced) in kinds and ("sweep", "tiny") in kinds


def test_reproduce_unknown_run_is_exit_2(workdir: Path) -> None:
    result = runner.invoke(app, ["reproduce", "0" * 32, "--tracking-uri", "sqlite:///mlflow.db"])
    assert result.exit_code == 2, result.output
    assert "has no usable config.yaml" in result.output


def test_status_of_unknown_study_exits_2(workdir: Path) -> None:
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    result = runner.invoke(app, ["status", "--study", "ghost", "--storage", storage])
    assert result.exit_code == 2, result.output
    assert "no study 'ghost'" in result.output


def _long_sweep(folder: Path, command: list[str]) -> subprocess.Popen[str]:
    """Start `command run CONFIG` on a 2000-epoch sweep: long enough to stop mid-trial."""
    raw = tiny_raw()
    raw["trainer"] = {"max_epochs": 2000}
    raw["search"]["n_trials"] = 2
    path = write_config(folder, raw)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*command, "run", str(path)],
        cwd=folder,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_until_running(storage: str) -> None:
    """Block until a trial of study 'tiny' is training: RUNNING, with its MLflow run made."""
    import optuna
    from optuna.trial import TrialState

    from sweeps.stores.storage import open_storage

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            study = optuna.load_study(study_name="tiny", storage=open_storage(storage))
        except (KeyError, ValueError):
            continue
        running = study.get_trials(states=(TrialState.RUNNING,))
        if any("mlflow_run_id" in t.user_attrs for t in running):
            return
    raise AssertionError("no trial started running within two minutes")


def _trials(storage: str) -> list:  # type: ignore[type-arg]
    import optuna

    from sweeps.stores.storage import open_storage

    return optuna.load_study(study_name="tiny", storage=open_storage(storage)).trials


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_installed_sweep_interrupt_leaves_a_resumable_study(
    workdir: Path, sig: signal.Signals
) -> None:
    from optuna.trial import TrialState

    from sweeps.stores.storage import DEFAULT_STORAGE

    proc = _long_sweep(workdir, ["sweep"])
    _wait_until_running(DEFAULT_STORAGE)
    time.sleep(2)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "run the same command to resume" in output
    # The clean line is the whole story: no Optuna "Trial 0 failed ... Traceback" block first.
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "interrupted trials [0] will resume from their checkpoints" in output
    trials = _trials(DEFAULT_STORAGE)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING], output
    assert trials[0].user_attrs.get("interrupted") is True
    # Resuming re-runs the interrupted params once and still finishes n_trials in total.
    resumed = runner.invoke(
        app, ["run", str(workdir / "sweep.yaml"), "--set", "trainer.max_epochs=1"]
    )
    assert resumed.exit_code == 0, resumed.output
    trials = _trials(DEFAULT_STORAGE)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].params == trials[0].params


@pytest.mark.slow
def test_killed_sweep_trial_is_reaped_at_once_by_the_next_run(workdir: Path) -> None:
    from optuna.trial import TrialState

    from sweeps.stores.storage import DEFAULT_STORAGE

    proc = _long_sweep(workdir, ["sweep"])
    _wait_until_running(DEFAULT_STORAGE)
    proc.kill()  # SIGKILL: no handler runs, the trial stays RUNNING
    proc.wait(timeout=30)
    assert [t.state for t in _trials(DEFAULT_STORAGE)] == [TrialState.RUNNING]
    # `sweep status` alone finds the dead process (same host, no heartbeat grace needed).
    status = runner.invoke(app, ["status", str(workdir / "sweep.yaml")])
    assert status.exit_code == 0 and "trial   0 REAPED" in status.output, status.output
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    run_id = _trials(DEFAULT_STORAGE)[0].user_attrs["mlflow_run_id"]
    dead = client.get_run(run_id)
    assert (
        dead.info.status == "KILLED" and "on this host is gone" in dead.data.tags["optuna.reason"]
    )
    path = workdir / "sweep.yaml"
    done = runner.invoke(app, ["run", str(path), "--set", "trainer.max_epochs=1"])
    assert done.exit_code == 0, done.output
    trials = _trials(DEFAULT_STORAGE)
    assert trials[0].state == TrialState.FAIL
    # The dead trial is replaced, not counted: two trials still finish besides it.
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].params == trials[0].params
    # The retry continued the dead trial's MLflow run, which now ends FINISHED.
    assert trials[1].user_attrs["mlflow_run_id"] == run_id
    assert client.get_run(run_id).info.status == "FINISHED"


def test_unreachable_storage_is_one_line_exit_2(workdir: Path) -> None:
    path = write_config(workdir, tiny_raw())
    result = runner.invoke(app, ["run", str(path), "--storage", "bogus://nowhere"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert "could not be opened" in lines[-1] and "--storage" in lines[-1], result.output
    assert not lines[-1].startswith("Traceback")


def test_best_out_to_a_missing_folder_is_exit_2(workdir: Path) -> None:
    import optuna

    storage = f"sqlite:///{workdir / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    trial.set_user_attr("config", tiny_raw())  # what the runner stores on every trial
    study.tell(trial, 1.0)
    out = workdir / "missing" / "best.yaml"
    result = runner.invoke(app, ["best", "--study", "s", "--storage", storage, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "cannot be written: No such file or directory" in result.output


def test_a_run_whose_every_trial_failed_exits_1(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sweeps.runner.worker

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(sweeps.runner.worker, "train", broken)
    raw = tiny_raw()
    raw["search"]["n_trials"] = 2  # fewer than the three-in-a-row stop
    path = write_config(workdir, raw)
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1, result.output
    assert "every trial this invocation ran failed" in result.output
    assert result.output.count("trial FAILED  RuntimeError: broken on purpose") == 2
