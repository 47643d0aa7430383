"""The dataset a validated config names: its datamodule built, its source files checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
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


def data_files(data: DataConfig) -> list[Path]:
    """The files the dataset reads (a table, a text): what its fingerprint hashes."""
    from datamodules.options import TextOptions
    from datamodules.sources import shakespeare_path

    options = resolve(dataset_info(data.name), data.seq_len, data.options())[0]
    path = getattr(options, "path", None)
    if path is not None:
        return [Path(path).expanduser()]
    if isinstance(options, TextOptions):
        return [shakespeare_path()]  # the cached corpus a text dataset reads by default
    return []


def data_fingerprint(config: Config) -> dict[str, str]:
    """What the data was: the generator's parameters and seed, and each file's content hash.

    `data.fingerprint` is one hash of them all: two runs that saw the same data share it.
    """
    params = {**config.data.model_dump(mode="json"), "seed": config.seed}
    described = json.dumps(params, sort_keys=True)
    files = {str(path): _file_hash(path) for path in data_files(config.data)}
    whole = hashlib.sha256((described + json.dumps(files, sort_keys=True)).encode())
    out = {"data.fingerprint": whole.hexdigest()[:16], "data.params": described[:4000]}
    for i, (path, digest) in enumerate(sorted(files.items())):
        out[f"data.file{i}"] = f"{path} sha256:{digest}"
    return out


def _file_hash(path: Path) -> str:
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
