"""Several objectives: lists in the config, pruning refused, the Pareto front shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import tiny_raw, write_config
from mlflow import MlflowClient
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial
from typer.testing import CliRunner

from sweeps.cli.app import app
from sweeps.config.schema import validate
from sweeps.errors import ConfigError
from sweeps.search.space import check_space
from sweeps.track.leaderboard import markdown, ranked
from sweeps.track.report import report_data


def multi_raw(**search: Any) -> dict[str, Any]:
    raw = tiny_raw()
    raw["search"].update(
        {"metric": ["val_loss", "n_parameters"], "direction": ["minimize", "minimize"], **search}
    )
    return raw


def test_lists_set_every_objective_and_keep_the_first_as_the_metric() -> None:
    search = validate(multi_raw()).search
    assert (search.metric, search.direction) == ("val_loss", "minimize")
    assert search.all_metrics() == ["val_loss", "n_parameters"]
    assert search.all_directions() == ["minimize", "minimize"]
    again = validate(validate(multi_raw()).model_dump(mode="json")).search  # a trial's config
    assert again.all_metrics() == ["val_loss", "n_parameters"]
    with pytest.raises(ConfigError, match="lists of the same length, but got 2 metrics and 1"):
        validate(multi_raw(direction=["minimize"]))


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"pruner": {"name": "median"}}, "pruner.name must be none with several objectives"),
        ({"metric": ["val_loss", "val_mae"]}, r"search.metric\[1\] 'val_mae' cannot be"),
        ({"sampler": {"name": "cmaes"}}, "'cmaes' is single-objective"),
    ],
)
def test_what_multi_objective_search_cannot_do(search: dict[str, Any], message: str) -> None:
    raw = multi_raw(pruner={"name": "none"})
    raw["search"].update(search)
    with pytest.raises(ConfigError, match=message):
        check_space(validate(raw))


def front_study() -> optuna.Study:
    """(loss, size): 0 and 1 trade off; 2 is dominated by 0."""
    study = optuna.create_study(directions=["minimize", "minimize"], study_name="front")
    dist = {"model.hidden_size": CategoricalDistribution([8, 32])}
    for loss, size in [(0.01, 900.0), (0.1, 100.0), (0.2, 950.0)]:
        study.add_trial(
            create_trial(values=[loss, size], params={"model.hidden_size": 8}, distributions=dist)
        )
    return study


def test_leaderboard_and_report_show_the_front() -> None:
    study = front_study()
    assert [t.number for t in ranked(study)] == [0, 1]
    text = markdown(study, "val_loss", "1")
    assert text.startswith("**Pareto front: 2 trials** trading off val_loss, value 1")
    assert "| 1 | 0 | 0.01 | 900 | 8 |" in text and "| 2 | 1 | 0.1 | 100 | 8 |" in text
    assert report_data(study)["pareto"] == [0, 1]


@pytest.mark.slow
def test_sweep_best_lists_the_pareto_front(workdir: Path) -> None:
    raw = multi_raw(pruner={"name": "none"}, n_trials=3)
    raw["trainer"] = {"max_epochs": 1}
    raw["search"]["space"]["model.hidden_size"] = {"type": "categorical", "choices": [4, 16]}
    path = str(write_config(workdir, raw))
    runner = CliRunner()
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 0, result.output
    from sweeps.stores.storage import DEFAULT_STORAGE, open_storage

    study = optuna.load_study(study_name="tiny", storage=open_storage(DEFAULT_STORAGE))
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    for trial in study.trials:  # the objectives are what each run recorded
        metrics = client.get_run(trial.user_attrs["mlflow_run_id"]).data.metrics
        assert trial.values == [metrics["val_loss"], metrics["n_parameters"]]
    best = runner.invoke(app, ["best", path])
    assert best.exit_code == 0, best.output
    front = {t.number for t in study.best_trials}
    assert f"Pareto front of val_loss, n_parameters: {len(front)} trials" in best.output
    for number in front:
        assert f"  trial {number}: " in best.output
    report = runner.invoke(app, ["report", path, "--out", "r.html"])
    assert report.exit_code == 0, report.output
    assert '"pareto": [' in (workdir / "r.html").read_text()
