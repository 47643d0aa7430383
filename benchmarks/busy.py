"""A sweep on a busy machine: `make sweep`'s quickstart quiet, and beside a busy loop on every core.

Each side runs `sweep run configs/quickstart.yaml` as a fresh process in a fresh folder, with the
defaults a user gets (torch threads from `sweeps/train/threads.py`, one worker): OMP_NUM_THREADS
and MKL_NUM_THREADS are taken out of its environment. The busy side first starts one
`while True: pass` process per core and stops them after. The goal: at most 1.7 times the quiet
wall time (on 2 cores, one thread's fair share beside 2 busy loops is 1.5 times). A second row
shows why the default is one thread: one `sweep train` of the quickstart config beside the busy
loops (4 epochs), with one thread against torch's own default of a thread per core.

Wall time, whole processes: imports, stores and every trial, as a user waits for them. The
machine's other load moves both sides; the stamp's load averages say how much there was.

    python -m benchmarks.busy [--quick]   # writes benchmarks/results/busy/ (but for --quick)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.measure import Row

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "quickstart.yaml"
GOAL = 1.7  # busy over quiet wall time
QUICK = [  # seconds-long: one trial of one epoch on a small training set
    "--set", "search.n_trials=1", "--set", "trainer.max_epochs=1", "--set", "data.n_train=256",
]  # fmt: skip
TRAIN = ["--set", "trainer.max_epochs=4"]  # enough steps for the threads to matter
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cores() -> int:
    """The cores this process may use: one busy loop is started on each."""
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """`count` processes spinning in `while True: pass` for the duration of the block."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def _seconds(args: list[str], threads: int | None = None) -> float:
    """Wall seconds of `sweep ARGS` in a fresh folder; `threads` sets OMP_NUM_THREADS."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads is not None:
        env |= {name: str(threads) for name in THREAD_VARS}
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "sweeps", *args], cwd=folder, env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sweep {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return took


def run(quick: bool = False) -> list[Row]:
    """The sweep quiet and busy; then (but for --quick) `sweep train` busy, 1 or n threads."""
    extra = QUICK if quick else []
    sweep = ["run", str(CONFIG), *extra]
    loops = f"a busy loop on each of {cores()} cores"
    what = "quickstart, 1 trial of 1 epoch (--quick)" if quick else "quickstart, 16 trials"
    quiet = _seconds(sweep)
    with busy_loops(cores()):
        busy = _seconds(sweep)
        rows = [Row(f"`sweep run` ({what}), wall time", "quiet", quiet, loops, busy, "s", GOAL)]
        if quick:
            return rows
        train = ["train", str(CONFIG), *TRAIN]
        one = _seconds(train)
        per_core = _seconds(train, threads=cores())
    return [
        *rows,
        Row(f"`sweep train` (quickstart config, 4 epochs) beside {loops}, wall time",
            "1 torch thread (the default)", one, f"{cores()} threads (torch's own default)",
            per_core, "s"),
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks.table import RESULTS, main

    # Its own folder: the README's times cite this file, which a run of other cases leaves alone.
    out = [] if "--quick" in sys.argv else ["--out", str(RESULTS / "busy")]
    sys.exit(main(["busy", *out, *sys.argv[1:]]))
