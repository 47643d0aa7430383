"""Reading a YAML config as untrusted input: size and alias limits, no repeated keys, marked errors.

PyYAML's safe loader already refuses tags that run code. It still accepts a repeated key (the last
one silently wins), expands an alias bomb into gigabytes, and reports a syntax error across
several lines. Each of those is refused here with one line that names the place in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sweeps.errors import ConfigError

MAX_BYTES = 1_000_000  # a config is a page of text; the shipped ones are under 2 kB
MAX_NODES = 100_000  # values after aliases are expanded: a shipped config has about 100
MAX_SHOWN = 80  # characters of user input an error message may echo


def clip(value: object, limit: int = MAX_SHOWN) -> str:
    """`repr(value)`, cut to `limit` characters: an error must not echo megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""

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
    loader = _Loader(data)
    loader.name = name
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root) > MAX_NODES:
            raise ConfigError(
                f"{name}: its aliases expand to more than {MAX_NODES} values; refusing to load it "
                "(a YAML alias bomb?)"
            )
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: not valid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{name}: not valid YAML: {clip(str(err))}") from None
    finally:
        loader.dispose()
