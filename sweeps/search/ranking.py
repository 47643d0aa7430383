"""How trials compare: which way the study optimises, and the one value each trial counts by.

Every place that ranks trials or picks a best one (the pruner, `sweep best`, `sweep status`,
the leaderboard, the report, warm start, the diagnostics plots) asks here, so they cannot
disagree. The rule for a pruned trial: it counts by the best value it reported, as a completed
trial counts by its best epoch. Its last report would rank it by the epoch at which the pruner
happened to stop it, which says more about the pruner than about the trial.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


def maximizing(study: optuna.Study) -> bool:
    """Whether the study's first objective, the one that ranks trials, is maximised."""
    return study.directions[0] == StudyDirection.MAXIMIZE


def best_of(values: Iterable[float], *, maximize: bool) -> float:
    """The best of `values` in the study's direction (they must not be empty)."""
    return max(values) if maximize else min(values)


def better(a: float, b: float, *, maximize: bool) -> bool:
    """Whether `a` is strictly better than `b` in the study's direction."""
    return a > b if maximize else a < b


def best_index(values: Sequence[float], *, maximize: bool) -> int:
    """The index of the best finite value (the first of ties), or -1 when none is finite."""
    best = -1
    for i, value in enumerate(values):
        if math.isfinite(value) and (best < 0 or better(value, values[best], maximize=maximize)):
            best = i
    return best


def trial_value(trial: FrozenTrial, *, maximize: bool) -> float | None:
    """What a trial counts by: a complete trial's (first) value, a pruned trial's best finite
    report; None for a trial that failed, runs, or was pruned before reporting."""
    if trial.state == TrialState.COMPLETE:
        return float(trial.values[0]) if trial.values else None
    if trial.state != TrialState.PRUNED:
        return None
    reports = [v for v in trial.intermediate_values.values() if math.isfinite(v)]
    return best_of(reports, maximize=maximize) if reports else None


def best_trial(trials: Iterable[FrozenTrial], *, maximize: bool) -> FrozenTrial:
    """The one of COMPLETE `trials` (not empty) with the best first value; the first of ties."""
    pick = max if maximize else min
    return pick(trials, key=lambda t: float(t.values[0]))


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE trials, best first, as the study ranks them; with several objectives, the
    Pareto front, by the first objective."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(study.directions) > 1:
        done = study.best_trials
    return sorted(done, key=lambda t: t.values[0], reverse=maximizing(study))
