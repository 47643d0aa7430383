"""PlateauPruner: late bloomers wait out the plateau as long as others did; laggards are pruned."""

from __future__ import annotations

import math

import optuna
import pytest

from benchmarks.pruning_replay import default_pruner, replay, studies
from sweeps.search.pruners import PlateauPruner

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


def test_a_trial_that_never_drops_is_pruned_where_the_slowest_dropper_had_dropped() -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    assert _pruned_at(study, [P] * 10) == 6  # LATE was off the plateau at step 6; this is not


def test_a_pruned_trial_that_had_dropped_counts_as_a_dropper() -> None:
    study = _study(PlateauPruner(1, 9), EARLY)
    trial = study.ask()
    for step, value in enumerate(LATE[:8]):
        trial.report(value, step)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # dropped at step 6, then pruned
    assert _pruned_at(study, [P] * 10) == 6


def test_while_no_trial_has_dropped_a_trial_waits_the_warmup() -> None:
    flat = _study(PlateauPruner(1, 5), [P] * 10, [P] * 10)
    assert _pruned_at(flat, [P] * 10) == 5
    assert _pruned_at(flat, LATE) == 5  # the risk it takes: a warm-up shorter than the drop
    assert _pruned_at(_study(PlateauPruner(1, 8), [P] * 10, [P] * 10), LATE) is None


def test_the_first_trial_waits_the_warmup_like_the_others() -> None:
    # Running it to the end on the plateau cost half a trial and taught nothing about drops.
    assert _pruned_at(_study(PlateauPruner(n_warmup_steps=5)), [P] * 10) == 5


def test_the_last_step_is_never_pruned_where_it_would_save_nothing() -> None:
    assert _pruned_at(_study(PlateauPruner(n_warmup_steps=0)), [P]) == 0
    assert _pruned_at(_study(PlateauPruner(n_warmup_steps=0, max_steps=1)), [P]) is None
    # Before the last step it prunes as before.
    assert _pruned_at(_study(PlateauPruner(2, 0, max_steps=10), EARLY, LATE), [P] * 10) == 6


def test_a_dropped_trial_is_ranked_once_two_trials_have_completed() -> None:
    # A step behind the only completed trial is no sign of a bad trial: in the benchmark's
    # replays, the trial pruned that way was the study's eventual best.
    behind = [P, 0.06, 0.03, 0.02, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005]
    assert _pruned_at(_study(PlateauPruner(n_warmup_steps=0), EARLY), behind) is None
    assert _pruned_at(_study(PlateauPruner(n_warmup_steps=0), EARLY, EARLY), behind) == 3


def test_a_trial_that_dropped_is_judged_against_the_completed_ones_after_settling() -> None:
    slow = [P, P, P, P, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09]  # drops at step 4
    # At step 6 its best, 0.12, is worse than the median of EARLY's 0.01 and LATE's 0.06.
    assert _pruned_at(_study(PlateauPruner(2, 0), EARLY, LATE), slow) == 6
    # With fewer completed trials than n_startup_trials, a trial that dropped is kept.
    assert _pruned_at(_study(PlateauPruner(3, 0), EARLY, LATE), slow) is None


def test_on_a_smoothly_falling_loss_it_is_the_median_pruner_after_a_settle() -> None:
    good = [1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06, 0.05, 0.04]
    worse = [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    study = _study(PlateauPruner(2, 5), good, good)
    assert _pruned_at(study, worse) == 3  # dropped at step 1, ranked from step 3
    assert _pruned_at(study, good) is None


def test_maximize_mirrors_minimize() -> None:
    flip = [[1 - v for v in curve] for curve in (EARLY, LATE)]
    study = _study(PlateauPruner(2, 0), *flip, maximize=True)
    assert _pruned_at(study, [1 - P] * 10) == 6


def test_a_diverged_trial_counts_as_worst_not_best() -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    assert _pruned_at(study, [P, P, math.nan, math.nan, math.nan, math.nan, math.nan]) == 6


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_startup_trials": -1}, "n_startup_trials"),
        ({"min_drop": 1.0}, "min_drop"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PlateauPruner(**kwargs)  # type: ignore[arg-type]


def test_the_default_keeps_the_best_of_every_recorded_adding_study() -> None:
    # Real no-pruning studies replayed (benchmarks/pruning_replay.py): with the ranking after one
    # completed trial instead of two, T=100 seed 1 lost its best here.
    for name, trials in studies().items():
        got = replay(trials, default_pruner())
        assert got.best <= 1.02 * got.all_best, name
        assert got.epochs < got.all_epochs, name


def test_the_finished_trials_are_read_once_per_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    study = _study(PlateauPruner(2, 0), EARLY, LATE)
    reads = []
    get_trials = study.get_trials
    monkeypatch.setattr(study, "get_trials", lambda **kw: reads.append(1) or get_trials(**kw))
    _pruned_at(study, EARLY)
    assert len(reads) == 1  # ten reports, one read: with one worker nothing finishes meanwhile
    _pruned_at(study, EARLY)
    assert len(reads) == 2


def test_a_trial_another_worker_finished_is_seen_within_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr("sweeps.search.pruners.time.monotonic", lambda: clock[0])
    study = _study(PlateauPruner(1, 8))  # alone, a flat trial may wait 8 steps
    trial = study.ask()
    trial.report(P, 0)
    trial.report(P, 1)
    assert not trial.should_prune()
    # Meanwhile another worker's trial finished: it had dropped at step 1.
    study.add_trial(
        optuna.trial.create_trial(
            value=0.01,
            intermediate_values=dict(enumerate(EARLY)),
            distributions={},
            params={},
        )
    )
    trial.report(P, 2)
    assert not trial.should_prune()  # not read yet
    clock[0] += 2.5
    assert trial.should_prune()  # read again: it has waited longer than that trial did
