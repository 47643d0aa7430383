"""The worker processes of one coordinator: orders out, a stop forwarded, a dead one replaced.

`sweep run --workers N` hands each process its orders (`sweeps.runner.worker.WorkerArgs`), tidies
the study whenever one exits (its trial went with it) and maps the workers' exit codes to the
one error the coordinator raises.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

from sweeps.errors import ConfigError, UnavailableError
from sweeps.runner.children import send, start
from sweeps.runner.placement import gpu_for
from sweeps.runner.worker import BAD_CONFIG, STOPPED, UNAVAILABLE, WorkerArgs
from sweeps.signals import STOP


def run_children(
    args: WorkerArgs,
    count: int,
    on_exit: Callable[[], object],
    spawned: list[subprocess.Popen[str]],
    gpus: list[str],
) -> None:
    """Give `count` worker processes their orders (`spawned` ones first, started on the GPUs
    `gpu_for` gave them); forward a stop to each; tidy up whenever one exits.

    A worker killed by a signal (OOM, kill -9) is replaced on its GPU, at most `count` times
    in all.
    """
    orders = args.to_json()
    procs = [send(proc, orders) for proc in spawned[:count]]
    procs += [send(start(gpu_for(i, gpus)), orders) for i in range(len(procs), count)]
    gpu_of = {proc.pid: gpu_for(i, gpus) for i, proc in enumerate(procs)}
    codes: dict[int, int] = {}
    forwarded, replacements = False, count
    try:
        while len(codes) < len(procs):
            time.sleep(0.2)
            if STOP.signum is not None and not forwarded:
                forwarded = True
                for proc in procs:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
            for proc in list(procs):
                if proc.pid not in codes and proc.poll() is not None:
                    codes[proc.pid] = proc.returncode
                    on_exit()  # a worker that died took its trial with it: reap it now
                    if proc.returncode < 0 and STOP.signum is None and replacements:
                        replacements -= 1
                        procs.append(send(start(gpu_of[proc.pid]), orders))
                        gpu_of[procs[-1].pid] = gpu_of[proc.pid]
    finally:
        stop_all(procs)
    STOP.check()
    if BAD_CONFIG in codes.values():
        raise ConfigError("a worker stopped on a config error (its message is above)")
    if UNAVAILABLE in codes.values():
        raise UnavailableError(
            "a worker stopped: a store or the disk became unusable (its message is above); fix "
            "that, then run the same command to resume"
        )
    if STOPPED in codes.values():
        raise KeyboardInterrupt("a worker was stopped by a signal")


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    """A second Ctrl-C (or an error) here: stop the workers now, and wait for them."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
