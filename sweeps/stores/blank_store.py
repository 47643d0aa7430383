"""A new SQLite store, MLflow's or Optuna's, copied from a blank one instead of built afresh.

MLflow builds a new SQLite store by running its schema migrations one after another, seconds of
CPU; Optuna creates its tables and stamps its schema version. Both are paid by the first sweep
in every new folder (and by each study of the pruning benchmark, before its first epoch), and
the result is the same empty schema every time. So each is built once per library version into
the cache folder (`datamodules.sources`'s, beside the corpora) and copied. The library still
opens the copy itself and checks its schema version, so a wrong blank fails loudly; MLflow
creates its Default experiment then, with the time of that first use.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from datamodules.sources import default_cache_dir
from sweeps.stores import sqlite_wal

log = logging.getLogger(__name__)


def _version(kind: str) -> str:
    if kind == "mlflow":
        from mlflow.version import VERSION

        return str(VERSION)
    import optuna

    return str(optuna.__version__)


def blank_path(kind: str = "mlflow", cache_dir: Path | None = None) -> Path:
    """Where this library version's blank store is kept; `kind` is "mlflow" or "optuna"."""
    return (cache_dir or default_cache_dir()) / f"{kind}-{_version(kind)}-blank.db"


def prepare(db: Path, kind: str) -> None:
    """Ready the embedded store at `db` for its library: a new one is a copy of the blank, and
    every one runs in WAL mode. Call it under the store's file lock, as `Tracker` and
    `storage.open_storage` do: two processes must not both seed."""
    if _is_new(db):
        sqlite_wal.drop_stale_log(db)  # a deleted store's log would be replayed into the new one
    seed(db, kind)
    sqlite_wal.use_wal(db)


def _is_new(db: Path) -> bool:
    return not db.exists() or db.stat().st_size == 0


def seed(db: Path, kind: str = "mlflow", cache_dir: Path | None = None) -> bool:
    """Put a blank store at `db` if nothing is there yet; False if the library must build it.

    Any failure (an unwritable cache, a changed library internal) leaves `db` alone, and the
    library then builds the new store as it always does.
    """
    if not _is_new(db):
        return False
    try:
        blank = blank_path(kind, cache_dir)
        if not blank.exists():
            _build(blank, BUILDERS[kind])
        _copy_whole(blank, db)
    except Exception as err:  # noqa: BLE001 - the slow path is always there
        log.debug("no blank %s store (%s); it will build %s itself", kind, err, db)
        return False
    return True


def _build_mlflow(url: str) -> None:
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]
    finally:
        engine.dispose()


def _build_optuna(url: str) -> None:
    import optuna

    optuna.storages.RDBStorage(url).engine.dispose()


BUILDERS: dict[str, Callable[[str], None]] = {"mlflow": _build_mlflow, "optuna": _build_optuna}


def _build(blank: Path, build: Callable[[str], None]) -> None:
    """Build an empty store the way its library does for a new one, then move it in place."""
    blank.parent.mkdir(parents=True, exist_ok=True)
    building = blank.with_name(f"{blank.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    build(f"sqlite:///{building}")
    os.replace(building, blank)  # whole or absent: a half-built blank is never seen


def _copy_whole(source: Path, target: Path) -> None:
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
