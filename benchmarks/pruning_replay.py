"""Replay recorded no-pruning studies through a pruner: epochs spent and best kept, in seconds.

`pruning_curves.json` holds the per-epoch val MSE of every trial of no-pruning studies that
benchmarks/pruning.py ran on the platform (`platform_study` with pruner `none`): the adding
problem at T = 100 for seeds 0 to 5 (0 to 2 are the benchmark's, 3 to 5 held out) and T = 50
for seeds 0 to 2; 10 trials of 20 epochs, TPE. Its 10 start-up trials are random, so a pruned
study trains the same trials and a replay is exact, except that a pruned trial's later epochs
are not trained. Use it to try a pruning rule before the minutes-long benchmark.

    python -m benchmarks.pruning_replay
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import optuna

from sweeps.config.search import PrunerConfig
from sweeps.search.pruners import make_pruner

CURVES = Path(__file__).with_name("pruning_curves.json")
MAX_EPOCHS = 20


@dataclass(frozen=True)
class Replay:
    epochs: int  # epochs trained with the pruner
    best: float  # lowest val MSE reached with the pruner
    all_epochs: int  # without pruning
    all_best: float  # without pruning


def studies() -> dict[str, list[list[float]]]:
    """Each recorded study's trials, in order, as their per-epoch values."""
    raw = json.loads(CURVES.read_text())
    return {name: [t["values"] for t in trials] for name, trials in raw.items()}


def replay(trials: list[list[float]], pruner: optuna.pruners.BasePruner) -> Replay:
    """Run the recorded trials in order through `pruner`, stopping each where it prunes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=pruner)
    epochs, best = 0, math.inf
    for values in trials:
        trial = study.ask()
        pruned = False
        for step, value in enumerate(values):
            trial.report(value, step)
            epochs, best = epochs + 1, min(best, value)
            if trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, min(values))
    every = [v for values in trials for v in values]
    return Replay(epochs, best, len(every), min(every))


def default_pruner() -> optuna.pruners.BasePruner:
    """The project's default pruner, as a sweep of the recorded studies' epochs builds it."""
    return make_pruner(PrunerConfig(), MAX_EPOCHS)


def main() -> None:
    ratios = []
    for name, trials in studies().items():
        got = replay(trials, default_pruner())
        ratios.append(got.epochs / got.all_epochs)
        kept = "kept" if got.best <= 1.02 * got.all_best else "LOST"
        print(
            f"{name}: {got.epochs}/{got.all_epochs} epochs ({ratios[-1]:.3f}), "
            f"best {got.best:.4g} against {got.all_best:.4g}: {kept}"
        )
    print(f"median ratio over the {len(ratios)} studies: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
