"""`make bench`: every benchmark case, one table of ratios measured side by side in one run.

Each case is one entry of CASES: a function `run(quick) -> list[Row]` in its own module. To add
a case, write the module and add its line here; `quick=True` must finish in seconds (the tests
call it so a case cannot rot), and the full run should stay within a few minutes per case.

The table is printed and written, under the stamp of benchmarks/stamp.py (date, commit, machine,
library versions), to benchmarks/results/bench.md and bench.json; a --quick run writes only
where --out says.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from benchmarks import (
    busy,
    cells,
    cli_latency,
    diagnostics_cost,
    fixed_cost,
    overhead,
    pruning,
    report_scale,
    throughput,
)
from benchmarks.measure import Row
from benchmarks.stamp import ROOT, load_average, markdown, stamp, text

Case = Callable[[bool], list[Row]]
CASES: dict[str, Case] = {
    "cli": cli_latency.run,
    "overhead": overhead.run,
    "diagnostics": diagnostics_cost.run,
    "cells": cells.run,
    "throughput": throughput.run,
    "fixed": fixed_cost.run,
    "pruning": pruning.run,
    "report": report_scale.run,
    "busy": busy.run,
}


RESULTS = ROOT / "benchmarks" / "results"


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


def write(folder: Path, fields: dict[str, str], rows: list[Row]) -> None:
    """bench.md (the stamp, then the table) and bench.json (the same, for programs) in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    heading = "# `make bench` results\n\nWritten by `make bench` (benchmarks/table.py); "
    heading += "docs/performance.md says what each case measures and how to read it.\n\n"
    (folder / "bench.md").write_text(f"{heading}{markdown(fields)}\n\n{render(rows)}\n")
    record = {
        "stamp": fields,
        "rows": [asdict(r) | {"ratio": r.ratio, "met": r.met} for r in rows],
    }
    (folder / "bench.json").write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases (all by default), print and write the table; 1 if a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to run, from {sorted(CASES)}")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test only")
    parser.add_argument(
        "--out", type=Path, help=f"folder for bench.md and bench.json (default {RESULTS})"
    )
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; expected one of {sorted(CASES)}")
    names = args.cases or list(CASES)
    fields = stamp()
    print(text(fields), flush=True)
    started = time.perf_counter()
    rows: list[Row] = []
    for name in names:
        case_start = time.perf_counter()
        got = CASES[name](args.quick)
        rows += got  # and each case's rows at once, so a long run shows progress
        print(f"{name}: {time.perf_counter() - case_start:.0f}s", file=sys.stderr)
        print(render(got), file=sys.stderr, flush=True)
    print(render(rows))
    missed = sum(r.met is False for r in rows)
    quick = " (--quick: tiny budgets, goals not meaningful)" if args.quick else ""
    fields |= {
        "load average at the end": load_average(),
        "cases": " ".join(names) + quick,
        "wall time": f"{time.perf_counter() - started:.0f} s",
        "goals": f"{missed} missed" if missed else "all met",
    }
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        write(out, fields, rows)
        print(f"written to {out / 'bench.md'} and bench.json")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
