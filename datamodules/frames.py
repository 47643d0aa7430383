"""A time-ordered table read and cut into train | val | test blocks, without torch.

Every rule a forecasting table must meet lives here once: readable, numeric target and
covariate columns, missing values handled per block, transforms, and enough rows in each
block for data.seq_len + data.horizon. `datamodules.tabular.window_splits` windows the blocks
(with torch); `check_table` runs the same rules on a user's file for `sweep validate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from datamodules.options import CsvOptions, check_window_options, column_names
from datamodules.sources import check_columns, check_time_column, table_file

SPLIT_NAMES = ("train", "val", "test")

READERS: dict[str, Callable[[str], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
}


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    # mtime and size are part of the key so an edited file is read again.
    return READERS[Path(path).suffix.lower()](path)


def read_table(path: str | None) -> pd.DataFrame:
    """Read a .csv or .parquet file once per path and modification time; returns a copy."""
    file = table_file(path)
    stat = file.stat()
    try:
        frame = _read_cached(str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    except (ValueError, OSError) as exc:  # parser, encoding, Arrow and permission errors
        raise ValueError(f"data.path {path!r} could not be read: {exc}") from exc
    return frame.copy()  # the cached frame is shared by trials and must stay untouched


def sort_by_time(frame: pd.DataFrame, time: str | None) -> pd.DataFrame:
    """Order rows by the `time` column (numbers, or parsed as dates) and drop it."""
    if time is None:
        return frame
    check_time_column([str(c) for c in frame.columns], time)
    column = frame[time].reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(column):
        try:
            column = pd.to_datetime(column)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"data.time column {time!r} could not be parsed as dates ({exc}); use ISO dates "
                "such as 2024-01-31 or numbers"
            ) from exc
    if column.isna().any():
        raise ValueError(
            f"data.time column {time!r} is empty in {int(column.isna().sum())} rows; every row "
            "needs a time"
        )
    repeated = column[column.duplicated()]
    if len(repeated):
        raise ValueError(
            f"data.time column {time!r} repeats {repeated.iloc[0]}; the file must hold one row "
            "per time step of a single series"
        )
    order = column.sort_values(kind="stable").index
    return frame.iloc[order].drop(columns=time).reset_index(drop=True)


def _interpolate(segment: pd.DataFrame, split: str) -> pd.DataFrame:
    # Linear by position (rows are time-ordered); edges take the nearest value in the segment.
    filled = segment.interpolate(method="linear", limit_direction="both")
    empty = [str(c) for c in filled.columns if filled[c].isna().any()]
    if empty:
        raise ValueError(
            f"data.missing is 'interpolate', but column(s) {empty} have no values at all in the "
            f"{split} split; drop those columns or supply data for that period"
        )
    return filled


def _drop(segment: pd.DataFrame, split: str) -> pd.DataFrame:
    return segment.dropna()


def _require_complete(segment: pd.DataFrame, split: str) -> pd.DataFrame:
    for column in segment.columns:
        missing = segment[column].isna()
        if missing.any():
            raise ValueError(
                f"data.missing is 'error' and column {column!r} has {int(missing.sum())} missing "
                f"or infinite values (first at row {missing.idxmax()}, {split} split); set "
                f"data.missing to one of {sorted(MISSING)} (interpolate: linear between "
                "neighbours; drop: remove those rows)"
            )
    return segment


MISSING: dict[str, Callable[[pd.DataFrame, str], pd.DataFrame]] = {
    "interpolate": _interpolate,
    "drop": _drop,
    "error": _require_complete,
}


def _diff(series: pd.Series) -> pd.Series:
    return series.diff()


def _pct_change(series: pd.Series) -> pd.Series:
    zero = series.iloc[:-1] == 0  # a zero has a successor to divide; the last row has none
    if zero.any():
        raise ValueError(
            f"data.transform 'pct_change' divides by zero: target {series.name!r} is 0 at row "
            f"{zero.idxmax()}; use transform: diff or transform: none"
        )
    return 100.0 * (series / series.shift(1) - 1.0)  # percent change on the previous row


TRANSFORMS: dict[str, Callable[[pd.Series], pd.Series] | None] = {
    "none": None,
    "diff": _diff,
    "pct_change": _pct_change,
}


def select_columns(
    frame: pd.DataFrame, *, target: Sequence[str], covariates: Sequence[str] = ()
) -> pd.DataFrame:
    """Return the targets then the covariates as float64 columns, infinities marked missing."""
    if not target:
        raise ValueError(
            f"data.target is required: name one or more of {[str(c) for c in frame.columns]}"
        )
    both = sorted(set(target) & set(covariates))
    if both:
        raise ValueError(f"data.covariates must not repeat data.target columns, but got {both}")
    check_columns([str(c) for c in frame.columns], target=target, covariates=covariates)
    for field, names in (("data.target", target), ("data.covariates", covariates)):
        for name in names:
            if not pd.api.types.is_numeric_dtype(frame[name]):
                raise ValueError(
                    f"{field} column {name!r} is not numeric (dtype {frame[name].dtype}); "
                    "convert it to numbers or remove it from the list"
                )
    table = frame[list(target) + list(covariates)].astype("float64")
    return table.replace([np.inf, -np.inf], np.nan).reset_index(drop=True)


def _blocks(table: pd.DataFrame, val_fraction: float, test_fraction: float) -> list[pd.DataFrame]:
    n = len(table)
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    n_train = n - n_val - n_test
    return [
        table.iloc[:n_train],
        table.iloc[n_train : n_train + n_val],
        table.iloc[n_train + n_val :],
    ]


def _prepare(
    blocks: Sequence[pd.DataFrame], targets: Sequence[str], missing: str, transform: str
) -> list[pd.DataFrame]:
    # Missing values per block: a later block must never shape the rows of an earlier one.
    filled = [MISSING[missing](b, split) for split, b in zip(SPLIT_NAMES, blocks, strict=True)]
    apply = TRANSFORMS[transform]
    if apply is None:
        return filled
    # Transformed as one series: each row uses its previous row, which may sit in the previous
    # block (the past). Only the series' first row has no previous row; it leaves train.
    whole = pd.concat(filled)
    for name in targets:
        whole[name] = apply(whole[name])
    end_train = len(filled[0])
    end_val = end_train + len(filled[1])
    return [whole.iloc[1:end_train], whole.iloc[end_train:end_val], whole.iloc[end_val:]]


def _check_lengths(blocks: Sequence[pd.DataFrame], seq_len: int, horizon: int, n: int) -> None:
    rows = {name: len(b) for name, b in zip(SPLIT_NAMES, blocks, strict=True)}
    sizes = ", ".join(f"{k}={v}" for k, v in rows.items())
    need = seq_len + horizon
    if rows["train"] < need:
        raise ValueError(
            f"data.seq_len + data.horizon = {seq_len} + {horizon} needs at least {need} rows in "
            f"the train split, but the {n} rows leave {sizes} usable rows; lower data.seq_len or "
            "data.horizon, lower data.val_fraction / data.test_fraction, or use a longer series"
        )
    short = [k for k in ("val", "test") if rows[k] < horizon]
    if short:
        raise ValueError(
            f"data.horizon = {horizon} needs at least {horizon} rows in each of the val and test "
            f"splits, but the {n} rows leave {sizes} usable rows; raise data.{short[0]}_fraction, "
            "lower data.horizon, or use a longer series"
        )


def split_blocks(
    frame: pd.DataFrame,
    *,
    target: str | Sequence[str],
    covariates: str | Sequence[str],
    seq_len: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
    missing: str,
    transform: str,
) -> list[pd.DataFrame]:
    """The train, val and test blocks of float columns (targets, then covariates), gaps
    handled and targets transformed; a ValueError naming the field if a rule is broken."""
    if frame.empty:
        raise ValueError(
            f"data.path holds no rows (columns {[str(c) for c in frame.columns]}); it needs "
            "one row per time step"
        )
    check_window_options(
        seq_len=seq_len,
        horizon=horizon,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        missing=missing,
        transform=transform,
    )
    targets = column_names(target, "data.target")
    table = select_columns(
        frame, target=targets, covariates=column_names(covariates, "data.covariates")
    )
    blocks = _prepare(_blocks(table, val_fraction, test_fraction), targets, missing, transform)
    _check_lengths(blocks, seq_len, horizon, len(table))
    return blocks


def check_table(options: CsvOptions, seq_len: int) -> None:
    """Read a user's table and apply every rule its windows need: what `sweep validate` runs."""
    frame = sort_by_time(read_table(options.path), options.time)
    split_blocks(
        frame,
        target=options.targets(),
        covariates=options.covariate_names(),
        seq_len=seq_len,
        horizon=options.horizon,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        missing=options.missing,
        transform=options.transform,
    )
