"""The torch threads of a process that trains: one, unless OMP_NUM_THREADS says otherwise.

torch starts one intra-op thread per core, and its OpenMP threads spin while they wait for work.
A trial's small recurrent steps split poorly across threads, and beside other busy processes a
spinning thread holds a core that another thread needs, so a thread per core can run several
times slower than one thread. One thread per process is the default; `sweep run --workers N`
(or `auto`) uses more cores, one process each. `benchmarks/busy.py` measures the default on a
quiet machine and beside a busy loop on every core (docs/performance.md).
"""

from __future__ import annotations

import os

THREADS = 1  # torch threads per training process when OMP_NUM_THREADS is not set
OMP_ENV = "OMP_NUM_THREADS"


def trial_threads() -> int:
    """OMP_NUM_THREADS when set to a whole number >= 1, else THREADS."""
    value = os.environ.get(OMP_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else THREADS


def thread_env() -> dict[str, str]:
    """The environment that gives a child process the same threads from its first import."""
    count = str(trial_threads())
    return {OMP_ENV: count, "MKL_NUM_THREADS": count}


def use_trial_threads() -> None:
    """Set this process's torch threads to `trial_threads()`."""
    import torch

    if torch.get_num_threads() != trial_threads():
        torch.set_num_threads(trial_threads())
