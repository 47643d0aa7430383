"""The `make bench` table: ratios, goals, the time-to-target arithmetic, and a smoke run."""

from __future__ import annotations

import datetime as dt
import math

import optuna
import pytest

from benchmarks import table
from benchmarks.measure import Row, alternate
from benchmarks.pruning import TARGET, outcome


def test_a_row_is_judged_on_its_ratio() -> None:
    fast = Row("per step", "plain", 2.0, "trial", 2.5, "ms", goal=1.5)
    slow = Row("per step", "plain", 2.0, "trial", 3.5, "ms", goal=1.5)
    info = Row("fixed cost", "plain", 2.0, "trial", 0.1, "s")
    assert (fast.ratio, fast.met) == (1.25, True)
    assert (slow.ratio, slow.met) == (1.75, False)
    assert info.met is None
    text = table.render([fast, slow, info])
    assert text.count("\n") == 4  # header, rule, three rows
    assert "| 1.750 | <= 1.5 | NO |" in text and "| 1.250 | <= 1.5 | yes |" in text


def test_alternate_calls_each_side_in_turn() -> None:
    calls: list[str] = []

    def side(name: str, seconds: float) -> float:
        calls.append(name)
        return seconds

    med = alternate({"a": lambda: side("a", 1.0), "b": lambda: side("b", 2.0)}, 3)
    assert calls == ["a", "b"] * 3
    assert med == {"a": 1.0, "b": 2.0}


def test_unknown_case_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        table.main(["no-such-case"])
    assert exc.value.code == 2
    assert "overhead" in capsys.readouterr().err


def _trial(start: dt.datetime, seconds: float, values: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.FrozenTrial(
        number=0,
        state=optuna.trial.TrialState.PRUNED,
        value=None,
        datetime_start=start,
        datetime_complete=start + dt.timedelta(seconds=seconds),
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values=dict(enumerate(values)),
        trial_id=0,
    )


def test_time_to_target_interpolates_within_the_first_trial_to_reach_it() -> None:
    t0 = dt.datetime(2026, 1, 1)
    study = optuna.create_study()
    study.add_trial(_trial(t0, 10.0, [0.167, 0.167]))  # never reaches it: 2 epochs
    # starts at 10 s, reaches the target at its 3rd of 4 epochs: 10 + 3/4 * 8 = 16 s
    study.add_trial(_trial(t0 + dt.timedelta(seconds=10), 8.0, [0.1, 0.05, TARGET / 2, 0.001]))
    got = outcome(study, t0)
    assert got.epochs == 6
    assert got.epochs_to_target == 2 + 3
    assert got.best == 0.001
    assert got.to_target == pytest.approx(16.0)


def test_no_trial_at_the_target_is_infinitely_far() -> None:
    study = optuna.create_study()
    study.add_trial(_trial(dt.datetime(2026, 1, 1), 1.0, [0.2, math.nan]))
    got = outcome(study, dt.datetime(2026, 1, 1))
    assert (got.best, got.to_target, got.epochs_to_target) == (0.2, math.inf, math.inf)


@pytest.mark.slow
def test_every_case_runs_on_a_tiny_budget(capsys: pytest.CaptureFixture[str]) -> None:
    table.main(["--quick"])  # goals are not judged at this size; the exit code is not asserted
    out, err = capsys.readouterr()
    assert out.startswith("machine: ")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > len(table.CASES)  # a header plus at least one row per case
    ran = {line.split(":")[0] for line in err.splitlines()}
    assert set(table.CASES) <= ran, err[-2000:]  # each case reports its time when done
