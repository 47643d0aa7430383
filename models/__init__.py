"""What learns: the plain recurrent network and its Lightning wrapper.

The names below are imported on first use (PEP 562), so `models.options` and `models.metrics`
stay importable without torch or Lightning: `sweep validate` reads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.lit_module import SequenceModule
    from models.optim import OPTIMIZERS, SCHEDULERS
    from models.recurrent import CELLS, RecurrentNet, count_parameters

_HOMES = {
    "OPTIMIZERS": "models.optim",
    "SCHEDULERS": "models.optim",
    "SequenceModule": "models.lit_module",
    "CELLS": "models.recurrent",
    "RecurrentNet": "models.recurrent",
    "count_parameters": "models.recurrent",
}

__all__ = [
    "CELLS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "RecurrentNet",
    "SequenceModule",
    "count_parameters",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
