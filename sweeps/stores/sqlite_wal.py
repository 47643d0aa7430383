"""The embedded SQLite stores in write-ahead-log mode, synced at checkpoints, not every commit.

In SQLite's default mode each commit waits for the disk (an fsync), and a trial commits several
times an epoch (its curves to MLflow, its value to Optuna) and some dozens more to start and end. In
WAL mode with `synchronous=NORMAL`, a commit is an append to the `-wal` file beside the database,
and the disk is synced when that log is copied back (a checkpoint). A killed process loses nothing
committed; a power cut may lose the last commits, never the database. Readers (`sweep status`,
`mlflow ui`) no longer block a writer either.

The mode is stored in the database file, so it is set once, when a store is opened; the
`synchronous` level is per connection, so every SQLite connection this process opens gets it,
if its database is in WAL mode (a store left in the default mode keeps full syncs). WAL needs
the processes to share one machine's memory: the embedded stores are local by design, and
many machines share PostgreSQL and an MLflow server instead.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

_installed = False


def use_wal(db: Path) -> None:
    """Put the SQLite file `db` (created if missing) in WAL mode; leave it if that fails.

    Call it under the store's file lock. A database that another process holds open may refuse
    the switch ("database is locked"); it keeps working in its old mode.
    """
    install()
    try:
        with closing(sqlite3.connect(db, timeout=1.0)) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass


def drop_stale_log(db: Path) -> None:
    """Delete the `-wal` and `-shm` files of a database that is gone, before a new one takes its
    name: SQLite would replay the old log into the new file."""
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def install() -> None:
    """From now on, each new SQLite connection of this process to a WAL database syncs NORMAL."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)
    _installed = True


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
    if mode == "wal":
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
