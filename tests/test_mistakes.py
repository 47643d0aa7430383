"""A user's mistakes get help: the key they meant, the path named, the data refused before torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_raw, write_config
from typer.testing import CliRunner

from datamodules.forecast import CsvDataModule
from sweeps.cli.app import app

runner = CliRunner()


def _refused(tmp_path: Path, raw: dict[str, Any], command: str = "validate") -> str:
    result = runner.invoke(app, [command, str(write_config(tmp_path, raw))])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"model": {"cell": "lstm", "hiden_size": 8}}, "model.hiden_size is not a known key; "),
        ({"optimizer": {"lr": 0.01, "weight_decy": 0.1}}, "did you mean `weight_decay`?"),
        ({"search": {"n_trails": 3}}, "did you mean `n_trials`?"),
        ({"search": {"pruner": {"nmae": "none"}}}, "search.pruner.nmae is not a known key"),
        ({"seeed": 3}, "seeed is not a known key; did you mean `seed`?"),
    ],
)
def test_an_unknown_key_suggests_the_nearest_known_one(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    line = _refused(tmp_path, tiny_raw(**change))
    assert expected in line, line
    assert "did you mean" in line, line


def test_a_typo_in_a_required_key_names_the_typo_not_the_missing_key(tmp_path: Path) -> None:
    raw = tiny_raw()
    raw["naem"] = raw.pop("name")
    assert "naem is not a known key; did you mean `name`?" in _refused(tmp_path, raw)


def test_a_key_near_nothing_known_gets_no_guess(tmp_path: Path) -> None:
    line = _refused(tmp_path, tiny_raw(bogus=1))
    assert "bogus is not a known key" in line and "did you mean" not in line, line


def test_an_unknown_dataset_option_suggests_the_option(tmp_path: Path) -> None:
    data = {"name": "adding", "seq_len": 10, "n_trian": 64}
    assert "data.n_trian" in (line := _refused(tmp_path, tiny_raw(data=data)))
    assert "did you mean `n_train`?" in line, line


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("model.hiden_size", "search.space.model.hiden_size: model.hiden_size is not a known key; "
         "did you mean `model.hidden_size`?"),
        ("optimizer.learning_rate.x", "optimizer.learning_rate.x is not a known key"),
        ("data.n_trian", "did you mean `data.n_train`?"),
        ("modle.hidden_size", "must point into one of"),
    ],
)  # fmt: skip
def test_a_bad_search_space_path_is_named_as_a_path(
    tmp_path: Path, path: str, expected: str
) -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {path: {"type": "int", "low": 16, "high": 32}}
    line = _refused(tmp_path, raw)
    assert expected in line, line
    assert "invalid" not in line, line  # the path is wrong, not the value 16


def test_a_condition_on_a_mistyped_field_suggests_the_field(tmp_path: Path) -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {
        "model.cell": {"type": "categorical", "choices": ["rnn", "lstm"]},
        "model.num_layers": {"type": "int", "low": 1, "high": 2, "when": {"model.cel": ["lstm"]}},
    }
    assert "did you mean `model.cell`?" in _refused(tmp_path, raw)


def test_run_refuses_what_validate_refuses_before_it_imports_torch(tmp_path: Path) -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"model.hiden_size": {"type": "int", "low": 16, "high": 32}}
    config = write_config(tmp_path, raw)
    code = "\n".join(
        [
            "import json, sys",
            "from sweeps.cli.app import app",
            "try:",
            f"    app(['run', {str(config)!r}])",
            "except SystemExit as stop:",
            "    code = stop.code",
            "print(json.dumps([code, 'torch' in sys.modules]))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == [2, False], done.stdout + done.stderr  # exit 2, torch never imported
    assert "did you mean `model.hidden_size`?" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]  # no store was made


def _table(folder: Path, text: str) -> Path:
    path = folder / "series.csv"
    path.write_text(text)
    return path


def _rows(n: int) -> str:
    return "".join(f"{i},{i % 7}.5,\n" for i in range(n))  # t, y, and an empty column e


ROWS = _rows(60)


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("t,y,e\n", {}, "data.path holds no rows"),
        ("t,y\n" + "".join(f"{i},x{i}\n" for i in range(60)), {}, "column 'y' is not numeric"),
        ("t,y,e\n" + ROWS, {"covariates": ["e"]}, "missing or infinite values"),
        ("t,y,e\n" + ROWS, {"covariates": ["e"], "missing": "interpolate"}, "have no values"),
        ("t,y,e\n" + _rows(15), {"seq_len": 12}, "needs at least 13 rows in the train split"),
    ],
    ids=["header-only", "non-numeric-target", "empty-column", "empty-interpolated", "too-short"],
)
def test_validate_refuses_every_table_that_run_would(
    tmp_path: Path, text: str, options: dict[str, Any], expected: str
) -> None:
    data = {"name": "csv", "path": str(_table(tmp_path, text)), "target": "y", "time": "t"}
    data |= {"seq_len": 5, **options}
    line = _refused(tmp_path, tiny_raw(data=data))
    assert expected in line, line
    with pytest.raises(ValueError) as built:  # the datamodule refuses it with the same words
        CsvDataModule(**{k: v for k, v in data.items() if k != "name"}).splits  # noqa: B018
    assert str(built.value) in line, line


def test_a_searched_length_the_table_cannot_hold_is_refused(tmp_path: Path) -> None:
    path = _table(tmp_path, "t,y,e\n" + ROWS)  # 60 rows: 42 of them train
    raw = tiny_raw(data={"name": "csv", "path": str(path), "target": "y", "seq_len": 5})
    raw["search"]["space"] = {"data.seq_len": {"type": "int", "low": 5, "high": 50}}
    line = _refused(tmp_path, raw, "run")
    assert "search.space.data.seq_len value 50 is invalid" in line, line
    assert "needs at least 51 rows in the train split" in line, line


def test_a_valid_table_passes_validate(tmp_path: Path) -> None:
    path = _table(tmp_path, "t,y,e\n" + ROWS)
    data = {"name": "csv", "path": str(path), "target": "y", "time": "t", "seq_len": 5}
    result = runner.invoke(app, ["validate", str(write_config(tmp_path, tiny_raw(data=data)))])
    assert result.exit_code == 0, result.output


def _studies(folder: Path, *names: str) -> None:
    import optuna

    from sweeps.stores.storage import DEFAULT_STORAGE, open_storage

    store = open_storage(DEFAULT_STORAGE)  # the journal in the working folder
    for name in names:
        study = optuna.create_study(study_name=name, storage=store)
        trial = study.ask()
        trial.suggest_float("optimizer.lr", 1e-3, 1e-1, log=True)
        study.tell(trial, 0.25)


@pytest.mark.parametrize("command", ["status", "best"])
def test_a_folder_with_one_study_needs_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _studies(tmp_path, "only")
    result = runner.invoke(app, [command])
    assert result.exit_code == 0, result.output
    assert "best: trial 0, value 0.25" in result.output


def test_several_studies_are_named_and_none_is_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _studies(tmp_path, "first", "second")
    line = _refused_args(["status"])
    assert "holds 2 studies ['first', 'second']" in line and "--study NAME" in line, line


def test_a_folder_without_a_study_says_so_and_creates_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("status", "best", "report"):
        line = _refused_args([command])
        assert "no study here" in line and "optuna.journal does not exist" in line, line
    assert list(tmp_path.iterdir()) == []


def _refused_args(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


@pytest.mark.slow
def test_report_without_a_config_says_where_it_wrote(workdir: Path) -> None:
    _studies(workdir, "only")
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    assert f"wrote {(workdir / 'report.html').resolve()} (" in result.output
    assert '"study": "only"' in (workdir / "report.html").read_text()
