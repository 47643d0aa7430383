"""A new SQLite MLflow store is a copy of a migrated blank, and an existing one is left alone."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from sweeps.stores import blank_store
from sweeps.track.tracking import Tracker


def test_a_new_store_is_seeded_from_the_blank_and_mlflow_opens_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, second = tmp_path / "a" / "mlflow.db", tmp_path / "b" / "mlflow.db"
    first.parent.mkdir()
    second.parent.mkdir()

    assert blank_store.seed(first, cache_dir=cache)  # builds the blank, then copies it
    assert blank_store.blank_path(cache_dir=cache).exists()
    assert blank_store.seed(second, cache_dir=cache)  # copies the blank it built
    assert not list(cache.glob("*.tmp")) and not list(second.parent.glob("*.tmp"))

    client = MlflowClient(tracking_uri=f"sqlite:///{second}")  # checks the schema revision
    experiment = client.create_experiment("seeded")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val_loss", 0.5, step=3)
    assert client.get_metric_history(run.info.run_id, "val_loss")[0].step == 3
    assert {e.name for e in client.search_experiments()} == {"seeded", "Default"}


def test_an_existing_store_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    tracker = Tracker(f"sqlite:///{db}", "kept")
    run = tracker.client.create_run(tracker.experiment_id)

    assert not blank_store.seed(db, cache_dir=tmp_path / "cache")
    assert Tracker(f"sqlite:///{db}", "kept").client.get_run(run.info.run_id)
    assert not (tmp_path / "cache").exists()  # nothing built for a store that exists


def test_without_a_usable_cache_mlflow_builds_the_store_itself(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    db = tmp_path / "mlflow.db"

    assert not blank_store.seed(db, cache_dir=not_a_folder)
    assert not db.exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")  # MLflow migrates it as before
    assert client.get_experiment_by_name("Default") is not None


def test_a_new_optuna_store_is_seeded_and_optuna_uses_it(tmp_path: Path) -> None:
    import optuna

    db = tmp_path / "optuna.db"
    assert blank_store.seed(db, "optuna", tmp_path / "cache")
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")  # checks the schema version
    study = optuna.create_study(storage=storage, study_name="seeded")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert len(optuna.load_study(study_name="seeded", storage=f"sqlite:///{db}").trials) == 2
