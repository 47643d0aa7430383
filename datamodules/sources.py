"""The files a dataset reads, checked without reading them: they exist, and name the columns.

`sweep validate` runs `check_sources` to catch a wrong path or column in a second, without torch;
the datamodules find their files with the same functions, so both say the same thing.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

from datamodules.options import CsvOptions, DataOptions, TextOptions, UCROptions

TABLE_SUFFIXES = (".csv", ".parquet")
SHAKESPEARE_FILE = "shakespeare.txt"


def default_cache_dir() -> Path:
    """Where downloaded corpora and built-once files live: `$RNN_SWEEPS_DATA`, else
    `~/.cache/rnn-sweeps`."""
    env = os.environ.get("RNN_SWEEPS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnn-sweeps"


def shakespeare_path(cache_dir: Path | None = None) -> Path:
    """The path the Shakespeare corpus is (or would be) cached at."""
    return (cache_dir or default_cache_dir()) / SHAKESPEARE_FILE


def table_file(path: str | None) -> Path:
    """data.path of a table: given, a .csv or .parquet name, and an existing file."""
    if path is None:
        raise ValueError("data.path is required: the .csv or .parquet file, e.g. path: data/x.csv")
    file = Path(path).expanduser()
    if file.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"data.path must end in one of {sorted(TABLE_SUFFIXES)}, but got {path!r}")
    try:
        file.stat()
    except OSError as exc:
        raise ValueError(
            f"data.path {path!r} cannot be opened ({exc.strerror}); relative paths start at "
            f"{Path.cwd()}"
        ) from exc
    if not file.is_file():
        raise ValueError(f"data.path {path!r} is not a file")
    return file


def check_columns(
    available: Sequence[str], *, target: Sequence[str], covariates: Sequence[str] = ()
) -> None:
    """Every target and covariate names a column of the table."""
    for field, names in (("data.target", target), ("data.covariates", covariates)):
        absent = [n for n in names if n not in available]
        if absent:
            shown = list(available)
            raise ValueError(f"{field} names unknown column(s) {absent}; available: {shown}")


def check_time_column(available: Sequence[str], time: str | None) -> None:
    """data.time, when given, names a column of the table."""
    if time is not None and time not in available:
        raise ValueError(f"data.time names unknown column {time!r}; available: {list(available)}")


def _header(file: Path, path: str) -> list[str]:
    try:
        if file.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

            return [str(name) for name in pq.read_schema(file).names]
        with file.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])
    except (ValueError, OSError) as exc:  # encoding, Arrow and permission errors
        raise ValueError(f"data.path {path!r} could not be read: {exc}") from exc


def check_sources(options: DataOptions) -> None:
    """What can be checked of the dataset's files before reading them; nothing for built-ins."""
    if isinstance(options, CsvOptions):
        assert options.path is not None  # CsvOptions requires it
        header = _header(table_file(options.path), options.path)
        check_columns(header, target=options.targets(), covariates=options.covariate_names())
        check_time_column(header, options.time)
    elif isinstance(options, TextOptions):
        if options.path is None:
            if not shakespeare_path().is_file():
                raise ValueError(
                    "data.path is not set and the Shakespeare corpus is not cached; "
                    "run `make data` or set data.path"
                )
        elif not os.access(Path(options.path).expanduser(), os.R_OK):
            raise ValueError(f"data.path {options.path!r} cannot be read: no such readable file")
    elif isinstance(options, UCROptions) and importlib.util.find_spec("aeon") is None:
        raise ValueError("data.name 'ucr' reads its archives from aeon: pip install aeon==1.6.0")
