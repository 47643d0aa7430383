"""End to end: a real sweep in a temp folder, checked through Optuna's and MLflow's own APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import close_open_stores, tiny_raw
from mlflow import MlflowClient
from optuna.trial import TrialState

from sweeps.config.loader import with_values
from sweeps.config.schema import validate
from sweeps.keys import INIT_ATTR, PARENT_ATTR, RUN_ATTR
from sweeps.runner.coordinator import run_sweep
from sweeps.search.study import best_config_yaml, load_existing

pytestmark = pytest.mark.slow

STORAGE = "sqlite:///optuna.db"


def _runs(client: MlflowClient, name: str) -> list:  # type: ignore[type-arg]
    exp = client.get_experiment_by_name(name)
    assert exp is not None
    return client.search_runs([exp.experiment_id], max_results=100)


def test_sweep_records_study_and_mlflow_runs(workdir: Path) -> None:
    config = validate(tiny_raw())
    lines: list[str] = []
    summary = run_sweep(config, storage=STORAGE, report=lines.append)
    assert summary.counts == {"COMPLETE": 3}
    study = load_existing("tiny", STORAGE)
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    runs = {r.info.run_id: r for r in _runs(client, "tiny")}
    parent_id = study.user_attrs[PARENT_ATTR]
    parent = runs.pop(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep.study"] == "tiny"
    assert parent.data.metrics["best_value"] == pytest.approx(study.best_value)
    assert parent.data.tags["best.trial_number"] == str(study.best_trial.number)
    assert "version.torch" in parent.data.tags
    assert float(parent.data.tags["baseline.val_loss"]) == pytest.approx(1 / 6, rel=1e-5)
    assert not any(key.startswith("baseline.") for key in parent.data.metrics)
    best_so_far = client.get_metric_history(parent_id, "best_value")
    assert [m.step for m in best_so_far] == [1, 2, 3]  # one point per finished trial
    assert best_so_far[-1].value == pytest.approx(study.best_value)
    note = parent.data.tags["mlflow.note.content"]
    assert f"trial {study.best_trial.number}" in note and "3 trials, 3 complete" in note
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert parent_id in experiment.tags["mlflow.note.content"]
    assert len(runs) == 3
    for trial in study.trials:
        run = runs[trial.user_attrs[RUN_ATTR]]
        assert run.data.tags["mlflow.parentRunId"] == parent_id
        assert run.data.tags["optuna.trial_number"] == str(trial.number)
        assert run.data.tags["optuna.state"] == "COMPLETE"
        assert run.info.status == "FINISHED"
        assert float(run.data.params["optimizer.lr"]) == pytest.approx(trial.params["optimizer.lr"])
        assert run.data.params["model.cell"] == trial.params["model.cell"]
        curve = client.get_metric_history(run.info.run_id, "val_loss_curve")
        assert [m.step for m in curve] == [0, 1, 2]
        assert min(m.value for m in curve) == pytest.approx(trial.value)
        # the column a person sorts by holds the best value, as the study ranks trials
        assert run.data.metrics["val_loss"] == pytest.approx(trial.value)
        assert run.info.run_name == f"trial-{trial.number}"
        assert run.data.tags["sweep.kind"] == "trial"
        assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 3
        assert run.data.metrics["n_parameters"] > 0
        assert float(run.data.tags["baseline.val_loss"]) == pytest.approx(1 / 6, rel=1e-5)
        # model.init left out: the init each cell got, seq_len 10 chrono's T_max
        got = {"lstm": "chrono, T_max 10", "gru": "torch", "rnn": "torch"}
        initialised = got[trial.params["model.cell"]]
        assert trial.user_attrs[INIT_ATTR] == run.data.tags[INIT_ATTR] == initialised
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"best.ckpt", "config.yaml"} <= artifacts
    assert sum("COMPLETE" in line for line in lines) == 3


def _times(info: Any) -> tuple[int, int]:
    return info.start_time, info.end_time


def test_rerun_resumes_to_the_total_and_then_says_done(workdir: Path) -> None:
    config = validate(tiny_raw())
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    first = run_sweep(config, storage=STORAGE, report=lambda _: None)
    assert not (workdir / "sweep-checkpoints").exists()  # every trial ended: nothing to resume
    ended = client.get_run(first.parent_run_id).info
    again = run_sweep(config, storage=STORAGE, report=lambda _: None)
    assert again.already_done and again.counts == {"COMPLETE": 3}
    rerun = client.get_run(first.parent_run_id).info  # a rerun that ran nothing: times kept
    assert (rerun.status, rerun.start_time, rerun.end_time) == ("FINISHED", *_times(ended))
    more = with_values(config, {})
    more.search.n_trials = 5
    resumed = run_sweep(more, storage=STORAGE, report=lambda _: None)
    assert sum(resumed.counts.values()) == 5
    assert resumed.parent_run_id == first.parent_run_id  # one parent run per study
    extended = client.get_run(first.parent_run_id).info  # same start, a later end
    assert extended.status == "FINISHED" and extended.start_time == ended.start_time
    assert extended.end_time > ended.end_time
    children = [r for r in _runs(client, "tiny") if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 5


def test_pruned_trials_are_marked_in_both_stores(workdir: Path) -> None:
    raw = tiny_raw()
    raw["trainer"] = {"max_epochs": 4}
    raw["search"]["n_trials"] = 5
    # Prune anything worse than the best earlier trial, from the first epoch on.
    raw["search"]["pruner"] = {
        "name": "percentile",
        "percentile": 1.0,
        "n_startup_trials": 1,
        "n_warmup_steps": 0,
    }
    summary = run_sweep(validate(raw), storage=STORAGE, report=lambda _: None)
    assert summary.counts.get("PRUNED", 0) >= 1
    study = load_existing("tiny", STORAGE)
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    for trial in study.get_trials(states=(TrialState.PRUNED,)):
        run = client.get_run(trial.user_attrs[RUN_ATTR])
        assert run.data.tags["optuna.state"] == "PRUNED"
        assert "pruned at epoch" in run.data.tags["optuna.reason"]
        assert run.info.status == "FINISHED"  # a normal end, not a failure's red cross
        best_report = min(trial.intermediate_values.values())
        assert run.data.metrics["val_loss"] == pytest.approx(best_report)  # ranks by it
        pruned_at = max(trial.intermediate_values)
        assert len(client.get_metric_history(run.info.run_id, "val_loss_curve")) == pruned_at + 1


def test_best_config_reruns_what_the_best_trial_ran(workdir: Path) -> None:
    run_sweep(validate(tiny_raw()), storage=STORAGE, report=lambda _: None)
    study = load_existing("tiny", STORAGE)
    (workdir / "best.yaml").write_text(best_config_yaml(study))
    from sweeps.config.loader import load_config

    best = load_config(workdir / "best.yaml")
    assert best.optimizer.lr == pytest.approx(study.best_params["optimizer.lr"])
    assert best.model.cell == study.best_params["model.cell"]


def test_study_name_override_keeps_the_experiment(workdir: Path) -> None:
    run_sweep(validate(tiny_raw()), storage=STORAGE, study_name="other", report=lambda _: None)
    assert optuna.load_study(study_name="other", storage=STORAGE).trials
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    parents = [r for r in _runs(client, "tiny") if "mlflow.parentRunId" not in r.data.tags]
    assert [p.data.tags["sweep.study"] for p in parents] == ["other"]


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_or_skip() -> None:
    import sqlalchemy

    try:
        with sqlalchemy.create_engine(POSTGRES).connect():
            pass
    except Exception as err:  # noqa: BLE001 - any driver or connection error means no server
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {err}")


def test_same_config_runs_on_postgres_storage(workdir: Path) -> None:
    _postgres_or_skip()
    name = f"tiny-pg-{workdir.name}"
    try:
        summary = run_sweep(
            validate(tiny_raw()), storage=POSTGRES, study_name=name, report=lambda _: None
        )
        assert summary.counts == {"COMPLETE": 3}
        study = load_existing(name, POSTGRES)
        assert len(study.trials) == 3 and RUN_ATTR in study.best_trial.user_attrs
    finally:
        optuna.delete_study(study_name=name, storage=POSTGRES)


def test_grid_sampler_runs_each_point_once(workdir: Path) -> None:
    raw = tiny_raw()
    raw["trainer"] = {"max_epochs": 1}
    raw["search"]["n_trials"] = 5
    raw["search"]["sampler"] = {"name": "grid"}
    raw["search"]["space"] = {"model.cell": {"type": "categorical", "choices": ["rnn", "gru"]}}
    lines: list[str] = []
    summary = run_sweep(validate(raw), storage=STORAGE, report=lines.append)
    assert summary.counts == {"COMPLETE": 2}
    study = load_existing("tiny", STORAGE)
    assert sorted(t.params["model.cell"] for t in study.trials) == ["gru", "rnn"]
    assert any("exceeds the grid's 2 points" in line for line in lines)


def test_logged_checkpoint_reproduces_the_trial_value(workdir: Path) -> None:
    import pytorch_lightning as pl

    from models.lit_module import SequenceModule
    from sweeps.config.dataset import make_datamodule
    from sweeps.train.trial import make_module

    raw = tiny_raw()
    raw["search"]["n_trials"] = 1
    run_sweep(validate(raw), storage=STORAGE, report=lambda _: None)
    trial = load_existing("tiny", STORAGE).best_trial
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    ckpt = client.download_artifacts(trial.user_attrs[RUN_ATTR], "best.ckpt", str(workdir))
    config = validate(trial.user_attrs["config"])
    datamodule = make_datamodule(config)
    datamodule.setup("fit")
    fresh = make_module(config, datamodule.spec)
    module = SequenceModule.load_from_checkpoint(ckpt, net=fresh.net)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    result = trainer.validate(module, datamodule.val_dataloader(), verbose=False)[0]
    assert result["val_loss"] == pytest.approx(trial.value, rel=1e-5)


def test_a_tracking_store_that_lost_the_parent_gets_a_new_one(
    workdir: Path, mlflow_template: Path
) -> None:
    import shutil

    raw = tiny_raw(trainer={"max_epochs": 1})
    raw["search"]["n_trials"] = 1
    first = run_sweep(validate(raw), storage=STORAGE, report=lambda _: None)
    close_open_stores()  # as a later process would find it: nothing of this one's left open
    for old in workdir.glob("mlflow.db*"):
        old.unlink()
    shutil.copy(mlflow_template, workdir / "mlflow.db")  # the tracking store was replaced
    raw["search"]["n_trials"] = 2
    lines: list[str] = []
    again = run_sweep(validate(raw), storage=STORAGE, report=lines.append)
    assert again.parent_run_id != first.parent_run_id
    assert any(f"has no parent run {first.parent_run_id}" in line for line in lines), lines
    assert again.counts == {"COMPLETE": 2}
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    assert client.get_run(again.parent_run_id).info.status == "FINISHED"


@pytest.mark.parametrize(
    ("limits", "train_batches", "val_batches"),
    [({}, 4, 2), ({"limit_train_batches": 1, "limit_val_batches": 1}, 1, 1)],
)
def test_a_trial_trains_and_validates_the_batches_its_caps_allow(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limits: dict[str, int],
    train_batches: int,
    val_batches: int,
) -> None:
    from models.lit_module import SequenceModule
    from sweeps.train.trial import train

    scored: list[bool] = []  # one per batch scored: full for validation, not for training
    score = SequenceModule._score

    def counting(self: SequenceModule, batch: Any, *, full: bool) -> Any:
        scored.append(full)
        return score(self, batch, full=full)

    monkeypatch.setattr(SequenceModule, "_score", counting)
    raw = tiny_raw()  # 128 training and 64 validation sequences in batches of 32
    raw["trainer"] = {"max_epochs": 3, "diagnostics": False, **limits}
    result = train(validate(raw), tmp_path)
    assert result.epochs_run == 3
    assert scored.count(False) == 3 * train_batches
    assert scored.count(True) == 3 * val_batches


def test_one_worker_in_process_uses_the_coordinators_stores(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening the MLflow store and the study again would repeat their schema (alembic) checks.
    def opened_again(*args: Any) -> None:
        raise AssertionError("the in-process worker opened a store the coordinator had open")

    monkeypatch.setattr("sweeps.runner.worker.Tracker", opened_again)
    monkeypatch.setattr("sweeps.runner.worker.open_budgeted", opened_again)
    raw = tiny_raw()
    raw["search"]["n_trials"] = 1
    summary = run_sweep(validate(raw), storage=STORAGE, report=lambda _: None)
    assert summary.counts == {"COMPLETE": 1}
