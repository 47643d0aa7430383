"""Warm start: param sets a study tries first, from the config or from another study's best."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeps.config.loader import with_values
from sweeps.config.schema import Config
from sweeps.config.search import ParamSpec
from sweeps.errors import ConfigError

if TYPE_CHECKING:  # `sweep validate` checks search.enqueue without importing optuna
    import optuna


def _check_value(where: str, spec: ParamSpec, value: Any) -> None:
    if spec.type == "categorical":
        if value not in (spec.choices or []):
            raise ConfigError(f"{where} is {value!r}, but its choices are {spec.choices}")
        return
    assert spec.low is not None and spec.high is not None
    if not isinstance(value, int | float) or not spec.low <= value <= spec.high:
        raise ConfigError(f"{where} is {value!r}, outside [{spec.low}, {spec.high}]")


def check_enqueue(config: Config) -> None:
    """Each search.enqueue set names searched fields, with values inside their ranges."""
    space = config.search.space
    for i, params in enumerate(config.search.enqueue):
        for key, value in params.items():
            where = f"search.enqueue[{i}].{key}"
            if key not in space:
                raise ConfigError(f"{where} is not in search.space; searched: {sorted(space)}")
            _check_value(where, space[key], value)
        with_values(config, params)


def top_params(source: optuna.Study, config: Config, top: int) -> list[dict[str, Any]]:
    """The params of `source`'s best COMPLETE trials, kept to what this config searches."""
    from sweeps.search.ranking import ranked

    out: list[dict[str, Any]] = []
    for t in ranked(source):
        kept = {k: v for k, v in t.params.items() if k in config.search.space}
        if kept and kept not in out:
            out.append(kept)
        if len(out) == top:
            break
    return out


def warm_start(
    study: optuna.Study, config: Config, source: optuna.Study | None = None, top: int = 5
) -> int:
    """Enqueue search.enqueue and `source`'s top params, each once per study; returns how many.

    Optuna skips a set that a trial of the study already has, so a resume adds nothing.
    """
    from optuna.trial import TrialState

    sets = list(config.search.enqueue)
    if source is not None:
        sets += top_params(source, config, top)
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    for params in sets:
        study.enqueue_trial(params, skip_if_exists=True)
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))) - waiting
