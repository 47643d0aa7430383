"""Conditional parameters and warm start, on in-memory studies (no training unless slow)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import tiny_raw, write_config
from test_leaderboard import fake_study
from typer.testing import CliRunner

from sweeps.cli.app import app
from sweeps.config.schema import Config, validate
from sweeps.errors import ConfigError
from sweeps.search.space import check_space, suggest
from sweeps.search.warmstart import top_params, warm_start

DROPOUT = {"type": "float", "low": 0.0, "high": 0.5, "when": {"model.num_layers": [2, 3]}}


def conditional(**extra: Any) -> Config:
    raw = tiny_raw()
    raw["search"]["space"] = {
        "model.num_layers": {"type": "int", "low": 1, "high": 3},
        "model.dropout": DROPOUT,
        **extra,
    }
    return validate(raw)


def sampled(config: Config, n: int = 30) -> list[dict[str, Any]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: len(suggest(t, config.search.space, config)), n_trials=n)
    return [t.params for t in study.trials]


def test_a_conditional_parameter_is_absent_unless_its_condition_holds() -> None:
    params = sampled(conditional())
    assert {p["model.num_layers"] for p in params} == {1, 2, 3}
    for p in params:
        assert ("model.dropout" in p) == (p["model.num_layers"] in (2, 3)), p


def test_a_condition_on_a_fixed_field_reads_the_config() -> None:
    when_rnn = {"type": "categorical", "choices": ["tanh", "relu"], "when": {"model.cell": ["rnn"]}}
    lstm = conditional(**{"model.nonlinearity": when_rnn})
    assert not any("model.nonlinearity" in p for p in sampled(lstm, 5))
    rnn = lstm.model_copy(update={"model": dataclasses.replace(lstm.model, cell="rnn")})
    assert all("model.nonlinearity" in p for p in sampled(rnn, 5))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"when": {"model.nope": [1]}}, "reads model.nope, but model.nope is not a known key"),
        ({"when": {"model.num_layers": []}}, "must list the values"),
        ({"when": {"model.dropout": [0.1]}}, "reads model.dropout itself"),
    ],
)
def test_bad_conditions_are_one_line_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_space(conditional(**{"model.dropout": {**DROPOUT, **spec}}))


def test_conditions_must_not_form_a_cycle_or_name_choices_never_taken() -> None:
    cell = {"type": "categorical", "choices": ["rnn", "lstm"], "when": {"model.dropout": [0.1]}}
    dropout = {**DROPOUT, "when": {"model.cell": ["lstm"]}}
    with pytest.raises(ConfigError, match="form a cycle"):
        check_space(conditional(**{"model.cell": cell, "model.dropout": dropout}))
    gru_only = {"type": "float", "low": 1e-3, "high": 1e-1, "when": {"model.cell": ["gru"]}}
    cells = {"type": "categorical", "choices": ["rnn", "lstm"]}
    with pytest.raises(ConfigError, match=r"lists \['gru'\], which its choices"):
        check_space(conditional(**{"model.cell": cells, "optimizer.lr": gru_only}))


def test_validate_prints_the_tree(tmp_path: Path) -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {
        "model.dropout": DROPOUT,
        "model.num_layers": {"type": "int", "low": 1, "high": 3},
    }
    result = CliRunner().invoke(app, ["validate", str(write_config(tmp_path, raw))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    parent = lines.index("  model.num_layers: {'type': 'int', 'low': 1.0, 'high': 3.0}")
    assert lines[parent + 1].startswith("    model.dropout: ")
    assert lines[parent + 1].endswith("when model.num_layers in [2, 3]")


def test_enqueued_sets_run_first_and_once() -> None:
    raw = tiny_raw()
    raw["search"]["enqueue"] = [{"model.cell": "gru", "optimizer.lr": 0.05}, {"model.cell": "rnn"}]
    config = validate(raw)
    study = optuna.create_study()
    assert warm_start(study, config) == 2
    assert warm_start(study, config) == 0  # a resume queues nothing twice
    study.optimize(lambda t: len(suggest(t, config.search.space, config)), n_trials=3)
    first, second, _ = (t.params for t in study.trials)
    assert first == {"model.cell": "gru", "optimizer.lr": 0.05}
    assert second["model.cell"] == "rnn" and "optimizer.lr" in second  # the sampler fills it


@pytest.mark.parametrize(
    ("enqueue", "message"),
    [
        ({"model.hidden_size": 8}, r"search.enqueue\[0\].model.hidden_size is not in search.space"),
        ({"model.cell": "tcn"}, r"search.enqueue\[0\].model.cell is 'tcn', but its choices"),
        ({"optimizer.lr": 5.0}, r"search.enqueue\[0\].optimizer.lr is 5.0, outside"),
    ],
)
def test_bad_enqueue_sets_are_one_line_errors(enqueue: dict[str, Any], message: str) -> None:
    raw = tiny_raw()
    raw["search"]["enqueue"] = [enqueue]
    with pytest.raises(ConfigError, match=message):
        check_space(validate(raw))


def test_top_params_of_another_study_keep_what_this_space_searches() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1}}
    source = fake_study()  # two complete trials, both lr 0.01: one set after de-duplication
    assert top_params(source, validate(raw), top=5) == [{"optimizer.lr": 0.01}]
    full = top_params(source, validate(tiny_raw()), top=1)
    assert full == [{"model.cell": "lstm", "optimizer.lr": 0.01}]


@pytest.mark.slow
def test_run_from_study_starts_with_its_best(workdir: Path) -> None:
    from sweeps.runner.coordinator import run_sweep
    from sweeps.search.study import load_existing

    raw = tiny_raw(trainer={"max_epochs": 1})
    raw["search"]["n_trials"] = 2
    run_sweep(validate(raw), storage="sqlite:///optuna.db", report=lambda _: None)
    best = load_existing("tiny", "sqlite:///optuna.db").best_trial
    raw["search"]["n_trials"] = 1
    run_sweep(
        validate(raw),
        storage="sqlite:///optuna.db",
        study_name="longer",
        from_study="tiny",
        report=lambda _: None,
    )
    warm = load_existing("longer", "sqlite:///optuna.db").trials[0]
    assert warm.params == best.params
