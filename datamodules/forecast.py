"""Forecasting datamodules: a user's CSV or Parquet file, yearly sunspots, US macro data.

All three hand one time-ordered frame to `datamodules.tabular.window_splits`, which owns the
split, scaling, windowing and naive baseline; see that module for the x / y layout. The val and
test windows forecast the same time steps whatever data.seq_len is, so trials of a seq_len search
are scored on one validation set against one naive baseline.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from datamodules.base import SequenceDataModule, Splits
from datamodules.catalog import CATALOG
from datamodules.frames import read_table, sort_by_time
from datamodules.options import CsvOptions, ForecastOptions, MacroOptions, SunspotsOptions
from datamodules.tabular import window_splits


class ForecastDataModule(SequenceDataModule):
    """Base of the forecasting datamodules: subclasses supply one frame, the rest is shared."""

    description = "forecasting"

    options: ForecastOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.target = self.options.targets()
        self.covariates = self.options.covariate_names()

    def frame(self) -> pd.DataFrame:
        """The time-ordered numeric frame to forecast from. Subclasses implement it."""
        raise NotImplementedError

    def build(self) -> Splits:
        """Window the frame into scaled train/val/test splits; deterministic."""
        o = self.options
        return window_splits(
            self.frame(),
            target=self.target,
            covariates=self.covariates,
            seq_len=self.seq_len,
            horizon=o.horizon,
            val_fraction=o.val_fraction,
            test_fraction=o.test_fraction,
            missing=o.missing,
            transform=o.transform,
        )

    def describe(self) -> dict[str, Any]:
        """The base description plus the series, columns, horizon, transform and split rule."""
        return {
            "description": self.description,
            **super().describe(),
            "target": self.target,
            "covariates": self.covariates,
            "horizon": self.options.horizon,
            "transform": self.options.transform,
            "y_layout": "step-major: y[h * n_targets + k] = target k at step t+1+h",
            "windows": (
                "rows split in time order into train | val | test blocks; a window belongs to "
                "the split holding all its targets, its inputs may reach back into earlier "
                "blocks, never later ones; val and test keep the same targets for any seq_len"
            ),
        }


class CsvDataModule(ForecastDataModule):
    """Forecast columns of a .csv or .parquet file holding one row per time step."""

    info = CATALOG["csv"]
    options: CsvOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        path, time = self.options.path, self.options.time
        self.description = f"{path}" + (f", ordered by {time}" if time else ", in file order")

    def frame(self) -> pd.DataFrame:
        """The file's rows, ordered by `time` when given."""
        return sort_by_time(read_table(self.options.path), self.options.time)


@functools.lru_cache(maxsize=1)
def _sunspots() -> pd.DataFrame:
    # Imported here: statsmodels takes seconds to import, and only these datasets need it.
    from statsmodels.datasets import sunspots  # type: ignore[import-untyped,unused-ignore]

    frame: pd.DataFrame = sunspots.load_pandas().data
    return frame.sort_values("YEAR").reset_index(drop=True)


class SunspotsDataModule(ForecastDataModule):
    """Yearly mean sunspot numbers 1700-2008 from statsmodels (309 rows; no monthly series)."""

    description = "yearly sunspots 1700-2008, statsmodels"
    info = CATALOG["sunspots"]
    options: SunspotsOptions

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
    info = CATALOG["macro"]
    options: MacroOptions

    def frame(self) -> pd.DataFrame:
        """The macro columns, oldest quarter first; year and quarter are only the time order."""
        return _macrodata().drop(columns=["year", "quarter"])
