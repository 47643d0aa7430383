"""`make bench`: every benchmark case, one table of ratios measured side by side in one run.

Each case is one entry of CASES: a function `run(quick) -> list[Row]` in its own module. To add
a case, write the module and add its line here; `quick=True` must finish in seconds (the tests
call it so a case cannot rot), and the full run should stay within a few minutes per case.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from benchmarks import (
    cells,
    cli_latency,
    diagnostics_cost,
    overhead,
    pruning,
    report_scale,
    throughput,
)
from benchmarks.measure import Row

Case = Callable[[bool], list[Row]]
CASES: dict[str, Case] = {
    "cli": cli_latency.run,
    "overhead": overhead.run,
    "diagnostics": diagnostics_cost.run,
    "cells": cells.run,
    "throughput": throughput.run,
    "pruning": pruning.run,
    "report": report_scale.run,
}


def machine() -> str:
    """The machine in words: CPU model, cores and the load average now."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, load average {load}"


def render(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| case | baseline | candidate | ratio | goal | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        goal = "-" if r.goal is None else f"<= {r.goal:g}"
        met = {None: "-", True: "yes", False: "NO"}[r.met]
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.case} | {r.baseline} {r.base_value:.4g} {r.unit} | "
            f"{r.candidate} {r.cand_value:.4g} {r.unit} | {r.ratio:.3f}{note} | {goal} | {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases (all by default), print the table; exit 1 if a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to run, from {sorted(CASES)}")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test only")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; expected one of {sorted(CASES)}")
    print(f"machine: {machine()}", flush=True)
    started = time.perf_counter()
    rows: list[Row] = []
    for name in args.cases or list(CASES):
        case_start = time.perf_counter()
        got = CASES[name](args.quick)
        rows += got  # and each case's rows at once, so a long run shows progress
        print(f"{name}: {time.perf_counter() - case_start:.0f}s", file=sys.stderr)
        print(render(got), file=sys.stderr, flush=True)
    print(render(rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}; {time.perf_counter() - started:.0f}s")
    return 1 if any(r.met is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
