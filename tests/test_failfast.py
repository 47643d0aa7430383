"""Stores and devices that cannot work fail before the first trial, in one line, with exit 1."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, sweep_process, tiny_raw, write_config
from typer.testing import CliRunner

from benchmarks.failfast import CannotMount
from benchmarks.failfast import read_only as read_only_folder
from sweeps.cli.app import app

runner = CliRunner()


def _one_line_failure(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1, nothing on stdout but the start, and one error line naming the cause."""
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    raw = tiny_raw(trainer={"max_epochs": 1})
    raw["search"]["n_trials"] = 1
    return write_config(tmp_path, raw)


@pytest.mark.slow
def test_unreachable_tracking_server(config: Path, tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = sweep_process(["run", str(config), "--tracking-uri", uri], tmp_path)
    _one_line_failure(done, uri, "does not answer", "Connection refused", "--tracking-uri")


@pytest.mark.slow
def test_corrupt_mlflow_db(config: Path, tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_bytes(os.urandom(8192))
    done = sweep_process(["run", str(config)], tmp_path)
    _one_line_failure(done, "mlflow.db", "not a readable SQLite database", "mv mlflow.db")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["--debug", "SWEEP_DEBUG"])
def test_debug_prints_the_traceback(config: Path, tmp_path: Path, how: str) -> None:
    (tmp_path / "mlflow.db").write_bytes(os.urandom(8192))
    args, env = (["--debug"], {}) if how == "--debug" else ([], {"SWEEP_DEBUG": "1"})
    done = sweep_process([*args, "run", str(config)], tmp_path, **env)
    assert done.returncode == 1, done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")


@pytest.fixture
def read_only() -> Iterator[Path]:
    """A folder nothing can be written to, even by root (benchmarks.failfast's)."""
    with contextlib.ExitStack() as stack:
        try:
            folder = stack.enter_context(read_only_folder())
        except CannotMount as err:
            pytest.skip(str(err))
        yield folder


@pytest.mark.slow
def test_read_only_working_folder(config: Path, read_only: Path) -> None:
    done = sweep_process(["run", str(config)], read_only)
    _one_line_failure(done, str(read_only), "cannot be written", "writable folder")


@pytest.mark.slow
def test_tracking_folder_that_cannot_be_written(
    config: Path, tmp_path: Path, read_only: Path
) -> None:
    uri = f"sqlite:///{read_only / 'mlflow.db'}"
    done = sweep_process(["run", str(config), "--tracking-uri", uri], tmp_path)
    _one_line_failure(done, "tracking URI", "cannot be written", "--tracking-uri")


def test_missing_gpu_fails_the_run_before_any_trial(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(config), "--set", "trainer.accelerator=gpu"])
    assert result.exit_code == 1, result.output
    assert "trainer.accelerator is 'gpu'" in result.output
    assert not (tmp_path / "optuna.journal").exists()  # failed before any store was touched


def test_tracking_uri_comes_from_the_environment(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(config)], env={"MLFLOW_TRACKING_URI": uri})
    assert result.exit_code == 1, result.output
    assert f"tracking URI {uri} does not answer" in result.output
