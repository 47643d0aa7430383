"""The key a user meant: the known names at a place in the schema, and the nearest to a typo."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

# difflib's ratio: 0.6 is its own default, close enough that `hiden_size` finds `hidden_size`
# and `bogus` finds nothing.
CUTOFF = 0.6


def did_you_mean(word: str, known: Iterable[str], prefix: str = "") -> str:
    """`; did you mean `prefix + name`?` for the known name nearest `word`; "" if none is near."""
    found = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=CUTOFF)
    return f"; did you mean `{prefix}{found[0]}`?" if found else ""


def _fields(node: Any) -> dict[str, Any]:
    if isinstance(node, type) and issubclass(node, BaseModel):
        return {name: field.annotation for name, field in node.model_fields.items()}
    if isinstance(node, type) and dataclasses.is_dataclass(node):
        hints = typing.get_type_hints(node)
        return {f.name: hints[f.name] for f in dataclasses.fields(node) if f.init}
    return {}


def keys_at(root: type, loc: Sequence[str | int]) -> list[str]:
    """The keys the section of `root` at `loc` takes; a dict's own keys are passed over."""
    node: Any = root
    for part in loc:
        if typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]  # e.g. search.space.<path>: skip the path
            continue
        fields = _fields(node)
        if part not in fields:
            return []
        node = fields[part]
    return list(_fields(node))
