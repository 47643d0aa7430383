"""Worker processes of `sweep run --workers N`, started before the coordinator's own imports.

A worker spends its first seconds importing torch, Lightning, Optuna and MLflow, and so does the
coordinator. Started first, the workers import while the coordinator imports and prepares the
stores; each then waits for its orders (`WorkerArgs` as JSON on stdin). Light on purpose: this
module imports nothing heavy, so starting them costs the coordinator nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

from sweeps.runner.placement import pin
from sweeps.train.threads import thread_env


def start(gpu: str | None = None) -> subprocess.Popen[str]:
    """One worker process, importing its stack, then waiting for its orders on stdin; with a
    `gpu`, it sees that GPU only.

    Its own session: a terminal's Ctrl-C reaches the coordinator only, which forwards exactly
    one stop, so no worker sees a second signal and stops mid-write.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "sweeps.runner.worker"],
        stdin=subprocess.PIPE,
        text=True,
        env={**os.environ, **thread_env(), **pin(gpu)},  # threads set before torch loads
        start_new_session=True,
    )


def send(proc: subprocess.Popen[str], orders: str) -> subprocess.Popen[str]:
    """Give a started worker its orders; it runs trials from then on."""
    assert proc.stdin is not None
    proc.stdin.write(orders)
    proc.stdin.close()
    return proc


def dismiss(procs: list[subprocess.Popen[str]]) -> None:
    """Stop the workers that never got orders: they hold no trial and no store yet."""
    for proc in procs:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.kill()
            proc.stdin.close()
            proc.wait()
