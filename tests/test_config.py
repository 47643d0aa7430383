"""The schema: shipped configs validate; bad input gives one line naming the field and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, tiny_raw, write_config

from sweeps.config.loader import load_config, parse_overrides, set_dotted, with_values
from sweeps.config.schema import validate
from sweeps.errors import ConfigError
from sweeps.search.space import check_space, grid

SHIPPED = sorted(CONFIGS.glob("*.yaml"))


def test_configs_are_shipped() -> None:
    assert any(p.name == "quickstart.yaml" for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    check_space(config)
    assert config.name


def test_defaults_fill_a_minimal_config() -> None:
    config = validate({"name": "m", "data": {"name": "adding", "seq_len": 20}})
    assert config.model.cell == "lstm"
    assert config.search.pruner.name == "plateau"
    assert config.tracking.uri == "sqlite:///mlflow.db"


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        check_space(validate(raw))
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"model": {"hiden_size": 8}}, "model.hiden_size is not a known key"),
        ({"model": {"cell": "transformer"}}, "model.cell"),
        ({"model": {"dropout": 1.5}}, "model.dropout"),
        ({"optimizer": {"lr": -1}}, "optimizer.lr"),
        ({"data": {"name": "nope", "seq_len": 5}}, "data.name 'nope' is unknown"),
        ({"data": {"name": "adding", "seq_len": 5, "n_trian": 3}}, "data.n_trian is not an option"),
        ({"data": {"name": "adding", "seq_len": 5, "n_train": "many"}}, "data.n_train"),
        ({"data": {"name": "csv", "path": "x.csv", "target": "y"}}, "data.seq_len is required"),
        ({"data": {"name": "digits", "seq_len": 20}}, "data.seq_len is fixed at 8"),
        ({"tracking": {"uri": "./mlruns"}}, "tracking.uri"),
        ({"bogus": 1}, "bogus is not a known key"),
    ],
)
def test_bad_config_names_the_field(change: dict[str, Any], expected: str) -> None:
    assert expected in _error(tiny_raw(**change))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "float", "low": 0.1, "high": 0.01}, "low must be < high"),
        ({"type": "float", "low": 0.0, "high": 0.1, "log": True}, "low must be > 0 with log"),
        ({"type": "categorical", "choices": []}, "choices must list at least one value"),
        ({"type": "int", "low": 1.5, "high": 4}, "low and high must be whole"),
        ({"type": "float", "high": 1.0}, "needs both low and high"),
    ],
)
def test_bad_space_entry_names_the_path(spec: dict[str, Any], expected: str) -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"optimizer.lr": spec}
    message = _error(raw)
    assert "search.space.optimizer.lr" in message and expected in message


def test_space_value_that_breaks_the_config_is_reported() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"model.dropout": {"type": "float", "low": 0.0, "high": 1.0}}
    assert "search.space.model.dropout value 1.0 is invalid" in _error(raw)


def test_space_path_outside_searchable_sections() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"search.n_trials": {"type": "int", "low": 1, "high": 4}}
    assert "must point into one of" in _error(raw)


def test_space_path_to_unknown_field() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"model.hidden": {"type": "int", "low": 4, "high": 8}}
    assert "model.hidden is not a known key" in _error(raw)


def test_seq_len_and_batch_size_are_searchable() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {
        "data.seq_len": {"type": "int", "low": 10, "high": 30, "step": 10},
        "data.batch_size": {"type": "categorical", "choices": [16, 32]},
    }
    config = validate(raw)
    check_space(config)
    trial = with_values(config, {"data.seq_len": 20, "data.batch_size": 16})
    assert (trial.data.seq_len, trial.data.batch_size) == (20, 16)
    assert config.data.seq_len == 10  # the base is untouched


def test_overrides_are_yaml_typed_and_reach_the_space(tmp_path: Path) -> None:
    values = parse_overrides(
        [
            "optimizer.lr=0.05",
            "model.bidirectional=true",
            "search.space.model.dropout={type: float, low: 0.0, high: 0.3}",
        ]
    )
    config = load_config(write_config(tmp_path, tiny_raw()), values)
    assert config.optimizer.lr == 0.05 and config.model.bidirectional is True
    assert config.search.space["model.dropout"].high == 0.3


@pytest.mark.parametrize("bad", ["optimizer.lr", "=3"])
def test_override_without_key_value_is_an_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--set expects key=value"):
        parse_overrides([bad])


def test_override_through_a_value_is_an_error() -> None:
    raw: dict[str, Any] = {"seed": 0}
    with pytest.raises(ConfigError, match="seed is not a section"):
        set_dotted(raw, "seed.x", 1)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_grid_needs_steps_for_floats() -> None:
    raw = tiny_raw()
    raw["search"]["sampler"] = {"name": "grid"}
    assert "needs a step for search.sampler.name=grid" in _error(raw)
    raw["search"]["space"] = {
        "model.hidden_size": {"type": "int", "low": 8, "high": 32, "step": 8},
        "model.cell": {"type": "categorical", "choices": ["rnn", "gru"]},
    }
    assert grid(validate(raw).search.space) == {
        "model.hidden_size": [8, 16, 24, 32],
        "model.cell": ["rnn", "gru"],
    }


def test_digest_changes_with_content() -> None:
    a = validate(tiny_raw())
    b = with_values(a, {"optimizer.lr": 0.5})
    assert a.digest() != b.digest()
    assert a.digest() == validate(tiny_raw()).digest()
