"""Sweep throughput: trials per hour for 1 and 2 workers, and for a hand-written script.

All three run the same trials: the bench LSTM on the adding problem, over the same grid of
learning rates, with no pruning, so every trial trains the same number of epochs. Each is a
fresh process in a fresh folder (imports, store creation and all), timed from start to exit:
`sweep run --workers 1`, `sweep run --workers 2`, and `benchmarks/handwritten.py`, a
single-process Optuna + Lightning + MLflow script in the style of optuna-examples. Rounds
alternate the three, so load on the machine hits each. Goals on 2 cores: 2 workers >= 1.7x
1 worker, and >= 1.7x the script; as rows of the table, 2 workers' wall time <= 1/1.7 of theirs.

    python -m benchmarks.throughput [--rounds 2] [--trials 16 --epochs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.measure import Row

HERE = Path(__file__).resolve().parent
KINDS = ["1 worker", "2 workers", "script"]
GOAL = round(1 / 1.7, 3)  # 2 workers' wall time over the other's: 1.7x the trials per hour
QUICK_DATA = {"seq_len": 10, "n_train": 128, "n_val": 64, "n_test": 32}
LRS = [0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008, 0.01]
RAW: dict[str, Any] = {
    "name": "throughput",
    "seed": 0,
    "data": {
        "name": "adding",
        "seq_len": 50,
        "batch_size": 64,
        "n_train": 4000,
        "n_val": 1000,
        "n_test": 100,
    },
    "model": {"cell": "lstm", "hidden_size": 64},
    "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
    "trainer": {"max_epochs": 6},
    "search": {
        "metric": "val_loss",
        "n_trials": len(LRS),
        "sampler": {"name": "grid", "seed": 0},
        "pruner": {"name": "none"},
        "space": {"optimizer.lr": {"type": "categorical", "choices": LRS}},
    },
}


def _timed(cmd: list[str], folder: Path) -> float:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def sized(trials: int, epochs: int, data: dict[str, int] | None = None) -> dict[str, Any]:
    """RAW with `trials` learning rates log-spaced over LRS's range, `epochs` per trial."""
    low, high = LRS[0], LRS[-1]
    lrs = [round(low * (high / low) ** (i / max(trials - 1, 1)), 6) for i in range(trials)]
    space = {"optimizer.lr": {"type": "categorical", "choices": lrs}}
    search = {**RAW["search"], "n_trials": trials, "space": space}
    data = {**RAW["data"], **(data or {})}
    return {**RAW, "data": data, "trainer": {"max_epochs": epochs}, "search": search}


def run_once(kind: str, raw: dict[str, Any]) -> float:
    """Wall seconds for one whole sweep of the grid, in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="bench-") as name:
        folder = Path(name)
        config = folder / "bench.yaml"
        config.write_text(yaml.safe_dump(raw))
        if kind == "script":
            return _timed([sys.executable, str(HERE / "handwritten.py"), str(config)], folder)
        workers = kind.split()[0]
        return _timed(["sweep", "run", str(config), "--workers", workers], folder)


def seconds(raw: dict[str, Any], rounds: int) -> dict[str, float]:
    """Median wall seconds of each kind over `rounds` rounds, rotating who goes first."""
    took: dict[str, list[float]] = {k: [] for k in KINDS}
    for i in range(rounds):
        for kind in KINDS[i % 3 :] + KINDS[: i % 3]:
            took[kind].append(run_once(kind, raw))
            print(
                f"    throughput round {i + 1}: {kind:9s} {took[kind][-1]:6.1f}s", file=sys.stderr
            )
    return {kind: statistics.median(values) for kind, values in took.items()}


def ceiling(trials: int, epochs: int, data: dict[str, int] | None = None) -> dict[str, float]:
    """The same trials as plain PyTorch loops: one process on 2 threads, or 2 on 1 each.

    No Lightning, no Optuna, no MLflow, no start-up: seconds from the go, given once every
    process has imported and built its loops, to the last one's exit. Their ratio is the most
    that 2 one-thread workers can gain on this model and machine over one two-thread process.
    """
    took = {}
    for name, procs, threads in (("1 process x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)):
        share = -(-trials // procs)
        spec = json.dumps({"threads": threads, "trials": share, "epochs": epochs, "data": data})
        cmd = [sys.executable, "-m", "benchmarks.throughput", "--loop-child", spec]
        children = [
            subprocess.Popen(
                cmd, cwd=HERE.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for _ in range(procs)
        ]
        for child in children:  # each has imported and built its loops
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        start = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            child.communicate()
        took[name] = time.perf_counter() - start
        print(f"    throughput ceiling: {name} {took[name]:6.1f}s", file=sys.stderr)
    return took


def _loop_child(spec: str) -> None:
    """One process of `ceiling`: `trials` plain loops of `epochs` on `threads` threads."""
    import torch

    from benchmarks.overhead import BENCH_LSTM, plain_loop

    orders = json.loads(spec)
    sizes = {**RAW["data"], **(orders["data"] or {})}
    torch.set_num_threads(orders["threads"])
    loops = [
        plain_loop(BENCH_LSTM, sizes["n_train"], sizes["n_val"], orders["epochs"], wall=True)
        for _ in range(orders["trials"])
    ]
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's go, once every process is ready
    for loop in loops:
        loop()


def run(quick: bool = False, rounds: int = 1, trials: int = 12, epochs: int = 8) -> list[Row]:
    """2 workers against 1 worker and against the script, as sweep wall time (goal 1/1.7)."""
    raw = sized(2, 1, QUICK_DATA) if quick else sized(trials, epochs)
    took = seconds(raw, rounds)
    n, e = raw["search"]["n_trials"], raw["trainer"]["max_epochs"]
    best = ceiling(n, e, QUICK_DATA if quick else None)
    what = f"{n} x {e}-epoch bench LSTM trials"
    rate = "time; goal 1.7x the trials/hour"
    return [
        Row(f"sweep of {what}, 2 workers vs 1", "--workers 1", took["1 worker"],
            "--workers 2", took["2 workers"], "s", goal=GOAL, note=rate),
        Row(f"sweep of {what}, 2 workers vs script", "handwritten.py", took["script"],
            "--workers 2", took["2 workers"], "s", goal=GOAL, note=rate),
        Row(f"sweep of {what}, 1 worker vs script", "handwritten.py", took["script"],
            "--workers 1", took["1 worker"], "s", note="time; both one process"),
        Row("ceiling: the same trials as plain loops, 2 x 1 thread vs 1 x 2", "1 process",
            best["1 process x 2 threads"], "2 processes", best["2 processes x 1 thread"], "s",
            note="time; the most 2 workers can gain here"),
    ]  # fmt: skip


def main() -> int:
    """This case alone, with a chosen size: the table, exit 1 if a goal was missed."""
    from benchmarks.stamp import stamp, text
    from benchmarks.table import render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    # A longer sweep shows the steady state: the workers' start-up (the imports of each) is
    # paid once per sweep, and a short sweep is mostly start-up.
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test only")
    parser.add_argument("--loop-child", help=argparse.SUPPRESS)  # one process of ceiling()
    args = parser.parse_args()
    if args.loop_child:
        _loop_child(args.loop_child)
        return 0
    print(text(stamp()))
    rows = run(args.quick, args.rounds, args.trials, args.epochs)
    print(render(rows))
    return 1 if any(r.met is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
