"""The embedded stores run in WAL mode with NORMAL syncs; one that cannot switch keeps working."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import sqlalchemy
from conftest import close_open_stores

from sweeps.stores import sqlite_wal
from sweeps.stores.storage import open_storage
from sweeps.track.tracking import Tracker

SYNC_NORMAL, SYNC_FULL = 1, 2  # PRAGMA synchronous values


def journal_mode(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def synchronous_of_a_new_connection(db: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        engine.dispose()


def test_both_embedded_stores_are_opened_in_wal_mode(tmp_path: Path) -> None:
    optuna_db, mlflow_db = tmp_path / "optuna.db", tmp_path / "mlflow.db"
    open_storage(f"sqlite:///{optuna_db}")
    tracker = Tracker(f"sqlite:///{mlflow_db}", "wal")
    tracker.client.create_run(tracker.experiment_id)

    assert journal_mode(optuna_db) == journal_mode(mlflow_db) == "wal"
    assert synchronous_of_a_new_connection(mlflow_db) == SYNC_NORMAL


def test_an_existing_store_in_the_default_mode_is_switched_with_its_data(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE kept (value)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.commit()
    assert journal_mode(db) == "delete"

    sqlite_wal.use_wal(db)

    assert journal_mode(db) == "wal"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT value FROM kept").fetchall() == [(42,)]


def test_a_store_that_cannot_switch_keeps_its_mode_and_full_syncs(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    with closing(sqlite3.connect(db)) as holder:
        holder.execute("CREATE TABLE t (value)")
        holder.commit()
        holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
        sqlite_wal.use_wal(db)  # gives up after its timeout, raising nothing
        holder.rollback()

    assert journal_mode(db) == "delete"
    assert synchronous_of_a_new_connection(db) == SYNC_FULL


def test_a_new_store_does_not_replay_the_log_of_a_deleted_one(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    Tracker(f"sqlite:///{db}", "old")  # its connection stays open: the log holds the commits
    log = db.with_name("mlflow.db-wal")
    left = log.read_bytes()
    assert left
    close_open_stores()
    for old in tmp_path.glob("mlflow.db*"):
        old.unlink()
    log.write_bytes(left)  # what a killed process leaves beside a store the user deleted

    tracker = Tracker(f"sqlite:///{db}", "new")

    names = {e.name for e in tracker.client.search_experiments()}
    assert "new" in names and "old" not in names
