"""`sweep ui`: one lean server that answers before the URL is printed and dies with its parent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_ui_answers_then_stops_with_its_parent_on_sigterm(workdir: Path) -> None:
    from sweeps.track.tracking import Tracker

    Tracker(f"sqlite:///{workdir / 'mlflow.db'}", "tiny")  # a sweep's experiment, tagged
    port = free_port()
    proc = subprocess.Popen(
        ["sweep", "ui", "--port", str(port)],
        cwd=workdir,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while "(Ctrl-C stops it)" not in line and proc.poll() is None:
            line += proc.stdout.readline()  # the URL is printed only once the server answers
        # The address is the first line: no server banner, no warning before it.
        assert line.startswith(f"MLflow UI for sqlite:///mlflow.db at http://127.0.0.1:{port} "), (
            line
        )
        # Then a link per sweep that opens its runs, not MLflow's GenAI overview.
        link = proc.stdout.readline()
        assert f"runs of 'tiny': http://127.0.0.1:{port}/#/experiments/" in link, line + link
        assert "workflowType=machine_learning" in link, link
        for _ in range(3):  # page loads log no access line
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200
        found = subprocess.run(["pgrep", "-f", f"port {port}"], capture_output=True, text=True)
        servers = [int(pid) for pid in found.stdout.split() if int(pid) != proc.pid]
        assert servers, "no server process found"
        groups = {os.getpgid(pid) for pid in servers}
        assert os.getpgid(proc.pid) not in groups  # the server runs in a group of its own
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, line + rest
        assert rest == "", rest  # nothing after the links: no access log, no warning
        deadline = time.monotonic() + 15
        while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_group_alive(g) for g in groups), "the server outlived sweep ui"
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "the port is still served"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ui_without_a_store_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sweeps.cli.app import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ui", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no sweep here: mlflow.db does not exist" in lines[0], result.output
    assert "--empty" in lines[0], result.output
    assert not (tmp_path / "mlflow.db").exists()


def test_ui_help_offers_only_its_own_options() -> None:
    from typer.testing import CliRunner

    from sweeps.cli.app import app

    result = CliRunner().invoke(app, ["ui", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in ("--tracking-uri", "--port", "--empty"):
        assert option in result.output, result.output
    assert "--study" not in result.output, result.output
