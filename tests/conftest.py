"""Shared fixtures: a tiny adding-problem config and an MLflow store migrated once per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# Tests start `sweep` (and `mlflow`) as processes by name: the ones installed beside the Python
# that runs the tests, so a virtual environment tests its own checkout, not another on PATH.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def tiny_raw(**sections: Any) -> dict[str, Any]:
    """A seconds-long adding-problem sweep; keyword sections replace the defaults."""
    raw: dict[str, Any] = {
        "name": "tiny",
        "seed": 0,
        "data": {
            "name": "adding",
            "seq_len": 10,
            "batch_size": 32,
            "n_train": 128,
            "n_val": 64,
            "n_test": 64,
        },
        "model": {"cell": "lstm", "hidden_size": 8},
        "optimizer": {"name": "adam", "lr": 0.01},
        "trainer": {"max_epochs": 3},
        "search": {
            "metric": "val_loss",
            "n_trials": 3,
            "sampler": {"name": "random", "seed": 0},
            "pruner": {"name": "none"},
            "space": {
                "optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "model.cell": {"type": "categorical", "choices": ["rnn", "lstm", "gru"]},
            },
        },
        "tracking": {"log_model": False},  # tests/test_registry.py logs the best model
    }
    raw.update(sections)
    return raw


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated mlflow.db: creating one runs every migration, copying it costs nothing."""
    from sweeps.track.tracking import Tracker

    folder = tmp_path_factory.mktemp("mlflow-template")
    Tracker(f"sqlite:///{folder / 'mlflow.db'}", "warmup")
    return folder / "mlflow.db"


@pytest.fixture
def workdir(tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a fresh copy of the migrated store; the cwd for the test."""
    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def close_open_stores() -> None:
    """Close this process's pooled MLflow connections, as if a later process came along."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for engine in SqlAlchemyStore._engine_map.values():
        engine.dispose()


def write_config(folder: Path, raw: dict[str, Any], name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def sweep_process(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `sweep` command as a real process, with extra environment variables."""
    return subprocess.run(
        ["sweep", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def pg_url() -> Any:
    """A fresh PostgreSQL database for one test (CI starts the server), dropped afterwards."""
    import uuid

    import sqlalchemy

    name = f"sweeps_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
