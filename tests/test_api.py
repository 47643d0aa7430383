"""The Python API: the surface `sweeps.__all__` names, typed, raising the CLI's one-line errors,
and the README's Python example, run as written."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, tiny_raw, write_config
from typer.testing import CliRunner

import sweeps
from sweeps.cli.app import app
from sweeps.keys import CONFIG_ATTR, RUN_ATTR

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_exists_and_every_function_is_typed() -> None:
    assert "run" in sweeps.__all__ and "load" in sweeps.__all__
    for name in sweeps.__all__:
        thing = getattr(sweeps, name)
        if inspect.isfunction(thing):
            hints = inspect.get_annotations(thing)
            params = inspect.signature(thing).parameters
            assert "return" in hints, name
            assert set(params) <= set(hints), (name, set(params) - set(hints))


def test_every_public_function_stays_itself_once_the_package_s_modules_are_imported() -> None:
    """Importing a subpackage sets it as an attribute of `sweeps`: one named like a public
    function would replace that function the first time a call imported it."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(sweeps.__path__):
        if info.name != "__main__":  # that one runs the CLI
            importlib.import_module(f"sweeps.{info.name}")
    for name in sweeps.__all__:
        thing = getattr(sweeps, name)
        assert not inspect.ismodule(thing), f"sweeps.{name} is a module, not the API's {name}"


def test_importing_sweeps_loads_no_heavy_package() -> None:
    code = (
        "import json, sys, sweeps; "
        "print(json.dumps([m for m in ('torch', 'pytorch_lightning', 'optuna', 'mlflow', "
        "'pandas') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.fixture
def storage(tmp_path: Path) -> str:
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="tiny", storage=url)
    for lr, value in ((0.01, 0.5), (0.1, 0.25)):
        trial = study.ask()
        trial.suggest_float("optimizer.lr", 1e-3, 1e-1, log=True)
        trial.set_user_attr(CONFIG_ATTR, tiny_raw(optimizer={"name": "adam", "lr": lr}))
        trial.set_user_attr(RUN_ATTR, f"run-{trial.number}")
        study.tell(trial, value)
    study.ask()  # one still running: no run id yet
    return url


def test_load_gives_the_trials_with_their_mlflow_run_ids(storage: str, tmp_path: Path) -> None:
    by_name = sweeps.load("tiny", storage=storage)
    assert list(by_name["number"]) == [0, 1, 2]
    assert list(by_name["mlflow_run_id"])[:2] == ["run-0", "run-1"]
    assert by_name["mlflow_run_id"].isna().tolist() == [False, False, True]
    assert list(by_name["state"]) == ["COMPLETE", "COMPLETE", "RUNNING"]
    assert "params_optimizer.lr" in by_name.columns
    config = write_config(tmp_path, {**tiny_raw(), "storage": storage})
    by_config = sweeps.load(config)  # the config names the study and its storage
    assert by_config["value"].tolist()[:2] == by_name["value"].tolist()[:2] == [0.5, 0.25]


def test_best_and_status_return_the_best_trial(storage: str) -> None:
    best = sweeps.best(study="tiny", storage=storage).leaders.best
    assert best is not None
    assert (best.number, best.value, best.run_id) == (1, 0.25, "run-1")
    status = sweeps.status(study="tiny", storage=storage, echo=lambda line: None)
    assert status.counts == {"COMPLETE": 2, "RUNNING": 1}
    assert status.leaders.best == best


def test_an_error_raises_the_line_the_cli_prints_and_never_exits(storage: str) -> None:
    with pytest.raises(sweeps.ConfigError) as raised:
        sweeps.status(study="typo", storage=storage)
    assert str(raised.value) == f"no study 'typo' in {storage}; it holds ['tiny']"
    done = CliRunner().invoke(app, ["status", "--study", "typo", "--storage", storage])
    assert done.exit_code == 2
    assert done.output.strip() == f"error: {raised.value}"


def test_validate_returns_what_the_config_will_run() -> None:
    checked = sweeps.validate(CONFIGS / "quickstart.yaml", {"search.n_trials": 4})
    assert (checked.study, checked.data, checked.n_trials) == ("quickstart", "adding", 4)
    assert checked.objectives == [("val_loss", "minimize")]
    assert any("model.cell" in line for line in checked.space)
    with pytest.raises(sweeps.ConfigError, match="search.n_trials"):
        sweeps.validate(CONFIGS / "quickstart.yaml", ["search.n_trials=0"])


def readme_python() -> str:
    """The code block of the README's Python section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the README's Python section has no python code block"
    return found.group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs(workdir: Path) -> None:
    (workdir / "configs").symlink_to(CONFIGS)
    done = subprocess.run(
        [sys.executable, "-c", readme_python()], cwd=workdir, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    trials = sweeps.load("configs/quickstart.yaml")  # the default store, in the working folder
    assert len(trials) == 2 and trials["mlflow_run_id"].notna().all()
    best = trials.loc[trials["value"].idxmin()]
    assert f"quickstart {best['number']} {best['value']} {best['mlflow_run_id']}" in done.stdout
