"""The leaderboard in the parent run's description, from a study built in memory."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from sweeps.keys import EXPERIMENT_KIND, NOTE_TAG
from sweeps.search.ranking import ranked
from sweeps.track.leaderboard import Leaderboard, markdown
from sweeps.track.stats import by_choice
from sweeps.track.tracking import Tracker

DISTS = {
    "model.cell": CategoricalDistribution(["rnn", "lstm"]),
    "optimizer.lr": FloatDistribution(1e-3, 1e-1, log=True),
}


def fake_study() -> optuna.Study:
    """Two complete LSTMs, one pruned RNN whose best report beats its last, one failure."""
    study = optuna.create_study(study_name="fake", direction="minimize")

    def add(state: TrialState, cell: str, value: float | None, curve: list[float]) -> None:
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params={"model.cell": cell, "optimizer.lr": 0.01},
                distributions=DISTS,
                intermediate_values=dict(enumerate(curve)),
                user_attrs={"mlflow_run_id": f"run{len(study.trials)}"},
            )
        )

    add(TrialState.COMPLETE, "lstm", 0.02, [0.17, 0.02])
    add(TrialState.COMPLETE, "lstm", 0.001, [0.17, 0.001])
    add(TrialState.PRUNED, "rnn", None, [0.17, 0.15, 0.16])
    add(TrialState.FAIL, "rnn", None, [])
    return study


def test_ranked_and_per_cell_rows_count_pruned_trials() -> None:
    study = fake_study()
    assert [t.number for t in ranked(study)] == [1, 0]
    rows = by_choice(study)["model.cell"]
    assert rows["rnn"].trials == 1 and rows["rnn"].pruned == 1
    assert rows["rnn"].best == pytest.approx(0.15)  # its best report, not its last
    assert rows["lstm"].best == pytest.approx(0.001) and rows["lstm"].complete == 2
    assert rows["lstm"].median == pytest.approx((0.02 + 0.001) / 2)


def test_markdown_leads_with_the_best_trial_and_links_runs() -> None:
    text = markdown(fake_study(), "val_loss", "7")
    first = (
        "**Best val_loss = 0.001**, trial 1 "
        "([run](#/experiments/7/runs/run1?workflowType=machine_learning)): model.cell=lstm"
    )
    assert text.startswith(first)
    assert "4 trials, 2 complete, 1 fail, 1 pruned." in text
    top = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert top == [
        (
            "| 1 | 1 | 0.001 | lstm | 0.01 "
            "| [run](#/experiments/7/runs/run1?workflowType=machine_learning) |"
        )
    ]
    assert "| model.cell | rnn | 1 | 0 | 1 | 0.15 | 0.15 |" in text


def test_leaderboard_updates_parent_and_experiment(workdir: Path) -> None:
    tracker = Tracker(f"sqlite:///{workdir / 'mlflow.db'}", "board")
    parent = tracker.client.create_run(tracker.experiment_id).info.run_id
    study = fake_study()
    board = Leaderboard(tracker.client, tracker.experiment_id, parent, "val_loss")
    board(study)  # on opening (or resuming with nothing to do): the note, no new point
    board(study, study.trials[-1])  # a trial finished: one point, at the finished count
    run = tracker.client.get_run(parent)
    assert "**Best val_loss = 0.001**" in run.data.tags[NOTE_TAG]
    history = tracker.client.get_metric_history(parent, "best_value")
    assert [(m.step, m.value) for m in history] == [(4, 0.001)]
    experiment = tracker.client.get_experiment(tracker.experiment_id)
    assert experiment.tags.items() >= EXPERIMENT_KIND.items()
    pointer = experiment.tags[NOTE_TAG]
    assert parent in pointer and "0.001" in pointer
    assert "runs?workflowType=machine_learning&viewStateShareKey=ranked-fake" in pointer
    assert f"runs/{parent}?workflowType=machine_learning" in pointer
