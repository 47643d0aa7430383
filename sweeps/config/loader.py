"""A config file in: YAML read as untrusted input, `--set` overrides applied, then validated.

PyYAML's safe loader already refuses tags that run code. It still accepts a repeated key (the last
one silently wins), expands an alias bomb into gigabytes, and reports a syntax error across
several lines. Each of those is refused here with one line that names the place in the file.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sweeps.config.schema import Config, validate
from sweeps.errors import ConfigError, clip

MAX_BYTES = 1_000_000  # a config is a page of text; the shipped ones are under 2 kB
MAX_NODES = 100_000  # values after aliases are expanded: a shipped config has about 100


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping, reading `1e-3` as a number."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` overrides on purpose
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise ConfigError(
                    f"{self.name}:{line}: key {clip(key)} is given twice (first on line "
                    f"{seen[key]}); YAML would silently keep the last, so remove one"
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads `lr: 1e-3` (no dot) as the string "1e-3"; YAML 1.2 and every user read a number.
# The schema is strict on types, so without this the common spelling would be refused.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _expanded_size(root: Node) -> int:
    """How many nodes the document holds once every alias is expanded (memoised: no expansion)."""
    sizes: dict[int, int] = {}

    def size(node: Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a cycle counts once; the constructor resolves it by reference
        if isinstance(node, ScalarNode):
            total = 1
        elif isinstance(node, SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        else:
            assert isinstance(node, MappingNode)
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        sizes[id(node)] = min(total, MAX_NODES + 1)
        return sizes[id(node)]

    return size(root)


def read_yaml(path: Path) -> Any:
    """The parsed document at `path`, or a ConfigError naming the file, line and column."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as err:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {err.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"{path} is larger than {MAX_BYTES // 1000} kB; a config is a page of settings, "
            "not data (point data.path at a data file instead)"
        )
    return parse_yaml(data, str(path))


def parse_yaml(data: bytes | str, name: str) -> Any:
    """Parse one YAML document with the limits above; `name` is shown in errors."""
    loader = None
    try:
        loader = _Loader(data)  # reads the stream: a byte YAML forbids fails here
        loader.name = name
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root) > MAX_NODES:
            raise ConfigError(
                f"{name}: its aliases expand to more than {MAX_NODES} values; refusing to load it "
                "(a YAML alias bomb?)"
            )
        return loader.construct_document(root)
    except yaml.reader.ReaderError as err:
        char = err.character if isinstance(err.character, int) else ord(err.character)
        raise ConfigError(
            f"{name}: not valid YAML: character #x{char:04x} at byte {err.position} "
            f"({err.reason}); save it as UTF-8 text without control characters"
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{name}: not valid YAML: {clip(str(err))}") from None
    finally:
        if loader is not None:
            loader.dispose()


def set_dotted(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict; under `search.space` the rest of the path is one key."""
    parts = path.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        if parts[:i] == ["search"] and part == "space":
            node.setdefault("space", {})[".".join(parts[i + 1 :])] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                f"{'.'.join(parts[: i + 1])} is not a section, so {path} cannot be set"
            )
        node = child
    node[parts[-1]] = value


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings to a dict; values are read as YAML, so 0.1, true and [1, 2] work."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set expects key=value, e.g. optimizer.lr=0.01, but got {clip(pair)}"
            )
        out[key.strip()] = parse_yaml(text, f"--set {clip(key.strip())}")
    return out


def load_config(
    path: str | Path, overrides: dict[str, Any] | None = None, *, check_data: bool = True
) -> Config:
    """Read a YAML config, apply `--set` overrides, and validate it."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (name, data, model, ...)")
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    return validate(raw, check_data=check_data)


def with_values(config: Config, values: dict[str, Any]) -> Config:
    """The config with dotted-path values put in, validated by the same schema."""
    raw = copy.deepcopy(config.model_dump(mode="json"))
    for key, value in values.items():
        set_dotted(raw, key, value)
    return validate(raw)
