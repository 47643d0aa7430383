"""Datamodule classes found by name: what `datamodules.catalog` describes, built (imports torch)."""

from __future__ import annotations

from typing import Any

from datamodules.base import SequenceDataModule
from datamodules.catalog import dataset_info
from datamodules.digits import DigitsDataModule
from datamodules.forecast import CsvDataModule, MacroDataModule, SunspotsDataModule
from datamodules.synthetic import AddingDataModule, CopyMemoryDataModule, TemporalOrderDataModule
from datamodules.text import CharTextDataModule
from datamodules.ucr import UCRDataModule

_CLASSES: tuple[type[SequenceDataModule], ...] = (
    AddingDataModule,
    CopyMemoryDataModule,
    TemporalOrderDataModule,
    DigitsDataModule,
    SunspotsDataModule,
    MacroDataModule,
    CsvDataModule,
    CharTextDataModule,
    UCRDataModule,
)
DATAMODULES: dict[str, type[SequenceDataModule]] = {cls.info.name: cls for cls in _CLASSES}


def datamodule_class(name: str) -> type[SequenceDataModule]:
    """The class registered under `name`, or a ValueError listing the choices."""
    return DATAMODULES[dataset_info(name).name]


def build_datamodule(name: str, **options: Any) -> SequenceDataModule:
    """Construct the named datamodule; its options class checks the options."""
    return datamodule_class(name)(**options)
