"""`sweep ui`: one lean MLflow server on 127.0.0.1 that lives and dies with the command.

`mlflow ui` on its own starts 4 uvicorn workers and 7 job consumers on 2 cores and, started as
a plain child, keeps serving the port after its parent gets SIGTERM. Here: one worker, no job
execution (the UI of a sweep runs no jobs), its own process group that is stopped with us, and
the URL printed only once the server answers, with a link to each sweep's runs: MLflow 3.17's
UI opens an experiment in its GenAI mode (traces, no runs) in a browser that has not chosen
"Model training", whatever the experiment's tags say.

The server's own output (its startup banner, uvicorn's access log, Starlette's deprecation
warnings) goes to a temporary file, so the address and the links are all the user sees; the
file's last lines are printed only if the server fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from types import FrameType

from sweeps.errors import UnavailableError
from sweeps.keys import EXPERIMENT_KIND
from sweeps.track.views import EXPERIMENTS_ROUTE, runs_route, view_links

HOST = "127.0.0.1"
START_TIMEOUT_S = 180  # a cold MLflow import on a loaded 2-core machine takes a while
# No job runners; no third-party deprecation warnings (the server's, not ours to fix).
LEAN_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONWARNINGS": "ignore"}
LOG_TAIL = 20  # lines of the server's log shown when it fails


def command(uri: str, port: int) -> list[str]:
    """The server command: `mlflow server` with one worker, bound to localhost."""
    return [
        *(sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri),
        *("--host", HOST, "--port", str(port), "--workers", "1"),
        *("--uvicorn-opts", "--no-access-log"),
    ]


def sweep_links(url: str) -> list[str]:
    """Lines of links into the sweeps' experiments (those tagged as model development): per
    study its ranked trials and its leaderboard, or the experiment's runs where no study wrote
    a view."""
    query = f"{url}/api/2.0/mlflow/experiments/search?max_results=1000"
    try:
        with urllib.request.urlopen(query, timeout=10) as response:
            found = json.load(response).get("experiments", [])
    except (OSError, ValueError):
        return []  # the links are a convenience: the UI itself is up
    lines = []
    for experiment in found:
        tags = {t.get("key"): t.get("value") for t in experiment.get("tags", [])}
        if any(tags.get(k) != v for k, v in EXPERIMENT_KIND.items()):
            continue
        views = view_links(url, experiment["experiment_id"], tags)
        lines += views or [
            f"  runs of {experiment['name']!r}: {url}/{runs_route(experiment['experiment_id'])}"
        ]
    return lines


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if this process dies, even by SIGKILL (no orphan).
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group, SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def serve(uri: str, port: int, echo: Callable[[str], None]) -> int:
    """Run the server until it exits or we are signalled; return its exit code (0 if stopped)."""
    if not _port_free(port):
        raise UnavailableError(f"port {port} on {HOST} is in use; pass --port N")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command(uri, port),
            env={**os.environ, **LEAN_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it stops uvicorn too
            preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
        )
        code = _watch(proc, uri, port, echo)
        if code not in (0, 130):
            log.seek(0)
            for line in log.read().decode(errors="replace").splitlines()[-LOG_TAIL:]:
                echo(line)
        return code


def _watch(proc: subprocess.Popen[bytes], uri: str, port: int, echo: Callable[[str], None]) -> int:
    stopped = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        stopped = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while proc.poll() is None and not _answers(url):
            if time.monotonic() > deadline:
                raise UnavailableError(f"the MLflow UI did not answer at {url} within 180 s")
            time.sleep(0.25)
        if proc.poll() is None:
            # The address without its scheme: the first link a terminal offers is the answer,
            # not MLflow's home page, which opens in GenAI mode.
            echo(f"MLflow UI for {uri} at {HOST}:{port} (Ctrl-C stops it)")
            for line in sweep_links(url) or [f"  experiments: {url}/{EXPERIMENTS_ROUTE}"]:
                echo(line)
        return proc.wait()
    except KeyboardInterrupt:
        return 0 if stopped else 130
    finally:
        _stop(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
