"""What every benchmark case returns, and how it times a baseline against a candidate.

Other processes may load the machine, so a case never compares against a number measured
earlier: it runs baseline and candidate in turn, in the same process, and reports the ratio of
their medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the `make bench` table: candidate against baseline, as a ratio."""

    case: str
    baseline: str  # what the candidate is measured against, e.g. "plain PyTorch loop"
    base_value: float
    candidate: str
    cand_value: float
    unit: str  # of base_value and cand_value, e.g. "ms/step", "s", "epochs"
    goal: float | None = None  # the ratio must be <= goal; None: reported, not judged
    note: str = ""

    @property
    def ratio(self) -> float:
        """Candidate over baseline; inf when the baseline is zero."""
        return self.cand_value / self.base_value if self.base_value else float("inf")

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets the goal; None when the row has no goal."""
        return None if self.goal is None else self.ratio <= self.goal


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds of one call: wall time by default, or `time.process_time` for CPU time.

    CPU time of a one-thread process hardly moves when other processes load the machine,
    where wall time can double; it misses time spent waiting on disk or network.
    """
    start = clock()
    fn()
    return clock() - start


def alternate(
    runs: dict[str, Callable[[], float]],
    repeats: int,
    pick: Callable[[list[float]], float] = statistics.median,
) -> dict[str, float]:
    """The median (or `pick`) of each callable's seconds, calling them in turn `repeats` times.

    Round-robin, not one block each, so a burst of load from another process hits every
    side alike. `pick=min` keeps each side's least disturbed run, as `timeit` advises.
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            seconds[name].append(run())
    return {name: pick(values) for name, values in seconds.items()}
