"""The `make bench` table: ratios, goals, the time-to-target arithmetic, and a smoke run."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import optuna
import pytest

from benchmarks import table
from benchmarks.measure import Row, alternate
from benchmarks.pruning import TARGET, epoch_clock, outcome


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


def _fake_case(quick: bool) -> list[Row]:
    return [Row("fake case", "plain", 2.0, "trial", 3.0, "s", goal=1.0)]


def test_a_run_writes_its_table_under_the_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(table.CASES, "fake", _fake_case)
    assert table.main(["fake", "--out", str(tmp_path)]) == 1  # its one goal was missed
    text = (tmp_path / "bench.md").read_text()
    for key in ("date", "commit", "CPU", "cores", "Python", "torch", "Lightning", "Optuna"):
        assert f"| {key} | " in text, text
    assert "| MLflow | " in text and "| cases | fake |" in text
    assert "| fake case | plain 2 s | trial 3 s | 1.500 | <= 1 | NO |" in text
    record = json.loads((tmp_path / "bench.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{12} \((clean|dirty)\)", record["stamp"]["commit"])
    assert record["stamp"]["goals"] == "1 missed"
    assert (record["rows"][0]["ratio"], record["rows"][0]["met"]) == (1.5, False)


def test_a_quick_run_writes_no_results_unless_told_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(table.CASES, "fake", _fake_case)
    monkeypatch.setattr(table, "RESULTS", tmp_path / "results")
    table.main(["fake", "--quick"])
    assert not (tmp_path / "results").exists()
    table.main(["fake"])
    assert (tmp_path / "results" / "bench.md").exists()


def _trial(number: int, values: list[float]) -> optuna.trial.FrozenTrial:
    start = dt.datetime(2026, 1, 1)
    return optuna.trial.FrozenTrial(
        number=number,
        state=optuna.trial.TrialState.PRUNED,
        value=None,
        datetime_start=start,
        datetime_complete=start,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values=dict(enumerate(values)),
        trial_id=number,
    )


def test_time_to_target_is_when_the_first_epoch_below_it_was_reported() -> None:
    study = optuna.create_study()
    study.add_trial(_trial(0, [0.167, 0.167]))  # never reaches it: 2 epochs
    study.add_trial(_trial(1, [0.1, 0.05, TARGET / 2, 0.001]))  # reaches it at its 3rd epoch
    study.add_trial(_trial(2, [TARGET / 3]))  # reaches it too, but later
    marks = {(1, 2): (16.0, 12.0), (2, 0): (20.0, 15.0)}
    got = outcome(study, marks)
    assert got.epochs == 7
    assert got.epochs_to_target == 2 + 3
    assert got.best == 0.001
    assert (got.to_target, got.cpu_to_target) == (16.0, 12.0)


def test_the_clock_marks_each_report_and_lets_go_of_optuna_after() -> None:
    with epoch_clock() as marks:
        trial = optuna.create_study().ask()
        trial.report(0.5, 0)
        trial.report(0.4, 1)
    assert sorted(marks) == [(0, 0), (0, 1)]
    assert marks[(0, 0)][0] <= marks[(0, 1)][0]
    trial.report(0.3, 2)
    assert len(marks) == 2


def test_no_trial_at_the_target_is_infinitely_far() -> None:
    study = optuna.create_study()
    study.add_trial(_trial(0, [0.2, math.nan]))
    got = outcome(study, {})
    assert (got.best, got.to_target, got.epochs_to_target) == (0.2, math.inf, math.inf)


@pytest.mark.slow
def test_every_case_runs_on_a_tiny_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the pruning case's sweeps keep their checkpoints under the cwd
    table.main(["--quick"])  # goals are not judged at this size; the exit code is not asserted
    out, err = capsys.readouterr()
    assert out.startswith("date: ")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > len(table.CASES)  # a header plus at least one row per case
    ran = {line.split(":")[0] for line in err.splitlines()}
    assert set(table.CASES) <= ran, err[-2000:]  # each case reports its time when done
