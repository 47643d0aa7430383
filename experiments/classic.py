"""The classic result in one command: which cells, started how, keep information over T steps.

The adding problem (Hochreiter & Schmidhuber 1997) at T = 50, 100 and 200 for the tanh RNN, the
IRNN (Le et al. 2015), the LSTM started three ways (torch's draw, a forget bias of 1, chrono:
Tallec & Ollivier 2018) and the GRU; and copy memory (Arjovsky et al. 2016) at T = 100. Every
cell has about the same number of parameters (`model.match_params`), every run has 3 seeds.

The budget in updates grows with T: BUDGET_BASE updates to learn the sum itself once the
gradient reaches the marked numbers (what a short sequence needs), plus BUDGET_PER_STEP per
step of the distance the memory must span, rounded up to whole evaluations. The runs are
spread over --jobs processes of one torch thread each; the tables are rewritten after every
finished run, so a run cut short still leaves the seeds it finished.

Writes, under --out: classic.md (the stamp and the tables), classic.json (every run: its curve,
when it solved, the probes), classic_solve.png (updates until solved against T per cell),
classic_mse.png (best MSE against T), classic_grad.png (||dLoss/dh_t|| over t before and after
training) and classic_timescale.png (the memory time scale over training).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.stamp import load_average, markdown, stamp
from experiments.classic_plots import plot_all
from experiments.classic_run import EVAL_EVERY, Job, run

ADDING = ("rnn", "irnn", "lstm", "lstm_forget_bias", "lstm_chrono", "gru")
COPY = ("rnn", "lstm", "lstm_chrono", "gru")
BUDGET_BASE, BUDGET_PER_STEP = 512, 8
FULL = {
    "lengths": [50, 100, 200],
    "seeds": [0, 1, 2],
    "params": 3000,
    "lr": 1e-2,
    "copy_length": 100,
    "copy_updates": 1600,
    "copy_lr": 3e-3,
    "copy_params": 10000,
}
QUICK = {
    "lengths": [8, 12],
    "seeds": [0],
    "params": 300,
    "lr": 1e-2,
    "copy_length": 5,
    "copy_updates": 64,
    "copy_lr": 1e-2,
    "copy_params": 1000,
    "budget": 64,
}


def budget(length: int, plan: dict[str, Any]) -> int:
    """Updates for the adding problem at length T: a base plus a share per step."""
    if "budget" in plan:
        return int(plan["budget"])
    wanted = BUDGET_BASE + BUDGET_PER_STEP * length
    return EVAL_EVERY * math.ceil(wanted / EVAL_EVERY)


def jobs(plan: dict[str, Any]) -> list[Job]:
    """Seed by seed, so a run cut short has whole seeds; the costliest first within a seed."""
    out = []
    for seed in plan["seeds"]:
        mine = [
            Job("adding", t, v, seed, budget(t, plan), plan["params"], plan["lr"])
            for t in plan["lengths"]
            for v in ADDING
            if v in plan.get("variants", ADDING)
        ]
        mine += [
            Job(
                "copy",
                plan["copy_length"],
                v,
                seed,
                plan["copy_updates"],
                plan["copy_params"],
                plan["copy_lr"],
            )
            for v in COPY
            if v in plan.get("variants", COPY)
        ]
        out += sorted(mine, key=lambda j: -j.updates * j.length)
    return out


def attempt(job: Job) -> dict[str, Any]:
    """`run(job)`, or what went wrong: one failed run must not end the others."""
    try:
        return run(job)
    except Exception as err:  # noqa: BLE001 - recorded, and reported with the tables
        return {**dataclasses.asdict(job), "error": f"{type(err).__name__}: {err}"}


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.2g}, {max(values):.2g}]"


def _solve_text(rows: list[dict[str, Any]]) -> tuple[str, str]:
    solved = [r["solved_at"] for r in rows if r["solved_at"] is not None]
    median = f"{statistics.median(solved):.0f}" if solved else "-"
    each = ", ".join(str(r["solved_at"] or "-") for r in sorted(rows, key=lambda r: r["seed"]))
    diverged = sum(r["diverged_at"] is not None for r in rows)
    note = f", {diverged} diverged" if diverged else ""
    return f"{len(solved)}/{len(rows)}{note}", f"{median} ({each})"


def tables(results: list[dict[str, Any]]) -> str:
    """The adding table (per T and cell) and the copy table (per cell), as Markdown."""
    lines = [
        "| T | cell | h (params) | budget | best val MSE, median [min, max] | solved "
        "| updates to solve, median (per seed) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    adding = [r for r in results if r["task"] == "adding"]
    for length in sorted({r["length"] for r in adding}):
        for variant in ADDING:
            rows = [r for r in adding if (r["length"], r["variant"]) == (length, variant)]
            if rows:
                solved, when = _solve_text(rows)
                lines.append(
                    f"| {length} | {variant} | {rows[0]['hidden']} ({rows[0]['n_parameters']}) "
                    f"| {rows[0]['updates']} | {_summary([r['best'] for r in rows])} | {solved} "
                    f"| {when} |"
                )
    copy = [r for r in results if r["task"] == "copy"]
    if copy:
        base = copy[0]["baseline"]
        lines += [
            "",
            f"Copy memory, T = {copy[0]['length']}: memoryless baseline 10 ln 8 / (T + 20) = "
            f"{base:.4f}; solved below a tenth of it.",
            "",
            "| cell | h (params) | budget | best val loss, median [min, max] | / baseline "
            "| solved | updates to solve, median (per seed) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for variant in COPY:
            rows = [r for r in copy if r["variant"] == variant]
            if rows:
                solved, when = _solve_text(rows)
                ratio = statistics.median(r["best"] for r in rows) / base
                lines.append(
                    f"| {variant} | {rows[0]['hidden']} ({rows[0]['n_parameters']}) "
                    f"| {rows[0]['updates']} | {_summary([r['best'] for r in rows])} "
                    f"| {ratio:.3g} | {solved} | {when} |"
                )
    lines += [f"\nFailed: {Job(**_job_fields(r)).name}: {r['error']}" for r in failed]
    return "\n".join(lines)


def _job_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in Job.__dataclass_fields__}


def write(
    out: Path, fields: dict[str, str], plan: dict[str, Any], results: list[dict[str, Any]]
) -> str:
    """<stem>.md (stamp and tables) and <stem>.json (the same and every run)."""
    stem = plan.get("stem", "classic")
    text = "# make classic\n\n" + markdown(fields) + "\n\n" + tables(results) + "\n"
    (out / f"{stem}.md").write_text(text)
    record = {"stamp": fields, "plan": plan, "runs": results}
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/results"))
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--jobs", type=int, default=2, help="processes, one torch thread each")
    parser.add_argument("--seeds", type=int, help="use only the first N seeds")
    parser.add_argument("--variants", nargs="+", choices=ADDING, help="only these cells")
    parser.add_argument("--lr", type=float, help="the adding problem's learning rate")
    parser.add_argument("--stem", default="classic", help="the output files' name")
    parser.add_argument(
        "--replot", action="store_true", help="redraw the figures from <out>/<stem>.json only"
    )
    args = parser.parse_args(argv)
    if args.replot:  # a run stopped before its end wrote its tables, not its figures
        record = json.loads((args.out / f"{args.stem}.json").read_text())
        plot_all([r for r in record["runs"] if "error" not in r], args.out, args.stem)
        return 0
    plan = dict(QUICK if args.quick else FULL)
    plan["stem"] = args.stem
    if args.variants:
        plan["variants"] = args.variants
    if args.lr is not None:
        plan["lr"] = args.lr
    if args.seeds is not None:
        plan["seeds"] = plan["seeds"][: args.seeds]
    args.out.mkdir(parents=True, exist_ok=True)
    fields = stamp()
    todo = jobs(plan)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for result in pool.imap_unordered(attempt, todo):
            results.append(result)
            said = result.get("error") or (
                f"best {result['best']:.3g}, solved at {result['solved_at']}, diverged at "
                f"{result['diverged_at']}, {result['seconds']:.0f} s"
            )
            print(f"{Job(**_job_fields(result)).name}: {said}", flush=True)
            write(args.out, fields, plan, results)
    seconds = time.perf_counter() - started
    fields["wall time"] = f"{seconds / 60:.1f} min, {args.jobs} processes of one thread"
    fields["load average at the end"] = load_average()
    fields["runs"] = f"{len(results)} of {len(todo)}"
    text = write(args.out, fields, plan, results)
    plot_all([r for r in results if "error" not in r], args.out, args.stem)
    print(text)
    print(f"wall time {seconds / 60:.1f} min on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
