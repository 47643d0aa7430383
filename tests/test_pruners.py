"""PlateauPruner: late bloomers wait out the plateau; trials that never leave it are pruned."""

from __future__ import annotations

import math

import optuna
import pytest

from sweeps.pruners import PlateauPruner

P = 0.167  # the plateau every adding-problem trial starts on
EARLY = [P, 0.05, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]  # drops at step 1
LATE = [P, P, P, P, P, P, 0.06, 0.02, 0.01, 0.01]  # drops at step 6


def _study(
    pruner: optuna.pruners.BasePruner, *curves: list[float], maximize: bool = False
) -> optuna.Study:
    study = optuna.create_study(pruner=pruner, direction="maximize" if maximize else "minimize")
    for curve in curves:
        trial = study.ask()
        for step, value in enumerate(curve):
            trial.report(value, step)
        study.tell(trial, min(curve) if not maximize else max(curve))
    return study


def _pruned_at(study: optuna.Study, curve: list[float]) -> int | None:
    """The first step at which the pruner would stop a new trial with this curve."""
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(value, step)
        if trial.should_prune():
            return step
    return None


def test_a_late_bloomer_waits_where_the_median_pruner_prunes_it() -> None:
    middle = [P, P, P, 0.05, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01]  # drops at step 3
    median = _study(optuna.pruners.MedianPruner(2, 0), EARLY, LATE)
    plateau = _study(PlateauPruner(2, 0), EARLY, LATE)
    assert _pruned_at(median, middle) is not None  # the median pruner loses it on the plateau
    assert _pruned_at(plateau, middle) is None


def test_a_trial_that_never_drops_is_pruned_once_the_slowest_dropper_had_dropped() -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    assert _pruned_at(study, [P] * 10) == 7  # LATE dropped at step 6


def test_nothing_is_pruned_before_a_completed_trial_has_dropped() -> None:
    study = _study(PlateauPruner(2, 0), [P] * 10, [P] * 10)
    assert _pruned_at(study, LATE) is None
    assert _pruned_at(study, [P] * 10) is None


def test_a_trial_that_has_dropped_is_never_pruned() -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    # Worse than both others at every step, but off the plateau: it is learning the task.
    slow = [P, P, P, P, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09]
    assert _pruned_at(study, slow) is None


def test_warmup_and_startup_trials_hold_it_back() -> None:
    assert _pruned_at(_study(PlateauPruner(3, 0), EARLY, LATE), [P] * 10) is None
    assert _pruned_at(_study(PlateauPruner(2, 9), EARLY, LATE), [P] * 10) == 9


def test_maximize_mirrors_minimize() -> None:
    flip = [[1 - v for v in curve] for curve in (EARLY, LATE)]
    study = _study(PlateauPruner(2, 0), *flip, maximize=True)
    assert _pruned_at(study, [1 - P] * 10) == 7


def test_a_diverged_trial_counts_as_worst_not_best() -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    assert _pruned_at(study, [P, P, P, P, P, P, P, math.nan, math.nan, math.nan]) == 7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_startup_trials": -1}, "n_startup_trials"), ({"min_drop": 1.0}, "min_drop")],
)
def test_bad_options_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PlateauPruner(**kwargs)  # type: ignore[arg-type]
