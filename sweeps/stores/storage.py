"""Optuna storages by URL, and the lock that makes creating a trial atomic across processes.

`journal:///optuna.journal` (the embedded default) is Optuna's journal file, which is built for
many processes on one machine; SQLite serializes writers, and several processes writing one
SQLite study lose commits to lock contention ("database is locked"). `python -m
benchmarks.storage` compares the two. `sqlite:///`, `postgresql://` and `mysql://` are RDB storages;
`grpc://host:port` is Optuna's gRPC storage proxy (`optuna.storages.run_grpc_proxy_server`),
which lets many workers share a few database connections.

Optuna gives no atomic "create a trial if fewer than N exist", so two workers finishing the
budget at once would each start one more. Every trial creation therefore runs under a lock:
a file lock beside a local store, a PostgreSQL advisory lock for PostgreSQL, and for the gRPC
proxy the advisory lock of the database named by SWEEP_LOCK_URL. Every trial's finish takes
the same lock, so that search.stop, settled at a finish, is seen by the next creation anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.errors import ConfigError
from sweeps.secrets import redact
from sweeps.stores import blank_store

DEFAULT_STORAGE = "journal:///optuna.journal"
LOCK_URL_ENV = "SWEEP_LOCK_URL"

Lock = Callable[[], AbstractContextManager[None]]


class BudgetSpent(Exception):
    """No new trial may start: search.n_trials are taken, or search.stop has fired."""


def scheme(url: str) -> str:
    """`postgresql+psycopg://...` -> `postgresql`."""
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def _local_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1]).resolve()


def local_file(url: str) -> Path | None:
    """The file of an embedded store (journal or SQLite) on this machine; None for a server."""
    return _local_path(url) if scheme(url) in ("journal", "sqlite") else None


def _rdb(url: str) -> optuna.storages.BaseStorage:
    # Two processes creating the tables of a new database at once collide (PostgreSQL:
    # "duplicate key value violates unique constraint pg_type_typname_nsp_index").
    kind = scheme(url)
    if kind == "postgresql":
        with _advisory_lock(url, "sweep:schema"):
            # pre-ping: a pooled connection that a database restart cut is replaced on checkout
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    if kind == "sqlite":
        path = _local_path(url)
        with file_lock(path.with_name(f"{path.name}.schema.lock")):
            blank_store.prepare(path, "optuna")  # a copy of the blank if new; WAL mode
            return optuna.storages.RDBStorage(url)
    return optuna.storages.RDBStorage(url)


def _journal(url: str) -> optuna.storages.BaseStorage:
    path = _local_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    lock = JournalFileOpenLock(str(path))
    return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))


def _grpc(url: str) -> optuna.storages.BaseStorage:
    host, _, port = url.split("://", 1)[1].rstrip("/").partition(":")
    return optuna.storages.GrpcStorageProxy(host=host, port=int(port or 13000))


OPENERS: dict[str, Callable[[str], optuna.storages.BaseStorage]] = {
    "sqlite": _rdb,
    "postgresql": _rdb,
    "mysql": _rdb,
    "journal": _journal,
    "grpc": _grpc,
}


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage a URL names; an unknown scheme or unreachable store is a ConfigError."""
    opener = OPENERS.get(scheme(url))
    if opener is None:
        raise ConfigError(
            f"storage {redact(url)!r} could not be opened: unknown scheme {scheme(url)!r}; "
            f"use one of {sorted(OPENERS)} in --storage or the config's storage"
        )
    try:
        return opener(url)
    except Exception as err:  # noqa: BLE001 - any driver or URL error is a bad --storage
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"storage {redact(url)!r} could not be opened: {redact(first)}; "
            "check --storage or the config's storage"
        ) from None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory_lock(url: str, name: str) -> Iterator[None]:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    # One short connection per lock: a worker holds no extra connection between trials.
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            key = _advisory_key(name)
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                # A connection the server dropped took its session's locks with it.
                with contextlib.suppress(sqlalchemy.exc.DBAPIError):
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


class StudyLock:
    """A cross-process lock, re-entrant within a process: `with lock(): ...` may nest."""

    def __init__(self, make: Lock) -> None:
        self._make = make
        self._local = threading.RLock()
        self._depth = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._local:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._make():
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0


@functools.cache
def lock_for(url: str, study_name: str) -> StudyLock:
    """The lock that serialises trial creation and once-per-sweep set-up for one study.

    One object per study and process: a second flock or advisory lock from the same process
    would wait for the first, so nesting goes through the object's re-entrant count.
    """
    return StudyLock(_outer_lock(url, study_name))


def _outer_lock(url: str, study_name: str) -> Lock:
    kind = scheme(url)
    if kind in ("sqlite", "journal"):
        path = _local_path(url)
        target = path.with_name(f"{path.name}.{study_name}.lock")
        return lambda: file_lock(target)
    if kind == "postgresql":
        return lambda: _advisory_lock(url, f"sweep:{study_name}")
    if kind == "grpc":
        lock_url = os.environ.get(LOCK_URL_ENV)
        if not lock_url or scheme(lock_url) != "postgresql":
            raise ConfigError(
                f"a grpc:// storage needs {LOCK_URL_ENV}=postgresql://... (the proxy's database), "
                "so that workers on many machines claim trials atomically"
            )
        return lambda: _advisory_lock(lock_url, f"sweep:{study_name}")
    raise ConfigError(
        f"storage scheme {kind!r} has no lock for parallel workers; "
        "use journal:///, sqlite:///, postgresql:// or grpc:// in --storage"
    )


def guard(
    storage: optuna.storages.BaseStorage,
    lock: Lock,
    limit: Callable[[list[FrozenTrial]], bool],
    settle: Callable[[], object] | None = None,
) -> None:
    """Make every trial creation, and every trial's finish, hold `lock`.

    A fresh trial (not a queued retry) must pass `limit`. Study.ask pops a queued trial first
    and creates a fresh one only when none waits, so a refused creation surfaces as BudgetSpent
    from Study.optimize before any trial exists. After a trial finishes, `settle` runs under
    the same lock hold: finishes and creations form one sequence, so a rule that `settle`
    records on a finish is seen by every creation after it, on any worker.
    """

    def guarded(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_new_trial(study_id: int, template_trial: FrozenTrial | None = None) -> Any:
            with lock():
                if template_trial is None:
                    trials = storage.get_all_trials(study_id, deepcopy=False)
                    if not limit(trials):
                        raise BudgetSpent()
                return create(study_id, template_trial)

        return create_new_trial

    set_state = storage.set_trial_state_values

    def set_trial_state_values(
        trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if not state.is_finished():
            return set_state(trial_id, state, values)
        with lock():
            changed = set_state(trial_id, state, values)
            if settle is not None:
                settle()
            return changed

    storage.create_new_trial = guarded(storage.create_new_trial)  # type: ignore[method-assign]
    storage.set_trial_state_values = set_trial_state_values  # type: ignore[method-assign]
    if isinstance(storage, optuna.storages.RDBStorage):
        # Optuna's cache in front of an RDBStorage creates trials through this private twin.
        storage._create_new_trial = guarded(storage._create_new_trial)  # type: ignore[method-assign]


def serve_proxy(url: str, host: str, port: int) -> None:
    """Optuna's gRPC storage proxy in front of `url`: many workers, few database connections."""
    if scheme(url) not in ("postgresql", "mysql", "sqlite"):
        raise ConfigError(
            f"sweep proxy serves an RDB storage (postgresql://...), not {redact(url)!r}"
        )
    optuna.storages.run_grpc_proxy_server(open_storage(url), host=host, port=port)
