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
    """The files the dataset reads exist and name the columns; returns its catalog entry."""
    from datamodules.sources import check_sources

    info = dataset_info(data.name)
    try:
        check_sources(resolve(info, data.seq_len, data.options())[0])
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return info
