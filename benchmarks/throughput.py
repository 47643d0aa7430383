"""Sweep throughput: trials per hour for 1 and 2 workers, and for a hand-written script.

All three run the same trials: the bench LSTM on the adding problem, over the same grid of
learning rates, with no pruning, so every trial trains the same number of epochs. Each is a
fresh process in a fresh folder (imports, store creation and all), timed from start to exit:
`sweep run --workers 1`, `sweep run --workers 2`, and `benchmarks/handwritten.py`, a
single-process Optuna + Lightning + MLflow script in the style of optuna-examples. Rounds
alternate the three, so load on the machine hits each. Goals on 2 cores: 2 workers >= 1.7x
1 worker, and >= 1.7x the script.

    python benchmarks/throughput.py [--rounds 2] [--trials 16 --epochs 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
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


def sized(trials: int, epochs: int) -> dict[str, Any]:
    """RAW with `trials` learning rates log-spaced over LRS's range, and `epochs` per trial."""
    if trials == len(LRS) and epochs == RAW["trainer"]["max_epochs"]:
        return RAW
    low, high = LRS[0], LRS[-1]
    lrs = [round(low * (high / low) ** (i / max(trials - 1, 1)), 6) for i in range(trials)]
    space = {"optimizer.lr": {"type": "categorical", "choices": lrs}}
    search = {**RAW["search"], "n_trials": trials, "space": space}
    return {**RAW, "trainer": {"max_epochs": epochs}, "search": search}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    # A longer sweep shows the steady state: the workers' start-up (~5 s of imports each) is
    # paid once per sweep, and a 25-second sweep is mostly start-up.
    parser.add_argument("--trials", type=int, default=len(LRS))
    parser.add_argument("--epochs", type=int, default=RAW["trainer"]["max_epochs"])
    args = parser.parse_args()
    rounds, raw = args.rounds, sized(args.trials, args.epochs)
    kinds = ["1 worker", "2 workers", "script"]
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    load = os.getloadavg()[0]
    for i in range(rounds):
        order = kinds[i % 3 :] + kinds[: i % 3]
        for kind in order:
            seconds[kind].append(run_once(kind, raw))
            print(f"  round {i + 1}: {kind:9s} {seconds[kind][-1]:6.1f}s", flush=True)
    n = raw["search"]["n_trials"]
    rate = {k: n / statistics.median(v) * 3600 for k, v in seconds.items()}
    epochs = raw["trainer"]["max_epochs"]
    print(f"\n{n} trials of the bench LSTM ({epochs} epochs each), {rounds} round(s)")
    print(f"load average at start {load:.1f} on {os.cpu_count()} cores")
    for kind in kinds:
        median = statistics.median(seconds[kind])
        print(f"  {kind:9s} {rate[kind]:7.0f} trials/hour  (median {median:.1f}s)")
    print(f"  2 workers / 1 worker : {rate['2 workers'] / rate['1 worker']:.2f}x  (goal >= 1.7)")
    print(f"  2 workers / script   : {rate['2 workers'] / rate['script']:.2f}x  (goal >= 1.7)")


if __name__ == "__main__":
    main()
