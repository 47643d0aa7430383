"""Commands that only read a study import neither torch nor Lightning (timed by a benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, tiny_raw

HEAVY = ("torch", "pytorch_lightning", "lightning")


def _imports_after(args: list[str], cwd: Path) -> list[str]:
    code = "\n".join(
        [
            "import json, sys",
            "from sweeps.cli import app",
            "try:",
            f"    app({args!r})",
            "except SystemExit as stop:",
            "    assert not stop.code, stop.code",
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def storage(tmp_path: Path) -> str:
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="quickstart", storage=url)
    trial = study.ask()
    trial.suggest_categorical("model.cell", ["rnn", "lstm"])
    trial.set_user_attr("config", tiny_raw())
    study.tell(trial, 0.5)
    return url


@pytest.mark.parametrize("command", ["status", "best"])
def test_reading_a_study_imports_no_torch(command: str, storage: str, tmp_path: Path) -> None:
    args = [command, str(CONFIGS / "quickstart.yaml"), "--storage", storage]
    assert _imports_after(args, tmp_path) == []
