"""Datamodules found by name: the one table `data.name` is looked up in."""

from __future__ import annotations

import inspect
from typing import Any

from datamodules.base import SequenceDataModule
from datamodules.digits import DigitsDataModule
from datamodules.forecast import CsvDataModule, MacroDataModule, SunspotsDataModule
from datamodules.options import BASE_OPTIONS
from datamodules.synthetic import AddingDataModule, CopyMemoryDataModule, TemporalOrderDataModule
from datamodules.text import CharTextDataModule
from datamodules.ucr import UCRDataModule

DATAMODULES: dict[str, type[SequenceDataModule]] = {
    "adding": AddingDataModule,
    "copy_memory": CopyMemoryDataModule,
    "temporal_order": TemporalOrderDataModule,
    "digits": DigitsDataModule,
    "sunspots": SunspotsDataModule,
    "macro": MacroDataModule,
    "csv": CsvDataModule,
    "text": CharTextDataModule,
    "ucr": UCRDataModule,
}


def datamodule_class(name: str) -> type[SequenceDataModule]:
    """The class registered under `name`, or a ValueError listing the choices."""
    try:
        return DATAMODULES[name]
    except KeyError:
        raise ValueError(
            f"data.name {name!r} is unknown; expected one of {sorted(DATAMODULES)}"
        ) from None


def dataset_options(name: str) -> dict[str, inspect.Parameter]:
    """The dataset's own keyword options (beyond batch_size, seq_len, seed) with defaults."""
    params = inspect.signature(datamodule_class(name).__init__).parameters
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {k: p for k, p in params.items() if k not in ("self", *BASE_OPTIONS) and p.kind in kinds}


def build_datamodule(name: str, **options: Any) -> SequenceDataModule:
    """Construct the named datamodule; constructors check their own options."""
    return datamodule_class(name)(**options)
