"""Trials per hour of 1, 2, 4 and 8 workers sharing one GPU: what `search.trials_per_gpu` buys.

Each count runs a whole `sweep run --workers N` process that sees one GPU (N workers pinned to
it), with `TRIALS_PER_WORKER` trials a worker of the near-zero model or the bench LSTM
(`benchmarks/overhead.py`'s shapes), random sampling of the learning rate, no pruning. Trials per
hour count the whole process, start-up included; each row compares N workers with one. The
goal on a GPU: 4 workers give at least 3 times the trials per hour of one. Run by
benchmarks/gpu_check.sh; `--device cpu --quick` tries it on a CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.measure import Row
from benchmarks.overhead import ACCELERATORS, BENCH_LSTM, NEAR_ZERO, Shape

WORKERS = (1, 2, 4, 8)
TRIALS_PER_WORKER = 3
SHAPES = {"near-zero model": NEAR_ZERO, "bench LSTM": BENCH_LSTM}
GOAL_AT_4 = 1 / 3  # seconds per trial at 4 workers over 1 worker's: at least 3x the trials


def sweep_seconds(
    shape: Shape, workers: int, device: str, quick: bool, timeout: float
) -> float | None:
    """Wall seconds of one whole `sweep run` of `workers` x TRIALS_PER_WORKER trials, or None
    if it ran past `timeout` or failed."""
    n_train, epochs = (128, 1) if quick else (1024, 5)
    raw = shape.raw(n_train, 256, epochs, device)
    raw["search"] |= {
        "n_trials": workers * TRIALS_PER_WORKER,
        "sampler": {"name": "random", "seed": 0},
        "pruner": {"name": "none"},
        "space": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    }
    # The first GPU only: the workers share it, whatever the machine has.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"} if device == "cuda" else None
    with tempfile.TemporaryDirectory(prefix="gpu-workers-") as folder:
        config = Path(folder) / "bench.yaml"
        config.write_text(yaml.safe_dump(raw))
        command = [sys.executable, "-m", "sweeps", "run", str(config), "--workers", str(workers)]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return None
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        return None
    return seconds


def run(quick: bool = False, device: str = "cuda", timeout: float = 60.0) -> list[Row]:
    """One row per shape and worker count: seconds per trial against one worker's."""
    rows = []
    counts = WORKERS[:2] if quick else WORKERS
    for label, shape in SHAPES.items():
        per_trial = {}
        for workers in counts:
            seconds = sweep_seconds(shape, workers, device, quick, timeout)
            if seconds is not None:
                per_trial[workers] = seconds / (workers * TRIALS_PER_WORKER)
            print(f"{label}, workers {workers}: {seconds} s", file=sys.stderr, flush=True)
        if 1 not in per_trial:
            continue
        for workers, seconds in per_trial.items():
            many = f"{workers} worker" + ("s" if workers > 1 else "")
            rows.append(
                Row(
                    f"{label}: {many} on one {device} device, seconds per trial",
                    "1 worker",
                    per_trial[1],
                    many,
                    seconds,
                    "s/trial",
                    goal=GOAL_AT_4 if workers == 4 and device == "cuda" else None,
                    note=f"{3600 / seconds:.0f} trials/h",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table; 1 if a goal was missed."""
    from benchmarks.table import render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=sorted(ACCELERATORS))
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test only")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per sweep at most")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.device, args.timeout)
    print(render(rows))
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
