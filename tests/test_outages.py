"""Outages: a store away for a while is waited for, up to a bound; a full disk ends the sweep in
one line, with nothing left RUNNING, and the rerun finishes it."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_raw, write_config
from typer.testing import CliRunner

from sweeps.cli.app import app
from sweeps.errors import UnavailableError, disk_full
from sweeps.stores.reconnect import Outage


class Away(Exception):
    """The server is not there."""


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _outage(wait_s: float, time: FakeTime) -> Outage:
    return Outage(
        wait_s,
        lambda err: isinstance(err, Away),
        lambda err: UnavailableError(f"gone: {err}"),
        sleep=time.sleep,
        clock=lambda: time.now,
    )


def _flaky(failures: int) -> Any:
    left = [failures]

    def call() -> str:
        if left[0]:
            left[0] -= 1
            raise Away("refused")
        return "answer"

    return call


def test_a_call_is_retried_with_backoff_until_the_server_is_back() -> None:
    time = FakeTime()
    outage = _outage(60, time)
    assert outage.call(_flaky(5)) == "answer"
    assert time.slept == [0.5, 1.0, 2.0, 4.0, 5.0]  # doubling, capped
    assert outage.retries == 5


def test_past_the_bound_it_fails_with_the_one_line_error_and_later_calls_fail_at_once() -> None:
    time = FakeTime()
    outage = _outage(10, time)
    with pytest.raises(UnavailableError, match="gone: refused"):
        outage.call(_flaky(100))
    assert sum(time.slept) == pytest.approx(10)  # no sleep past the bound
    slept = len(time.slept)
    with pytest.raises(UnavailableError):
        outage.call(_flaky(100))
    assert len(time.slept) == slept  # the outage already lasted the bound: no second wait
    assert outage.call(_flaky(0)) == "answer"  # one call through ends the outage
    assert outage.call(_flaky(1)) == "answer"  # and the next outage is waited for again


def test_an_error_that_is_no_outage_is_raised_at_once() -> None:
    time = FakeTime()

    def wrong() -> None:
        raise ValueError("a bad value")

    with pytest.raises(ValueError, match="a bad value"):
        _outage(60, time).call(wrong)
    assert time.slept == []


def test_a_database_restart_is_an_outage_and_a_bad_query_is_not() -> None:
    import sqlalchemy.exc

    from sweeps.stores.reconnect import _sql_transient

    dropped = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("terminating connection"))
    assert _sql_transient(dropped)
    try:  # as Optuna wraps it
        try:
            raise dropped
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise RuntimeError("An exception is raised during the commit.") from err
    except RuntimeError as wrapped:
        assert _sql_transient(wrapped)
    bad = sqlalchemy.exc.ProgrammingError("SELEC 1", {}, Exception("syntax error"))
    assert not _sql_transient(bad)


def test_a_full_disk_is_told_apart_and_names_the_folder(tmp_path: Path) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "last.ckpt"))
    try:
        try:
            raise full
        except OSError as err:
            raise RuntimeError("checkpoint could not be saved") from err
    except RuntimeError as wrapped:
        found = disk_full(wrapped)
    assert found is not None and f"the disk holding {tmp_path} is full" in str(found)
    assert "run the same command to resume" in str(found)
    sqlite = Exception("(sqlite3.OperationalError) database or disk is full")
    assert disk_full(sqlite) is not None
    assert disk_full(OSError(errno.EACCES, "Permission denied", "x")) is None


@pytest.mark.slow
def test_a_full_disk_ends_the_sweep_in_one_line_and_the_rerun_finishes_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna
    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

    from sweeps.stores.storage import open_storage

    save = TorchCheckpointIO.save_checkpoint
    saves = [0]

    def save_until_full(self: Any, checkpoint: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        saves[0] += 1
        if saves[0] == 2:  # in the first or second trial
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        save(self, checkpoint, path, *args, **kwargs)

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", save_until_full)
    config = str(write_config(workdir, tiny_raw()))
    runner = CliRunner()
    result = runner.invoke(app, ["run", config])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.output
    folder = workdir / "sweep-checkpoints" / "tiny" / "trial-"
    assert errors[0].startswith(f"error: the disk holding {folder}"), result.output
    assert errors[0].endswith(
        "is full; free space there (or run the sweep from a folder on a "
        "larger disk), then run the same command to resume"
    ), result.output
    assert "Traceback" not in result.output
    study = optuna.load_study(study_name="tiny", storage=open_storage("journal:///optuna.journal"))
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert "RUNNING" not in states, states
    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", save)  # space freed
    again = runner.invoke(app, ["run", config])
    assert again.exit_code == 0, again.output
    study = optuna.load_study(study_name="tiny", storage=open_storage("journal:///optuna.journal"))
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    assert len(finished) == 3, [(t.number, t.state) for t in study.get_trials(deepcopy=False)]
