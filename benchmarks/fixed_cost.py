"""The fixed cost of one more tiny trial: whole processes, (8 trials - 2 trials) / 6.

A sweep's cost per trial beyond its training: the trial's run and records in MLflow and
Optuna, its checkpoints, the probes, the leaderboard rewritten after it, the heartbeats.
Measured as whole processes, so whatever grows with the trial count is in it: `sweep run
--workers 1` of 8 and of 2 trials of the near-zero model (2 epochs of 256 sequences), against
a process that runs 8 and 2 plain loops of the same model; each side's marginal trial is the
difference over 6. The goal: the sweep's marginal trial at most 0.08 s over the plain loop's.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.measure import Row
from benchmarks.overhead import NEAR_ZERO

FEW, MANY = 2, 8
N_TRAIN, N_VAL, EPOCHS = 256, 64, 2
BUDGET_S = 0.08  # the sweep's marginal trial over the plain loop's, at most


def _sweep(trials: int) -> float:
    raw = NEAR_ZERO.raw(N_TRAIN, N_VAL, EPOCHS, "cpu")
    raw["search"] |= {
        "n_trials": trials,
        "sampler": {"name": "random", "seed": 0},
        "pruner": {"name": "none"},
        "space": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    }
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as folder:
        config = Path(folder) / "bench.yaml"
        config.write_text(yaml.safe_dump(raw))
        return _timed([sys.executable, "-m", "sweeps", "run", str(config)], folder)


def _plain(trials: int) -> float:
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from benchmarks.overhead import NEAR_ZERO, plain_loop\n"
        f"for _ in range({trials}): plain_loop(NEAR_ZERO, {N_TRAIN}, {N_VAL}, {EPOCHS})()\n"
    )
    return _timed([sys.executable, "-c", code], str(Path(__file__).resolve().parent.parent))


def _timed(command: list[str], folder: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def run(quick: bool = False, rounds: int = 3) -> list[Row]:
    """The sweep's marginal tiny trial over the plain loop's, as a share of BUDGET_S."""
    rounds = 1 if quick else rounds
    marginal: dict[str, list[float]] = {"sweep": [], "plain": []}
    for _ in range(rounds):  # the sides alternate, so load on the machine hits each
        for side, timed in (("sweep", _sweep), ("plain", _plain)):
            marginal[side].append((timed(MANY) - timed(FEW)) / (MANY - FEW))
    sweep, plain = (statistics.median(marginal[side]) for side in ("sweep", "plain"))
    return [
        Row(f"fixed cost of one more tiny trial ({EPOCHS} epochs of {N_TRAIN} sequences), "
            f"({MANY} - {FEW} trials) / {MANY - FEW}, whole processes", "budget", BUDGET_S,
            "sweep - plain loop", sweep - plain, "s", goal=1.0,
            note=f"share of budget; sweep {sweep:.3f} s, plain loop {plain:.3f} s a trial"),
    ]  # fmt: skip
