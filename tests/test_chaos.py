"""The chaos run's plan and its final checks: each check must be able to fail."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState, create_trial

from benchmarks.chaos import FAULTS, plan
from benchmarks.chaos_checks import Verdict, check_secret, check_study
from sweeps.keys import RESUMED_ATTR, RETRY_OF


def test_the_plan_draws_every_kind_evenly_and_the_seed_fixes_its_order() -> None:
    counts = Counter(plan(50, random.Random(1)))
    assert set(counts) == set(FAULTS)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert plan(50, random.Random(1)) == plan(50, random.Random(1))
    assert plan(50, random.Random(1)) != plan(50, random.Random(2))


def _study(*trials: optuna.trial.FrozenTrial) -> optuna.Study:
    study = optuna.create_study()
    for trial in trials:
        study.add_trial(trial)
    return study


def _trial(state: TrialState, epochs: int, **attrs: object) -> optuna.trial.FrozenTrial:
    values = {epoch: 1.0 for epoch in range(epochs)}
    value = 1.0 if state == TrialState.COMPLETE else None
    return create_trial(state=state, value=value, intermediate_values=values, user_attrs=attrs)


def test_the_study_check_counts_retries_and_epochs_lost_and_flags_what_is_wrong() -> None:
    cut = _trial(TrialState.FAIL, 3)  # trial 0: interrupted after 3 epochs
    retry = _trial(TrialState.COMPLETE, 4, **{RETRY_OF: 0, RESUMED_ATTR: 2})  # redid epoch 2
    verdict = Verdict()
    check_study(_study(cut, retry, _trial(TrialState.PRUNED, 2)), 2, verdict)
    assert verdict.problems == []
    assert (verdict.retried, verdict.epochs_lost) == (1, 1)
    wrong = Verdict()
    check_study(_study(_trial(TrialState.COMPLETE, 4), _trial(TrialState.RUNNING, 1)), 2, wrong)
    assert any("1 trials COMPLETE or PRUNED, not 2" in p for p in wrong.problems)
    assert any("still RUNNING" in p for p in wrong.problems)


def test_the_secret_check_finds_a_password_in_a_file_or_an_attribute(tmp_path: Path) -> None:
    (tmp_path / "run-1.log").write_text("storage postgresql://u:***@host/db\n")
    clean = Verdict()
    check_secret("hunter2", [tmp_path], _study(_trial(TrialState.COMPLETE, 1)), clean)
    assert clean.problems == []
    (tmp_path / "run-2.log").write_text("storage postgresql://u:hunter2@host/db\n")
    leaked = Verdict()
    study = _study(_trial(TrialState.COMPLETE, 1, storage="postgresql://u:hunter2@h/db"))
    check_secret("hunter2", [tmp_path], study, leaked)
    assert len(leaked.problems) == 2, leaked.problems
