"""The search space is data: one function turns it into `trial.suggest_*` calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeps.config import Config, ParamSpec, with_values
from sweeps.errors import ConfigError

if TYPE_CHECKING:
    import optuna

# Sections a searched path may point into; search, storage and tracking are not hyperparameters.
SEARCHABLE = ("seed", "data", "model", "optimizer", "trainer")


def suggest(trial: optuna.Trial, space: dict[str, ParamSpec]) -> dict[str, Any]:
    """Sample every searched field; the Optuna name is the dotted config path."""
    values: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            assert spec.choices is not None  # guaranteed by check_space
            values[name] = trial.suggest_categorical(name, spec.choices)
        elif spec.type == "int":
            assert spec.low is not None and spec.high is not None
            values[name] = trial.suggest_int(
                name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
            )
        else:
            assert spec.low is not None and spec.high is not None
            values[name] = trial.suggest_float(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
    return values


def grid(space: dict[str, ParamSpec]) -> dict[str, list[Any]]:
    """The grid sampler's search space: categorical choices and stepped ranges."""
    out: dict[str, list[Any]] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            out[name] = list(spec.choices or [])
        elif spec.step is None and spec.type == "float":
            raise ConfigError(
                f"search.space.{name} needs a step for search.sampler.name=grid "
                "(or make it categorical)"
            )
        else:
            assert spec.low is not None and spec.high is not None
            step = spec.step or 1
            n = int(round((spec.high - spec.low) / step)) + 1
            cast = int if spec.type == "int" else float
            out[name] = [cast(spec.low + i * step) for i in range(n)]
    return out


def _check_spec(name: str, spec: ParamSpec) -> list[Any]:
    """Check one spec's own rules; return the values whose configs must validate."""
    where = f"search.space.{name}"
    if spec.type == "categorical":
        if not spec.choices:
            raise ConfigError(
                f"{where}.choices must list at least one value, but got {spec.choices}"
            )
        if spec.low is not None or spec.high is not None or spec.step is not None or spec.log:
            raise ConfigError(f"{where} is categorical: give only choices, not low/high/step/log")
        return list(spec.choices)
    if spec.choices is not None:
        raise ConfigError(f"{where} is {spec.type}: give low and high, not choices")
    low, high = spec.low, spec.high
    if low is None or high is None:
        raise ConfigError(f"{where} needs both low and high, but got {low=}, {high=}")
    if not low < high:
        raise ConfigError(f"{where}.low must be < high, but got {low=}, {high=}")
    if spec.log and low <= 0:
        raise ConfigError(f"{where}.low must be > 0 with log: true, but got {low=}")
    if spec.log and spec.step is not None:
        raise ConfigError(f"{where}: step and log: true cannot be combined")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"{where}.step must be > 0, but got {spec.step}")
    if spec.type == "int":
        if not (float(low).is_integer() and float(high).is_integer()):
            raise ConfigError(
                f"{where} is int: low and high must be whole, but got {low=}, {high=}"
            )
        return [int(low), int(high)]
    return [low, high]


def check_space(config: Config) -> None:
    """Every searched path exists and every boundary value gives a valid config."""
    for name, spec in config.search.space.items():
        root = name.split(".")[0]
        if root not in SEARCHABLE:
            raise ConfigError(
                f"search.space.{name} must point into one of {list(SEARCHABLE)}, e.g. optimizer.lr"
            )
        for value in _check_spec(name, spec):
            try:
                with_values(config, {name: value})
            except ConfigError as err:
                raise ConfigError(
                    f"search.space.{name} value {value!r} is invalid: {err}"
                ) from None
    if config.search.sampler.name == "grid":
        grid(config.search.space)
