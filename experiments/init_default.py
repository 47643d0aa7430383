"""Which initialisation should an LSTM get by default? The evidence on short, everyday runs.

The LSTM trained from each `model.init` (torch's draw, a forget bias of 1, chrono) on two cases
the project runs itself, with their data, width, learning rates and budgets:
- quickstart: configs/quickstart.yaml's adding problem at T = 30, hidden 32, batches of 64 from
  2,000 sequences, 12 epochs (384 updates), at lr 3e-3 and 1e-2 (inside its searched range);
- pruning: benchmarks/pruning.py's case, the adding problem at T = 100, hidden 32, batches of 32
  from 1,024 sequences, 20 epochs (640 updates), at lr 3e-3 and 1e-2.
Each with 3 seeds, in experiments/classic_run.py's loop (Adam, clipping at 1, validation every
32 updates). Per case and init: the median best validation MSE [min, max] over the lr x seed
runs, how many solved (MSE < 0.01), and the median updates until solved.

    python -m experiments.init_default [--quick]

Writes experiments/results/init_default.md and .json under benchmarks/stamp.py's stamp.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.stamp import load_average, markdown, stamp
from experiments.classic_run import Job, run

INITS = ("lstm", "lstm_forget_bias", "lstm_chrono")  # experiments.classic_run.VARIANTS
HIDDEN_32 = 4641  # the parameters of an LSTM of width 32 on the adding data (2 in, 1 out)
CASES = {
    "quickstart": {"length": 30, "batch": 64, "n_train": 2000, "updates": 384},
    "pruning": {"length": 100, "batch": 32, "n_train": 1024, "updates": 640},
}
LRS, SEEDS = (3e-3, 1e-2), (0, 1, 2)


def jobs(quick: bool) -> list[tuple[str, Job]]:
    out = []
    for case, c in CASES.items():
        for variant in INITS:
            for lr in LRS[-1:] if quick else LRS:
                for seed in SEEDS[:1] if quick else SEEDS:
                    job = Job(
                        "adding",
                        8 if quick else c["length"],
                        variant,
                        seed,
                        32 if quick else c["updates"],
                        HIDDEN_32,
                        lr,
                        batch=c["batch"],
                        n_train=c["n_train"],
                    )
                    out.append((case, job))
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | init | runs | best val MSE, median [min, max] | solved "
        "| updates to solve, median |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in CASES:
        for variant in INITS:
            mine = [r for r in rows if (r["case"], r["variant"]) == (case, variant)]
            if not mine:
                continue
            best = [r["best"] for r in mine]
            solved = [r["solved_at"] for r in mine if r["solved_at"] is not None]
            when = f"{statistics.median(solved):.0f}" if solved else "-"
            lines.append(
                f"| {case} | {variant} | {len(mine)} | {statistics.median(best):.3g} "
                f"[{min(best):.2g}, {max(best):.2g}] | {len(solved)}/{len(mine)} | {when} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/results"))
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    args = parser.parse_args(argv)
    fields = stamp()
    started = time.perf_counter()
    rows = []
    for case, job in jobs(args.quick):
        result = run(job)
        rows.append({"case": case, **{k: v for k, v in result.items() if k != "probes"}})
        print(f"{case} {job.name} lr {job.lr}: best {result['best']:.3g}", flush=True)
    fields["wall time"] = f"{(time.perf_counter() - started) / 60:.1f} min, one thread"
    fields["load average at the end"] = load_average()
    text = "# Which init by default\n\n" + markdown(fields) + "\n\n" + table(rows) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "init_default.md").write_text(text)
    record = {"stamp": fields, "cases": CASES, "runs": rows}
    (args.out / "init_default.json").write_text(json.dumps(record, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
