"""The dataset catalog: `sweep validate` reads it instead of the data, so it must tell the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, tiny_raw, write_config
from typer.testing import CliRunner

from datamodules import frames
from datamodules.catalog import CATALOG
from datamodules.options import MISSING_NAMES, TRANSFORM_NAMES
from datamodules.registry import DATAMODULES, build_datamodule
from datamodules.sources import TABLE_SUFFIXES
from sweeps.cli.app import app

REPO = CONFIGS.parent
SMALL = {"n_train": 32, "n_val": 16, "n_test": 16}


def _small_options(name: str, folder: Path) -> dict[str, Any]:
    """Options that build each dataset in seconds, from files in `folder` where it needs one."""
    if name in ("adding", "copy_memory", "temporal_order"):
        return {**SMALL, "seq_len": 12}
    if name == "text":
        path = folder / "tiny.txt"
        path.write_text("To be, or not to be, that is the question. " * 50)
        return {"path": str(path), "seq_len": 16}
    if name == "csv":
        return {
            "path": str(REPO / "configs/data/co2_weekly.csv"),
            "target": "co2",
            "missing": "drop",
            "seq_len": 8,
        }
    if name == "ucr":
        return {"dataset": "ItalyPowerDemand"}
    return {}


def test_every_catalog_entry_has_its_class() -> None:
    assert list(DATAMODULES) == list(CATALOG)
    for name, cls in DATAMODULES.items():
        assert cls.info is CATALOG[name]


@pytest.mark.parametrize("name", list(CATALOG))
def test_catalog_agrees_with_the_built_data(name: str, tmp_path: Path) -> None:
    info = CATALOG[name]
    spec = build_datamodule(name, **_small_options(name, tmp_path)).spec
    assert spec.task == info.task
    assert spec.every_step == info.every_step
    assert spec.tokens == info.tokens  # a vocabulary: token-id inputs
    assert spec.standardised == info.standardised  # original-unit errors are logged too


def test_named_choices_match_the_handlers() -> None:
    assert set(frames.MISSING) == set(MISSING_NAMES)
    assert set(frames.TRANSFORMS) == set(TRANSFORM_NAMES)
    assert set(frames.READERS) == set(TABLE_SUFFIXES)


runner = CliRunner()


def _validate(tmp_path: Path, **data: Any) -> Any:
    raw = tiny_raw(data=data)
    return runner.invoke(app, ["validate", str(write_config(tmp_path, raw))])


def test_validate_names_a_missing_column_or_file(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("day,a,b\n1,2.0,3.0\n")
    csv = {"name": "csv", "path": str(table), "time": "day", "seq_len": 4}
    result = _validate(tmp_path, **csv, target="a", covariates=["c"])
    assert result.exit_code == 2, result.output
    assert "data.covariates names unknown column(s) ['c']; available: ['day', 'a', 'b']" in (
        result.output
    )
    result = _validate(tmp_path, **{**csv, "path": str(tmp_path / "gone.csv")}, target="a")
    assert result.exit_code == 2, result.output
    assert "data.path" in result.output and "cannot be opened" in result.output


def test_validate_refuses_bidirectional_next_token(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("abc" * 100)
    raw = tiny_raw(data={"name": "text", "path": str(text), "seq_len": 8})
    raw["model"]["bidirectional"] = True
    raw["search"]["metric"] = "val_bpc"
    result = runner.invoke(app, ["validate", str(write_config(tmp_path, raw))])
    assert result.exit_code == 2, result.output
    assert "model.bidirectional must be false for next-token prediction" in result.output
