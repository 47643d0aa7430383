"""Configs as an attacker or a tired user writes them: each refused at once, in one short line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, tiny_raw, write_config
from typer.testing import CliRunner

from sweeps.cli.app import app
from sweeps.config.loader import MAX_BYTES, MAX_NODES, load_config, parse_overrides
from sweeps.config.schema import validate
from sweeps.errors import ConfigError
from sweeps.search.space import check_space

runner = CliRunner()


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        check_space(load_config(path))
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def test_a_repeated_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: first\ndata: {name: adding, seq_len: 10}\nname: second\n")
    message = _refused(path)
    assert "dup.yaml:3" in message and "'name'" in message and "line 1" in message


def test_a_repeated_nested_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\ndata:\n  name: adding\n  seq_len: 10\n  seq_len: 20\n")
    assert "dup.yaml:5: key 'seq_len' is given twice (first on line 4)" in _refused(path)


def test_merge_keys_still_override(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "base: &m {cell: lstm, hidden_size: 8}\n"
        "name: a\ndata: {name: adding, seq_len: 10}\nmodel: {<<: *m, hidden_size: 16}\n"
    )
    with pytest.raises(ConfigError, match="base is not a known key"):
        load_config(path)  # the merge itself loaded; only the unknown anchor holder is refused


def test_a_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\ndata: {name: adding\n  seq_len: 10\n")
    assert "bad.yaml:3:10: not valid YAML" in _refused(path)


def test_an_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":  # 9 ** 9 = 387 million strings once expanded
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 400
    assert f"more than {MAX_NODES} values" in _refused(path)


def test_an_oversized_config_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: a\ndata: {name: adding}\nnote: '" + "x" * MAX_BYTES + "'\n")
    assert "larger than" in _refused(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"optimizer": {"lr": float("inf")}}, "optimizer.lr"),
        ({"optimizer": {"lr": float("nan")}}, "optimizer.lr"),
        ({"model": {"dropout": float("nan")}}, "model.dropout"),
        ({"search": {"timeout": float("inf")}}, "search.timeout"),
        ({"data": {"name": "digits", "val_fraction": float("nan")}}, "data.val_fraction"),
    ],
)
def test_inf_and_nan_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        validate(tiny_raw(**change))


@pytest.mark.parametrize("bound", ["low", "high"])
def test_infinite_search_bounds_are_refused(bound: str) -> None:
    raw = tiny_raw()
    raw["search"]["space"]["optimizer.lr"][bound] = float("inf")
    with pytest.raises(ConfigError, match=f"search.space.optimizer.lr.{bound}"):
        check_space(validate(raw))


def test_no_error_echoes_more_than_a_line_of_input(tmp_path: Path) -> None:
    path = write_config(tmp_path, tiny_raw(model={"cell": "q" * 100_000}))
    message = _refused(path)
    assert "model.cell" in message and message.count("q") < 200


def test_a_long_override_is_clipped() -> None:
    with pytest.raises(ConfigError) as info:
        parse_overrides(["x" * 10_000])
    assert len(str(info.value)) < 200


def test_validate_refuses_a_gpu_this_machine_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    path = write_config(tmp_path, tiny_raw(trainer={"max_epochs": 1, "accelerator": "gpu"}))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output  # a valid file, but not for this machine
    assert "trainer.accelerator is 'gpu'" in result.output


def test_validate_refuses_a_constructor_only_rule() -> None:
    result = runner.invoke(
        app, ["validate", str(CONFIGS / "quickstart.yaml"), "--set", "optimizer.gamma=1.0"]
    )
    assert result.exit_code == 2, result.output
    assert "optimizer.gamma must be in (0, 1)" in result.output


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seed": True}, "seed"),
        ({"data": {"name": "adding", "seq_len": True}}, "data.seq_len"),
        ({"data": {"name": "adding", "batch_size": True}}, "data.batch_size"),
        ({"data": {"name": "adding", "n_train": False}}, "data.n_train"),
        ({"model": {"hidden_size": True}}, "model.hidden_size"),
        ({"model": {"hidden_size": "32"}}, "model.hidden_size"),
        ({"model": {"bidirectional": "yes please"}}, "model.bidirectional"),
        ({"optimizer": {"step_size": True}}, "optimizer.step_size"),
        ({"optimizer": {"lr": "0.01"}}, "optimizer.lr"),
        ({"trainer": {"max_epochs": True}}, "trainer.max_epochs"),
        ({"trainer": {"limit_train_batches": True}}, "trainer.limit_train_batches"),
        ({"search": {"n_trials": True}}, "search.n_trials"),
        ({"search": {"sampler": {"seed": True}}}, "search.sampler.seed"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        validate(tiny_raw(**change))
    assert str(info.value).startswith(field), info.value


def test_a_whole_number_still_stands_for_a_float_and_1e_3_is_a_number(tmp_path: Path) -> None:
    path = tmp_path / "e"
    lines = ["name: a", "data: {name: adding, seq_len: 10}", "optimizer: {lr: 1e-3, gamma: 1E-1}"]
    path.write_text("\n".join(lines))
    overrides = parse_overrides(["optimizer.weight_decay=2e-5", "search.timeout=60"])
    config = load_config(path, overrides)
    assert (config.optimizer.lr, config.optimizer.gamma) == (0.001, 0.1)
    assert (config.optimizer.weight_decay, config.search.timeout) == (2e-5, 60.0)


@pytest.mark.parametrize("body", [b"name: a\x07b\n", b"name: caf\xe9\n", b"name: a\x00\n"])
def test_characters_yaml_forbids_exit_2_naming_the_file(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(body + b"data: {name: adding, seq_len: 10}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Error" not in result.output, result.output
    assert f"{path}: not valid YAML: character #x" in result.output


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["run", "CONFIG", "--study", "../../x"], "--study"),
        (["run", "CONFIG", "--from-study", "a/b"], "--from-study"),
        (["status", "--study", "../../x"], "--study"),
        (["best", "--study", ".hidden"], "--study"),
    ],
)
def test_a_study_name_on_the_command_line_follows_the_configs_rule(
    tmp_path: Path, args: list[str], flag: str
) -> None:
    config = str(write_config(tmp_path, tiny_raw()))
    result = runner.invoke(app, [config if a == "CONFIG" else a for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {flag} must be letters, digits"), result.output
    with pytest.raises(ConfigError, match="^name must be letters"):
        validate(tiny_raw(name=args[-1]))
