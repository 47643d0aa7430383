"""Forecasting datamodules: a user's CSV or Parquet file, yearly sunspots, US macro data.

All three hand one time-ordered frame to `datamodules.tabular.window_splits`, which owns the
split, scaling, windowing and naive baseline; see that module for the x / y layout. The val and
test windows forecast the same time steps whatever data.seq_len is, so trials of a seq_len search
are scored on one validation set against one naive baseline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from datamodules.base import SequenceDataModule, Splits
from datamodules.options import BATCH_SIZE
from datamodules.tabular import check_window_options, column_names, window_splits

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
    if path is None:
        raise ValueError("data.path is required: the .csv or .parquet file, e.g. path: data/x.csv")
    file = Path(path).expanduser()
    if file.suffix.lower() not in READERS:
        raise ValueError(f"data.path must end in one of {sorted(READERS)}, but got {path!r}")
    try:
        stat = file.stat()
    except OSError as exc:
        raise ValueError(
            f"data.path {path!r} cannot be opened ({exc.strerror}); relative paths start at "
            f"{Path.cwd()}"
        ) from exc
    if not file.is_file():
        raise ValueError(f"data.path {path!r} is not a file")
    try:
        frame = _read_cached(str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    except (ValueError, OSError) as exc:  # parser, encoding, Arrow and permission errors
        raise ValueError(f"data.path {path!r} could not be read: {exc}") from exc
    return frame.copy()  # the cached frame is shared by trials and must stay untouched


def sort_by_time(frame: pd.DataFrame, time: str | None) -> pd.DataFrame:
    """Order rows by the `time` column (numbers, or parsed as dates) and drop it."""
    if time is None:
        return frame
    if time not in frame.columns:
        available = [str(c) for c in frame.columns]
        raise ValueError(f"data.time names unknown column {time!r}; available: {available}")
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


class ForecastDataModule(SequenceDataModule):
    """Base of the forecasting datamodules: subclasses supply one frame, the rest is shared."""

    description = "forecasting"

    def __init__(
        self,
        *,
        target: str | Sequence[str] | None,
        covariates: str | Sequence[str] = (),
        horizon: int = 1,
        missing: str = "error",
        transform: str = "none",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, seq_len=seq_len, seed=seed)
        self.target = column_names(target, "data.target")
        self.covariates = column_names(covariates, "data.covariates")
        if not self.target:
            raise ValueError("data.target is required: name the column(s) to forecast")
        self.horizon = horizon
        self.missing = missing
        self.transform = transform
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        # Fail at construction, before any file is read or trial is started.
        check_window_options(
            seq_len=self.seq_len,
            horizon=horizon,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            missing=missing,
            transform=transform,
        )

    def frame(self) -> pd.DataFrame:
        """The time-ordered numeric frame to forecast from. Subclasses implement it."""
        raise NotImplementedError

    def build(self) -> Splits:
        """Window the frame into scaled train/val/test splits; deterministic."""
        return window_splits(
            self.frame(),
            target=self.target,
            covariates=self.covariates,
            seq_len=self.seq_len,
            horizon=self.horizon,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            missing=self.missing,
            transform=self.transform,
        )

    def describe(self) -> dict[str, Any]:
        """The base description plus the series, columns, horizon, transform and split rule."""
        return {
            "description": self.description,
            **super().describe(),
            "target": self.target,
            "covariates": self.covariates,
            "horizon": self.horizon,
            "transform": self.transform,
            "y_layout": "step-major: y[h * n_targets + k] = target k at step t+1+h",
            "windows": (
                "rows split in time order into train | val | test blocks; a window belongs to "
                "the split holding all its targets, its inputs may reach back into earlier "
                "blocks, never later ones; val and test keep the same targets for any seq_len"
            ),
        }


class CsvDataModule(ForecastDataModule):
    """Forecast columns of a .csv or .parquet file holding one row per time step."""

    def __init__(
        self,
        *,
        path: str | None = None,
        target: str | Sequence[str] | None = None,
        covariates: str | Sequence[str] = (),
        time: str | None = None,
        horizon: int = 1,
        missing: str = "error",
        transform: str = "none",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,
        seed: int = 0,
    ) -> None:
        if path is None:
            raise ValueError("data.path is required: the .csv or .parquet file, e.g. path: x.csv")
        super().__init__(
            target=target,
            covariates=covariates,
            horizon=horizon,
            missing=missing,
            transform=transform,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            seq_len=seq_len,
            seed=seed,
        )
        if time is not None and time in self.target + self.covariates:
            raise ValueError(f"data.time column {time!r} cannot also be a target or covariate")
        self.path = path
        self.time = time
        self.description = f"{path}" + (f", ordered by {time}" if time else ", in file order")

    def frame(self) -> pd.DataFrame:
        """The file's rows, ordered by `time` when given."""
        return sort_by_time(read_table(self.path), self.time)


@functools.lru_cache(maxsize=1)
def _sunspots() -> pd.DataFrame:
    # Imported here: statsmodels takes seconds to import, and only these datasets need it.
    from statsmodels.datasets import sunspots  # type: ignore[import-untyped,unused-ignore]

    frame: pd.DataFrame = sunspots.load_pandas().data
    return frame.sort_values("YEAR").reset_index(drop=True)


class SunspotsDataModule(ForecastDataModule):
    """Yearly mean sunspot numbers 1700-2008 from statsmodels (309 rows; no monthly series)."""

    description = "yearly sunspots 1700-2008, statsmodels"
    default_seq_len = 22  # two 11-year solar cycles

    def __init__(
        self,
        *,
        horizon: int = 1,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,  # None: default_seq_len
        seed: int = 0,
    ) -> None:
        super().__init__(
            target=("SUNACTIVITY",),
            horizon=horizon,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            seq_len=seq_len,
            seed=seed,
        )

    def frame(self) -> pd.DataFrame:
        """Yearly sunspot activity, oldest first."""
        return _sunspots()[["SUNACTIVITY"]].copy()


@functools.lru_cache(maxsize=1)
def _macrodata() -> pd.DataFrame:
    from statsmodels.datasets import macrodata  # type: ignore[import-untyped,unused-ignore]

    frame: pd.DataFrame = macrodata.load_pandas().data
    return frame.sort_values(["year", "quarter"]).reset_index(drop=True)


class MacroDataModule(ForecastDataModule):
    """Quarterly US macro data 1959-2009 (statsmodels macrodata, 203 rows), multivariate.

    The default forecasts real GDP growth: `transform="pct_change"` turns the target columns into
    percent change on the previous quarter, because GDP levels in the test years lie far outside
    the training range. Covariates enter as they are; the defaults are rates, not levels.
    """

    description = "quarterly US macro 1959-2009, statsmodels macrodata"
    default_seq_len = 8  # two years of quarters

    def __init__(
        self,
        *,
        target: str | Sequence[str] = ("realgdp",),
        covariates: str | Sequence[str] = ("unemp", "infl", "tbilrate"),
        horizon: int = 1,
        transform: str = "pct_change",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,  # None: default_seq_len
        seed: int = 0,
    ) -> None:
        super().__init__(
            target=target,
            covariates=covariates,
            horizon=horizon,
            transform=transform,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            seq_len=seq_len,
            seed=seed,
        )

    def frame(self) -> pd.DataFrame:
        """The macro columns, oldest quarter first; year and quarter are only the time order."""
        return _macrodata().drop(columns=["year", "quarter"])
