"""The dataset a validated config names: its datamodule built, its source files checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datamodules.catalog import dataset_info, resolve
from sweeps.errors import ConfigError

if TYPE_CHECKING:
    from datamodules.base import SequenceDataModule
    from datamodules.catalog import DatasetInfo
    from sweeps.config.schema import Config, DataConfig


def make_datamodule(config: Config, *, load: bool = False) -> SequenceDataModule:
    """The config's datamodule, with the study seed; `load` also builds its splits.

    The datamodules raise ValueError naming the field; here that becomes a ConfigError.
    """
    from datamodules.registry import build_datamodule

    try:
        datamodule = build_datamodule(
            config.data.name,
            batch_size=config.data.batch_size,
            seq_len=config.data.seq_len,
            seed=config.seed,
            **config.data.options(),
        )
        if load:
            datamodule.setup("fit")
    except ValueError as err:
        raise ConfigError(str(err)) from err
    return datamodule


def check_data_sources(data: DataConfig) -> DatasetInfo:
    """The files the dataset reads exist, and a user's table meets every rule its windows do,
    read without torch; returns the dataset's catalog entry."""
    from datamodules.options import CsvOptions
    from datamodules.sources import check_sources

    info = dataset_info(data.name)
    try:
        options, seq_len = resolve(info, data.seq_len, data.options())
        check_sources(options)
        if isinstance(options, CsvOptions):
            from datamodules.frames import check_table  # pandas: only a table pays for it

            check_table(options, seq_len)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return info
