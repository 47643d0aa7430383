"""The search space is data: one function turns it into `trial.suggest_*` calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from datamodules.catalog import option_fields
from sweeps.config.loader import with_values
from sweeps.config.schema import Config
from sweeps.config.search import ParamSpec
from sweeps.config.spelling import did_you_mean, keys_at
from sweeps.errors import ConfigError

if TYPE_CHECKING:
    import optuna

# Sections a searched path may point into; search, storage and tracking are not hyperparameters.
SEARCHABLE = ("seed", "data", "model", "optimizer", "trainer")


def suggest(
    trial: optuna.Trial, space: dict[str, ParamSpec], base: Config | None = None
) -> dict[str, Any]:
    """Sample every searched field whose `when` holds; the Optuna name is the dotted path.

    A condition reads the field's value in this trial: sampled, or else the base config's.
    """
    values: dict[str, Any] = {}
    for name in ordered(space):
        spec = space[name]
        if spec.when and not _holds(spec.when, values, base):
            continue
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


def get_dotted(config: Config, path: str) -> Any:
    """The value at a dotted path of the config, or a ConfigError naming the path."""
    node: Any = config.model_dump(mode="json")
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{path} is not a field of the config")
        node = node[part]
    return node


def _holds(when: dict[str, list[Any]], values: dict[str, Any], base: Config | None) -> bool:
    for field, allowed in when.items():
        if field in values:
            current = values[field]
        elif base is not None:
            current = get_dotted(base, field)
        else:
            raise ConfigError(f"a condition on {field} needs the base config to be read")
        if current not in allowed:
            return False
    return True


def ordered(space: dict[str, ParamSpec]) -> list[str]:
    """Searched names, each after the searched fields its `when` reads; a cycle is an error."""
    out: list[str] = []
    pending = list(space)
    while pending:
        ready = [n for n in pending if all(f in out or f not in space for f in space[n].when or {})]
        if not ready:
            raise ConfigError(
                f"search.space conditions form a cycle among {pending}; a `when` may only "
                "read fields that do not, in turn, depend on it"
            )
        out += ready
        pending = [n for n in pending if n not in ready]
    return out


def tree_lines(config: Config) -> list[str]:
    """The search space as a tree: each conditional parameter under the field it reads."""
    space = config.search.space
    children: dict[str | None, list[str]] = {}
    for name in ordered(space):
        parents = [f for f in space[name].when or {} if f in space]
        children.setdefault(parents[0] if parents else None, []).append(name)
    lines: list[str] = []

    def show(name: str, depth: int) -> None:
        spec = space[name]
        shown = spec.model_dump(
            exclude_none=True, exclude={"when", *(() if spec.log else ("log",))}
        )
        text = f"{'  ' * depth}{name}: {shown}"
        for field, allowed in (spec.when or {}).items():
            now = "" if field in space else f" (config: {get_dotted(config, field)!r})"
            text += f"  when {field} in {allowed}{now}"
        lines.append(text)
        for child in children.get(name, []):
            show(child, depth + 1)

    for root in children.get(None, []):
        show(root, 1)
    return lines


def unknown_path(config: Config, path: str) -> str | None:
    """Why a dotted path names no field of the config, with the nearest that it does; or None."""
    parts = path.split(".")
    for depth, part in enumerate(parts):
        known = keys_at(Config, parts[:depth])
        if parts[:depth] == ["data"]:
            known += list(option_fields(config.data.name))
        if part not in known:
            prefix = "".join(f"{p}." for p in parts[:depth])
            return f"{path} is not a known key{did_you_mean(part, known, prefix)}"
    return None


def _check_when(config: Config, name: str, spec: ParamSpec) -> None:
    where = f"search.space.{name}.when"
    for field, allowed in (spec.when or {}).items():
        if field == name:
            raise ConfigError(f"{where} reads {name} itself; name another field")
        if not isinstance(allowed, list) or not allowed:
            raise ConfigError(f"{where}.{field} must list the values, e.g. [2, 3]")
        unknown = unknown_path(config, field)
        if unknown:
            raise ConfigError(f"{where} reads {field}, but {unknown}")
        try:
            get_dotted(config, field)
        except ConfigError:  # a dataset option left at its default: no value in the config
            raise ConfigError(f"{where} reads {field}; set it in the config to read it") from None
        parent = config.search.space.get(field)
        if parent is not None and parent.type == "categorical":
            never = [v for v in allowed if v not in (parent.choices or [])]
            if never:
                raise ConfigError(
                    f"{where}.{field} lists {never}, which its choices {parent.choices} never take"
                )


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


def _ends(config: Config, name: str, spec: ParamSpec) -> list[tuple[Any, Config]]:
    """The configs at each end of a searched field's range (or each choice), validated."""
    # a conditional value is checked where it is searched: with its condition's values
    context = {field: allowed[0] for field, allowed in (spec.when or {}).items() if allowed}
    out = []
    for value in _check_spec(name, spec):
        try:
            out.append((value, with_values(config, {**context, name: value})))
        except ConfigError as err:
            raise ConfigError(f"search.space.{name} value {value!r} is invalid: {err}") from None
    return out


def ends(config: Config, section: str) -> Iterator[tuple[str, Any, Config]]:
    """(path, value, config) for each end of every searched field under `section`, e.g. data:
    what a trial at that end would train, for checks that need more than the schema."""
    for name, spec in config.search.space.items():
        if name.split(".")[0] == section:
            for value, end in _ends(config, name, spec):
                yield name, value, end


def check_space(config: Config) -> None:
    """Every searched path exists and every boundary value gives a valid config."""
    for name, spec in config.search.space.items():
        root = name.split(".")[0]
        if root not in SEARCHABLE:
            raise ConfigError(
                f"search.space.{name} must point into one of {list(SEARCHABLE)}, e.g. "
                f"optimizer.lr{did_you_mean(root, SEARCHABLE)}"
            )
        unknown = unknown_path(config, name)
        if unknown:
            raise ConfigError(f"search.space.{name}: {unknown}")
        _check_when(config, name, spec)
        _ends(config, name, spec)
        if spec.when and config.search.sampler.name == "grid":
            raise ConfigError(
                f"search.space.{name}.when cannot be used with search.sampler.name=grid, "
                "whose points fix every parameter; use tpe or random"
            )
    ordered(config.search.space)  # no cycles
    from sweeps.search.objectives import check_objectives
    from sweeps.search.warmstart import check_enqueue

    check_enqueue(config)
    check_objectives(config)
    if config.search.sampler.name == "grid":
        grid(config.search.space)
