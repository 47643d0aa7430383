"""Checks made before the first trial, so a sweep that cannot work fails in seconds, in one line.

Each check names what failed and the fix. `sweep validate` runs the ones that need no store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.errors import ConfigError, UnavailableError
from sweeps.stores.reconnect import storage_unreachable, tracking_unreachable

CONNECT_TIMEOUT_S = 5  # seconds a store may take to answer the preflight

if TYPE_CHECKING:
    from datamodules.catalog import DatasetInfo
    from sweeps.config.schema import Config


def check_accelerator(config: Config) -> None:
    """trainer.accelerator: gpu needs a CUDA or Apple MPS device on this machine, and
    trainer.precision: 16-mixed a CUDA one (its loss scaling is CUDA's)."""
    accelerator, precision = config.trainer.accelerator, config.trainer.precision
    if precision == "16-mixed" and accelerator == "cpu":
        raise ConfigError(
            "trainer.precision '16-mixed' needs a CUDA GPU, but trainer.accelerator is 'cpu'; "
            "use trainer.precision: bf16-mixed (or 32-true) on the CPU"
        )
    if accelerator == "cpu" or (accelerator == "auto" and precision != "16-mixed"):
        return  # cpu always exists; auto falls back to it
    import torch  # only a gpu or 16-mixed config pays for the import

    if precision == "16-mixed" and not torch.cuda.is_available():
        raise UnavailableError(
            "trainer.precision is '16-mixed', but this machine has no CUDA device that torch "
            f"can use (torch {torch.__version__}); use trainer.precision: bf16-mixed or 32-true"
        )
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        return
    raise UnavailableError(
        "trainer.accelerator is 'gpu', but this machine has no CUDA or MPS device that torch "
        f"can use (torch {torch.__version__}); set trainer.accelerator: cpu (or auto)"
    )


def check_config(config: Config) -> DatasetInfo:
    """Everything `sweep validate` checks, with no store and no torch: the space, the device,
    the data (a user's table read and cut as the trials will, at each end of a searched data
    field too) and the metric.

    `sweep run` checks this before it imports torch, so a bad config fails at once."""
    from sweeps.config.dataset import check_data_sources
    from sweeps.search.objectives import check_metric
    from sweeps.search.space import check_space, ends

    check_space(config)
    check_accelerator(config)
    info = check_data_sources(config.data)
    for name, value, end in ends(config, "data"):  # e.g. the longest seq_len the file must hold
        try:
            check_data_sources(end.data)
        except ConfigError as err:
            raise ConfigError(f"search.space.{name} value {value!r} is invalid: {err}") from None
    check_metric(config, info)
    return info


def check_folder(folder: Path, what: str, fix: str) -> None:
    """`folder` exists and a file can be created in it (as root, permissions alone say little)."""
    if not folder.is_dir():
        raise UnavailableError(f"{what}: folder {folder} does not exist; create it or {fix}")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".sweep-preflight-"):
            pass
    except OSError as err:
        raise UnavailableError(
            f"{what}: folder {folder} cannot be written ({err.strerror}); run from a writable "
            f"folder or {fix}"
        ) from None


def check_sqlite(url: str, what: str, fix: str) -> Path | None:
    """A SQLite store's folder is writable and its file, if any, is a SQLite database."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///")).expanduser().resolve()
    check_folder(path.parent, f"{what} {url}", fix)
    if path.exists():
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                db.execute("PRAGMA schema_version").fetchone()
        except sqlite3.Error as err:
            raise UnavailableError(
                f"{what} {path} is not a readable SQLite database ({err}); move it aside "
                f"(mv {path.name} {path.name}.broken) to start a new one, or {fix}"
            ) from None
    return path


def check_storage(url: str) -> None:
    """The Optuna storage: a writable SQLite file, or a database server that answers."""
    if check_sqlite(url, "storage", "pass --storage URL (or SWEEP_STORAGE)") is not None:
        return
    if url.startswith("journal:///"):  # Optuna's journal file: its folder must take files
        folder = Path(url.removeprefix("journal:///")).expanduser().resolve().parent
        check_folder(folder, f"storage {url}", "pass --storage URL (or SWEEP_STORAGE)")
        return
    if url.startswith("grpc://"):
        return  # the gRPC proxy answers when the first study call is made
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, **_connect_timeout(url))
    except Exception as err:  # noqa: BLE001 - a malformed URL or a missing driver
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(
            f"storage {url!r} could not be opened: {first}; check --storage (or SWEEP_STORAGE), "
            "e.g. sqlite:///optuna.db or postgresql+psycopg://user@host/db"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any driver or URL error is a bad --storage
        raise storage_unreachable(url, err) from None


def _connect_timeout(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def check_tracking(uri: str) -> None:
    """The MLflow store answers (HTTP retried briefly, not for minutes) and takes artifacts."""
    fix = "pass --tracking-uri URI (or MLFLOW_TRACKING_URI)"
    db = check_sqlite(uri, "tracking URI", fix)
    if db is not None:
        artifacts = db.parent / "mlartifacts"
        with contextlib.suppress(OSError):  # MLflow would create it on the first artifact
            artifacts.mkdir(exist_ok=True)
        check_folder(artifacts, f"artifact location {artifacts}", fix)
        return
    if not uri.startswith(("http://", "https://")):
        return  # databricks and other schemes: MLflow's own errors say it best
    from mlflow import MlflowClient

    quick = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(CONNECT_TIMEOUT_S),
    }
    saved = {key: os.environ.get(key) for key in quick}
    os.environ.update(quick)
    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as err:  # noqa: BLE001 - refused, timed out, 5xx, auth: all one message
        raise tracking_unreachable(uri, err) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def preflight(config: Config, storage: str) -> None:
    """Everything that would fail every trial, checked once before the first."""
    check_accelerator(config)
    check_storage(storage)
    check_tracking(config.tracking.uri)
