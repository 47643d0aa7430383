"""A new SQLite MLflow store, copied from a migrated blank one instead of migrated afresh.

MLflow builds a new SQLite store by running its schema migrations, one after another: about
3 s of one core here, paid by the first sweep in every new folder (and by each study of the
pruning benchmark, before its first epoch). The result is the same empty schema every time, so
it is built once per MLflow version into the cache folder (`datamodules.sources`'s, beside the
corpora) and copied. MLflow still opens the copy itself: it checks the schema revision (a blank
of another version would fail loudly) and creates its Default experiment then, with the time of
that first use.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from datamodules.sources import default_cache_dir
from sweeps import sqlite_wal

log = logging.getLogger(__name__)


def blank_path(cache_dir: Path | None = None) -> Path:
    """Where this MLflow version's blank store is kept."""
    from mlflow.version import VERSION

    return (cache_dir or default_cache_dir()) / f"mlflow-{VERSION}-blank.db"


def seed(db: Path, cache_dir: Path | None = None) -> bool:
    """Put a blank store at `db` if nothing is there yet; False if MLflow must build it itself.

    Call it under the store's file lock, as `Tracker` does: two processes must not both seed.
    Any failure (an unwritable cache, a changed MLflow internal) leaves `db` alone, and MLflow
    then migrates a new store as it always does.
    """
    if db.exists() and db.stat().st_size > 0:
        return False
    try:
        sqlite_wal.drop_stale_log(db)
        blank = blank_path(cache_dir)
        if not blank.exists():
            _build(blank)
        _copy_whole(blank, db)
    except Exception as err:  # noqa: BLE001 - the slow path is always there
        log.debug("no blank MLflow store (%s); MLflow will migrate %s itself", err, db)
        return False
    return True


def _build(blank: Path) -> None:
    """Migrate an empty SQLite file the way MLflow does for a new store, then move it in place."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables
    from sqlalchemy.pool import NullPool

    blank.parent.mkdir(parents=True, exist_ok=True)
    building = blank.with_name(f"{blank.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(f"sqlite:///{building}", poolclass=NullPool)
    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]
    finally:
        engine.dispose()
    os.replace(building, blank)  # whole or absent: a half-built blank is never seen


def _copy_whole(source: Path, target: Path) -> None:
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
