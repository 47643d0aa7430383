"""A password planted in the storage URL appears nowhere: not printed, stored, tagged or logged."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import sweep_process, tiny_raw, write_config

from sweeps.errors import ConfigError
from sweeps.secrets import redact

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql+psycopg://user:pa:ss@host/db", "postgresql+psycopg://user:***@host/db"),
        ("in mysql://u:p@h:3306/d; and http://a:b@c:5000", "in mysql://u:***@h:3306/d; and http://a:***@c:5000"),
        ("postgresql://u@h/db?password=x&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("host=h password=abc user=u", "host=h password=*** user=u"),
        ("sqlite:////tmp/x.db http://host:5000/a", "sqlite:////tmp/x.db http://host:5000/a"),
    ],
)  # fmt: skip
def test_redact_masks_only_the_password(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_config_errors_never_carry_a_password() -> None:
    assert "hunter2" not in str(ConfigError("storage 'postgresql://u:hunter2@h/db' failed"))


@pytest.fixture
def role() -> Iterator[tuple[str, str, str]]:
    """A password-protected PostgreSQL role owning a fresh database; both dropped after."""
    psycopg = pytest.importorskip("psycopg")
    suffix = uuid.uuid4().hex[:10]
    user, password, db = f"sweep_{suffix}", f"Planted-{uuid.uuid4().hex}", f"sweep_{suffix}"
    try:
        admin = psycopg.connect(ADMIN, autocommit=True)
    except psycopg.OperationalError as err:
        pytest.skip(f"no PostgreSQL at {ADMIN}: {err}")
    with admin:
        admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        admin.execute(f"CREATE DATABASE {db} OWNER {user}")
        try:
            yield user, password, db
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {user}")


def _dump(db: str) -> str:
    """Every row of every table of the Optuna database, as text."""
    done = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--data-only", db],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
def test_planted_password_appears_nowhere(role: tuple[str, str, str], workdir: Path) -> None:
    user, password, db = role
    url = f"postgresql+psycopg://{user}:{password}@127.0.0.1:5432/{db}"
    raw = tiny_raw(trainer={"max_epochs": 1}, storage=url)
    raw["search"]["n_trials"] = 2
    config = write_config(workdir, raw)
    outputs = []
    for args, env in [
        (["run", str(config)], {}),
        (["status", str(config)], {}),
        (["best", "--study", "tiny", "--out", "best.yaml"], {"SWEEP_STORAGE": url}),
        (["run", str(config), "--storage", url.replace(db, db + "_absent")], {}),
        (["--debug", "run", str(config), "--storage", url.replace(db, db + "_absent")], {}),
    ]:
        done = sweep_process(args, workdir, **env)
        outputs.append(done.stdout + done.stderr)
    assert "COMPLETE" in outputs[0] and f"{user}:***@" in outputs[0], outputs[0]
    assert "best: trial" in outputs[2], outputs[2]
    assert "cannot be reached" in outputs[3], outputs[3]
    assert "Traceback" in outputs[4], outputs[4]  # the --debug traceback is searched too
    for output in outputs:
        assert password not in output, output
    assert len(_dump(db)) > 1000  # the study is in there
    assert password not in _dump(db)
    stored = [p for p in workdir.rglob("*") if p.is_file() and p.name != "sweep.yaml"]
    assert any(p.name == "config.yaml" for p in stored)  # the artifacts were searched too
    for path in stored:
        assert password.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_password_from_the_environment(role: tuple[str, str, str], workdir: Path) -> None:
    user, password, db = role
    raw = tiny_raw(trainer={"max_epochs": 1})
    raw["search"]["n_trials"] = 1
    config = write_config(workdir, raw)
    url = f"postgresql+psycopg://{user}@127.0.0.1:5432/{db}"
    done = sweep_process(["run", str(config)], workdir, SWEEP_STORAGE=url, PGPASSWORD=password)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"optuna storage: {url}" in done.stdout
