"""Per-cell statistics: pruned trials count by their best report, and who stayed at baseline."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from sweeps.keys import BASELINE_ATTR
from sweeps.search.ranking import trial_value
from sweeps.track.stats import at_baseline, by_choice, format_table

CELLS = CategoricalDistribution(["rnn", "gru"])
LR = FloatDistribution(1e-4, 1e-1, log=True)
BASELINE = 1 / 6


def _study(rows: list[tuple[str, TrialState, float | None, dict[int, float]]]) -> optuna.Study:
    study = optuna.create_study(direction="minimize")
    for cell, state, value, curve in rows:
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params={"model.cell": cell, "optimizer.lr": 0.01},
                distributions={"model.cell": CELLS, "optimizer.lr": LR},
                intermediate_values=curve,
                user_attrs={BASELINE_ATTR: BASELINE},
            )
        )
    return study


def test_pruned_trials_count_by_their_best_report() -> None:
    study = _study(
        [
            ("rnn", TrialState.COMPLETE, 0.15, {0: 0.17, 1: 0.15}),
            ("rnn", TrialState.PRUNED, None, {0: 0.2, 1: 0.165}),
            ("rnn", TrialState.PRUNED, None, {0: 0.17, 1: 0.16, 2: 0.168}),
            ("gru", TrialState.COMPLETE, 0.01, {0: 0.1, 1: 0.01}),
            ("gru", TrialState.COMPLETE, 0.002, {0: 0.1, 1: 0.002}),
            ("gru", TrialState.PRUNED, None, {0: 0.166}),
        ]
    )
    table = by_choice(study)
    assert set(table) == {"model.cell"}  # only categorical parameters are tabled
    rnn, gru = table["model.cell"]["rnn"], table["model.cell"]["gru"]
    assert (rnn.trials, rnn.complete, rnn.pruned) == (3, 1, 2)
    assert rnn.best == 0.15 and rnn.median == 0.16  # the pruned trials' best: 0.165, 0.16
    assert rnn.at_baseline == 3  # 0.15 is within 10% of 0.1667
    assert (gru.trials, gru.best, gru.median, gru.at_baseline) == (3, 0.002, 0.01, 1)
    lines = format_table(table, BASELINE)
    assert lines[0] == "by model.cell:" and "0.1667" in lines[1]
    assert any(line.split()[:5] == ["rnn", "3", "0.15", "0.16", "3"] for line in lines), lines


def test_a_fixed_cell_is_tabled_from_the_trial_config() -> None:
    study = optuna.create_study()
    study.add_trial(
        create_trial(
            value=0.1,
            params={"optimizer.lr": 0.01},
            distributions={"optimizer.lr": LR},
            user_attrs={"config": {"model": {"cell": "lstm"}}},
        )
    )
    assert by_choice(study)["model.cell"]["lstm"].trials == 1


def test_without_a_baseline_the_column_is_unknown_not_zero() -> None:
    study = optuna.create_study()
    study.add_trial(
        create_trial(value=0.1, params={"model.cell": "rnn"}, distributions={"model.cell": CELLS})
    )
    assert by_choice(study)["model.cell"]["rnn"].at_baseline is None


def test_at_baseline_follows_the_direction() -> None:
    assert at_baseline(0.155, BASELINE, maximize=False)
    assert not at_baseline(0.14, BASELINE, maximize=False)
    assert at_baseline(0.26, 0.25, maximize=True) and not at_baseline(0.9, 0.25, maximize=True)
    assert at_baseline(math.nan, BASELINE, maximize=False)  # diverged never beat it


def test_trial_value_of_a_failed_or_silent_trial_is_none() -> None:
    failed = create_trial(state=TrialState.FAIL)
    pruned_early = create_trial(state=TrialState.PRUNED)
    assert trial_value(failed, maximize=False) is None
    assert trial_value(pruned_early, maximize=False) is None


def test_parent_run_closes_when_every_trial_was_pruned(tmp_path: Path) -> None:
    from sweeps.track.tracking import Tracker

    study = optuna.create_study()
    trial = study.ask()
    trial.report(0.5, step=0)
    study.tell(trial, state=TrialState.PRUNED)  # it carries 0.5, yet nothing completed
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "all-pruned")
    run_id = tracker.client.create_run(tracker.experiment_id).info.run_id
    tracker.close_parent(run_id, study, status="FINISHED")  # raised ValueError before
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED" and "best.trial_number" not in run.data.tags


def test_status_leaderboard_and_report_agree_per_cell() -> None:
    """The three show one statistic: pruned trials whose best report is not their last."""
    from sweeps.track.leaderboard import markdown
    from sweeps.track.report import report_data

    study = _study(
        [
            ("rnn", TrialState.PRUNED, None, {0: 0.17, 1: 0.12, 2: 0.16}),  # best 0.12, last 0.16
            ("rnn", TrialState.PRUNED, None, {0: 0.18, 1: 0.14, 2: 0.175}),
            ("rnn", TrialState.COMPLETE, 0.15, {0: 0.17, 1: 0.15}),
            ("gru", TrialState.COMPLETE, 0.004, {0: 0.1, 1: 0.004}),
            ("gru", TrialState.PRUNED, None, {0: 0.1, 1: 0.003, 2: 0.09}),  # best 0.003
        ]
    )
    want = {"rnn": (3, 0.12, 0.14), "gru": (2, 0.003, 0.0035)}  # trials, best, median

    status = {
        line.split()[0]: line.split()[1:4] for line in format_table(by_choice(study), BASELINE)[2:]
    }
    board = {
        row[2]: row[3:]
        for line in markdown(study, "val_loss", "1").splitlines()
        if (row := [c.strip() for c in line.split("|")])[1:2] == ["model.cell"]
    }
    report = {r["choice"]: r for r in report_data(study)["cells"] if r["param"] == "model.cell"}
    for cell, (trials, best, median) in want.items():
        assert [int(status[cell][0]), float(status[cell][1]), float(status[cell][2])] == [
            trials,
            pytest.approx(best),
            pytest.approx(median),
        ], status
        shown = board[cell]  # trials, complete, pruned, best, median
        assert (int(shown[0]), float(shown[3]), float(shown[4])) == (
            trials,
            pytest.approx(best),
            pytest.approx(median),
        ), board
        got = report[cell]
        assert (got["trials"], got["best"], got["median"]) == (
            trials,
            pytest.approx(best),
            pytest.approx(median),
        ), report
