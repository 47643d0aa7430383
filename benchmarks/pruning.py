"""Does pruning pay? Time to a target and epochs spent, pruners against no pruning.

The adding problem at T = 100, whose loss sits on the 0.167 plateau before good trials drop.
Per seed, three studies with the same budget (trials, epochs per trial), search space and
sampler seed (so the same trials, in the same order) run in turn: the platform (`run_sweep`,
MLflow and SQLite included) with its default pruner (`plateau`) and with no pruning, and the
hand-written TPE + MedianPruner script (benchmarks/tpe_script.py). Figures are medians over the
seeds.

The budget is 20 epochs a trial, as in configs/adding.yaml: good trials leave the plateau late
in the first 10 epochs (pruning_curves.json records them), so with 10 epochs a trial that waits
for the drop costs more than half of one, and no pruner that spares late bloomers can halve the
epochs.

- Time to target: wall time from the study's start to the end of the first epoch with val
  MSE < 0.01, as `Trial.report` saw it (`epoch_clock`); and the process's CPU time until then,
  which other processes' load moves less (it leaves out waits on disk, such as SQLite's).
- Epochs spent: reported epochs summed over all trials, pruned ones included.
- Epochs to target: epochs trained, over the trials in order, up to and including that epoch.
  Unlike wall time it does not move with the machine's load; pruning is what changes it.
- Best value: the lowest val MSE any epoch of any trial reached.

    python -m benchmarks.pruning [--quick]
"""

from __future__ import annotations

import contextlib
import copy
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from benchmarks import tpe_script
from benchmarks.measure import Row
from sweeps.config.schema import validate
from sweeps.runner.coordinator import run_sweep

TARGET = 0.01
SPACE: dict[str, list[Any]] = {
    "model.cell": ["rnn", "lstm", "gru"],
    "model.hidden_size": [16, 32],
    "optimizer.lr": [3e-3, 3e-2],
}
# The median pruner is left out to keep the run short; docs/pruning.md says why `plateau`, not
# it, is the default.
PRUNERS = {"default": {}, "none": {"name": "none"}}


@dataclass(frozen=True)
class Budget:
    data: dict[str, int]
    max_epochs: int
    n_trials: int
    seeds: tuple[int, ...]


FULL = Budget(
    {"seq_len": 100, "batch_size": 32, "n_train": 1024, "n_val": 256, "n_test": 64},
    max_epochs=20,
    n_trials=10,
    seeds=(0, 1, 2),
)
QUICK = Budget(
    {"seq_len": 10, "batch_size": 32, "n_train": 64, "n_val": 32, "n_test": 32},
    max_epochs=2,
    n_trials=2,
    seeds=(0,),
)


@dataclass(frozen=True)
class Outcome:
    best: float
    epochs: int
    to_target: float  # wall seconds; inf when no epoch reached the target
    cpu_to_target: float  # CPU seconds of this process until then; inf likewise
    epochs_to_target: float  # epochs trained until then; inf when none reached it


Marks = dict[tuple[int, int], tuple[float, float]]  # (trial, step) -> (wall s, CPU s) at report


@contextlib.contextmanager
def epoch_clock() -> Iterator[Marks]:
    """When each epoch ended, for every study in the block: wall and CPU seconds from its start.

    Both the platform and the script call `Trial.report` once per epoch, so timing it is
    timing the epochs alike, with no interpolation within a trial. Sides run in this process.
    """
    marks: Marks = {}
    report = optuna.trial.Trial.report
    wall, cpu = time.perf_counter(), time.process_time()

    def timed(self: optuna.trial.Trial, value: float, step: int) -> None:
        marks[(self.number, step)] = (time.perf_counter() - wall, time.process_time() - cpu)
        report(self, value, step)

    optuna.trial.Trial.report = timed  # type: ignore[method-assign]
    try:
        yield marks
    finally:
        optuna.trial.Trial.report = report  # type: ignore[method-assign]


def outcome(study: optuna.Study, marks: Marks) -> Outcome:
    """Best value, epochs spent and time (wall, CPU, epochs) to target of a finished study."""
    best, epochs, first_epochs = math.inf, 0, math.inf
    first: tuple[float, float] = (math.inf, math.inf)
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        steps = sorted(t.intermediate_values)
        values = [t.intermediate_values[s] for s in steps]
        best = min([best, *(v for v in values if not math.isnan(v))])
        hit = next((i for i, v in enumerate(values) if v < TARGET), None)
        if hit is not None and math.isinf(first_epochs):
            first_epochs = epochs + hit + 1
            first = marks[(t.number, steps[hit])]
        epochs += len(steps)
    return Outcome(best, epochs, first[0], first[1], first_epochs)


def platform_study(budget: Budget, pruner: dict[str, Any], seed: int) -> Outcome:
    """One `run_sweep` study in a fresh folder (both stores embedded SQLite)."""
    with tempfile.TemporaryDirectory() as folder:
        raw = {
            "name": "pruning-bench",
            "data": {"name": "adding", **budget.data},
            "model": {"cell": "lstm", "hidden_size": 32},
            "optimizer": {"name": "adam", "lr": 0.01, "grad_clip": 1.0},
            "trainer": {"max_epochs": budget.max_epochs},
            "search": {
                "n_trials": budget.n_trials,
                "sampler": {"name": "tpe", "seed": seed},
                "pruner": copy.deepcopy(pruner),
                "space": {
                    "model.cell": {"type": "categorical", "choices": SPACE["model.cell"]},
                    "model.hidden_size": {
                        "type": "categorical",
                        "choices": SPACE["model.hidden_size"],
                    },
                    "optimizer.lr": {
                        "type": "float",
                        "low": SPACE["optimizer.lr"][0],
                        "high": SPACE["optimizer.lr"][1],
                        "log": True,
                    },
                },
            },
            "tracking": {"uri": f"sqlite:///{folder}/mlflow.db"},
        }
        storage = f"sqlite:///{folder}/optuna.db"
        # The sweep keeps its trials' checkpoints under the working folder: the study's, here.
        with contextlib.chdir(folder), epoch_clock() as marks:
            run_sweep(validate(raw), storage=storage, report=lambda line: None)
        return outcome(optuna.load_study(study_name="pruning-bench", storage=storage), marks)


def script_study(budget: Budget, seed: int) -> Outcome:
    """The hand-written TPE + MedianPruner script on the same data, space and budget."""
    with epoch_clock() as marks:
        study = tpe_script.run_study(
            {**budget.data, "seed": 0}, budget.max_epochs, SPACE, budget.n_trials, seed
        )
    return outcome(study, marks)


def run(quick: bool = False) -> list[Row]:
    """Epochs and best value against no pruning, and time to target against the script."""
    budget = QUICK if quick else FULL
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same for every side, and less noise from the other core
    try:
        got = _studies(budget)
    finally:
        torch.set_num_threads(threads)
    med = {
        side: Outcome(
            statistics.median(o.best for o in outs),
            int(statistics.median(o.epochs for o in outs)),
            statistics.median(o.to_target for o in outs),
            statistics.median(o.cpu_to_target for o in outs),
            statistics.median(o.epochs_to_target for o in outs),
        )
        for side, outs in got.items()
    }
    none, script = med["none"], med["script"]
    seeds = f"median of {len(budget.seeds)} seeds"
    # A ratio of medians pairs the sides' median seeds, which need not be the same seed: the
    # per-seed ratios show which seeds the platform wins and by how much.
    per_seed = ", ".join(
        f"{p.to_target / s.to_target:.3f}"
        for p, s in zip(got["default"], got["script"], strict=True)
    )
    mine = med["default"]
    rows = [
        Row("pruning pay-off, default (plateau): epochs spent", "no pruning", none.epochs,
            "default", mine.epochs, "epochs", goal=0.5, note=seeds),
        Row("pruning pay-off, default (plateau): best val MSE", "no pruning", none.best,
            "default", mine.best, "MSE", goal=1.02, note=seeds),
        Row(f"time to val MSE < {TARGET}, default (plateau)", "hand-written TPE+median",
            script.to_target, "default", mine.to_target, "s", goal=1.0,
            note=f"{seeds}; per seed {per_seed}"),
        Row(f"CPU time to val MSE < {TARGET}, default (plateau)", "hand-written TPE+median",
            script.cpu_to_target, "default", mine.cpu_to_target, "s", note=f"{seeds}; less load"),
        Row(f"epochs to val MSE < {TARGET}, default (plateau)", "hand-written TPE+median",
            script.epochs_to_target, "default", mine.epochs_to_target, "epochs", note=seeds),
    ]  # fmt: skip
    rows.append(
        Row(f"time to val MSE < {TARGET}, no pruning", "hand-written TPE+median",
            script.to_target, "no pruning", none.to_target, "s", note=seeds)
    )  # fmt: skip
    return rows


def _studies(budget: Budget) -> dict[str, list[Outcome]]:
    sides = [*PRUNERS, "script"]
    got: dict[str, list[Outcome]] = {side: [] for side in sides}
    # Untimed, one epoch: the first study in a process pays for lazy imports, store creation
    # code and generating the data set, whichever side it is.
    warm_up = Budget(budget.data, max_epochs=1, n_trials=1, seeds=(0,))
    platform_study(warm_up, PRUNERS["default"], 0)
    script_study(warm_up, 0)
    for i, seed in enumerate(budget.seeds):
        for side in sides[i % len(sides) :] + sides[: i % len(sides)]:  # rotate who goes first
            if side == "script":
                out = script_study(budget, seed)
            else:
                out = platform_study(budget, PRUNERS[side], seed)
            got[side].append(out)
            print(f"    pruning seed {seed} {side}: {out}", file=sys.stderr, flush=True)
    return got


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["pruning", *sys.argv[1:]]))
