"""`sweep dashboard`: optuna-dashboard on a study, bound to 127.0.0.1, or a one-line error."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from test_leaderboard import fake_study
from typer.testing import CliRunner

from sweeps.cli.app import app


def _stored(folder: Path) -> str:
    storage = f"sqlite:///{folder / 'optuna.db'}"
    optuna.create_study(study_name="fake", storage=storage).add_trials(fake_study().trials)
    return storage


def test_missing_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # as if not installed
    result = CliRunner().invoke(app, ["dashboard", "--study", "fake"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "error: sweep dashboard needs optuna-dashboard: pip install 'rnn-sweeps[dashboard]'"
    ]


@pytest.mark.slow
def test_dashboard_serves_the_study_on_localhost(tmp_path: Path) -> None:
    pytest.importorskip("optuna_dashboard")  # the dev extra installs it, so CI runs this
    storage = _stored(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = ["sweep", "dashboard", "--study", "fake", "--storage", storage, "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body, deadline = "", time.monotonic() + 90
        while time.monotonic() < deadline and '"fake"' not in body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies") as answer:
                    body = answer.read().decode()
            except OSError:
                time.sleep(0.5)
        assert '"fake"' in body, body
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/dashboard/studies/" in out, out
