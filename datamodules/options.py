"""Every dataset's options: each name, type, default and rule once, importable without torch.

A datamodule takes its dataset's options as keyword arguments and checks them by building the
options class below; `sweep validate` builds the same class, so a value it accepts is one the
datamodule accepts, without importing torch. Errors are `ValueError`s naming the config field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

BATCH_SIZE = 64
BASE_OPTIONS = ("batch_size", "seq_len", "seed")  # every datamodule's; the rest are its own


def check_batch_size(batch_size: int) -> None:
    """data.batch_size: samples per step."""
    if batch_size < 1:
        raise ValueError(f"data.batch_size must be >= 1, but got {batch_size}")


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    """Base of the options classes: rules on the sequence length, which the dataset may fix."""

    def fixed_seq_len(self) -> int | None:
        """The length these options impose, or None when data.seq_len is free."""
        return None

    def check_seq_len(self, seq_len: int) -> None:
        """Rules that join the resolved data.seq_len with the other options."""


def _fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"data.{name} must be in (0, 1), but got {value}")


# --- synthetic: adding, copy memory, temporal order -----------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyntheticOptions(DataOptions):
    """Sequences generated per split."""

    n_train: int = 2000
    n_val: int = 500
    n_test: int = 500

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name} must be >= 1, but got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class AddingOptions(SyntheticOptions):
    def check_seq_len(self, seq_len: int) -> None:
        if seq_len < 2:
            raise ValueError(f"data.seq_len must be >= 2 for the adding task, got {seq_len}")


SCORED = ("all", "copy")  # which copy-memory target positions the loss sees


@dataclass(frozen=True, kw_only=True)
class CopyMemoryOptions(SyntheticOptions):
    n_symbols: int = 8
    copy_len: int = 10
    scored: str = "all"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_symbols < 2:
            raise ValueError(f"data.n_symbols must be >= 2, but got {self.n_symbols}")
        if self.copy_len < 1:
            raise ValueError(f"data.copy_len must be >= 1, but got {self.copy_len}")
        if self.scored not in SCORED:
            raise ValueError(f"unknown data.scored {self.scored!r}; expected one of {list(SCORED)}")


MIN_TEMPORAL_ORDER_LEN = 10


@dataclass(frozen=True, kw_only=True)
class TemporalOrderOptions(SyntheticOptions):
    def check_seq_len(self, seq_len: int) -> None:
        if seq_len < MIN_TEMPORAL_ORDER_LEN:
            raise ValueError(
                f"data.seq_len must be >= {MIN_TEMPORAL_ORDER_LEN} for temporal order "
                f"(room for two windows), but got {seq_len}"
            )


# --- digits ---------------------------------------------------------------------------------

DIGIT_MODES = {"rows": (8, 8), "pixels": (64, 1)}  # mode -> (seq_len, features per step)
DIGIT_CLASSES = 10
DIGIT_IMAGES = 1797  # size of sklearn's load_digits(); checked against the data when splitting


@dataclass(frozen=True, kw_only=True)
class DigitsOptions(DataOptions):
    mode: str = "rows"
    permute: bool = False
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.mode not in DIGIT_MODES:
            raise ValueError(
                f"unknown data.mode {self.mode!r}; expected one of {sorted(DIGIT_MODES)}"
            )
        val, test = self.val_fraction, self.test_fraction
        for name, frac in (("val_fraction", val), ("test_fraction", test)):
            if not 0.0 < frac < 1.0:
                raise ValueError(f"data.{name} must be between 0 and 1 (exclusive), but got {frac}")
        train = 1.0 - val - test
        if train <= 0.0:
            raise ValueError(
                "data.val_fraction + data.test_fraction must be < 1 to leave a training split, "
                f"but got {val} + {test}"
            )
        # A stratified split needs at least one image of every class on each side.
        if min(val, test, train) * DIGIT_IMAGES < DIGIT_CLASSES:
            raise ValueError(
                f"data.val_fraction={val} and data.test_fraction={test} leave a split under "
                f"{DIGIT_CLASSES} of {DIGIT_IMAGES} images; each split needs one per class, so "
                f"keep every fraction >= {math.ceil(1000 * DIGIT_CLASSES / DIGIT_IMAGES) / 1000}"
            )

    def fixed_seq_len(self) -> int:
        """8 steps in rows mode, 64 in pixels mode: the image fixes the length."""
        return DIGIT_MODES[self.mode][0]


# --- forecasting: a CSV or Parquet file, sunspots, macro ------------------------------------

MISSING_NAMES = ("interpolate", "drop", "error")  # the keys of datamodules.tabular.MISSING
TRANSFORM_NAMES = ("none", "diff", "pct_change")  # and of its TRANSFORMS
Columns = str | Sequence[str]


def column_names(value: Columns | None, field: str) -> list[str]:
    """Normalise a column option (one name or a list of names) to a list; a str is one name."""
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise ValueError(f"{field} must be column names (non-empty strings), but got {bad}")
    if len(set(names)) != len(names):
        raise ValueError(f"{field} lists a column more than once: {names}")
    return names


def check_window_options(
    *,
    seq_len: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
    missing: str,
    transform: str,
) -> None:
    """Raise ValueError for an option forecasting windows cannot honour, before any data is read."""
    if seq_len < 1:
        raise ValueError(f"data.seq_len must be >= 1, but got {seq_len}")
    if horizon < 1:
        raise ValueError(f"data.horizon must be >= 1, but got {horizon}")
    _fraction("val_fraction", val_fraction)
    _fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "data.val_fraction + data.test_fraction must be < 1 to leave rows for training, "
            f"but got {val_fraction} + {test_fraction}"
        )
    if missing not in MISSING_NAMES:
        raise ValueError(
            f"unknown data.missing {missing!r}; expected one of {sorted(MISSING_NAMES)}"
        )
    if transform not in TRANSFORM_NAMES:
        raise ValueError(
            f"unknown data.transform {transform!r}; expected one of {sorted(TRANSFORM_NAMES)}"
        )


@dataclass(frozen=True, kw_only=True)
class ForecastOptions(DataOptions):
    """The shared forecasting options; a dataset that fixes one declares it with init=False."""

    target: Columns | None = None
    covariates: Columns = ()
    horizon: int = 1
    missing: str = "error"
    transform: str = "none"
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if not self.targets():
            raise ValueError("data.target is required: name the column(s) to forecast")
        self.covariate_names()
        self.check_seq_len(1)  # every rule but the length's; that one runs once it is known

    def targets(self) -> list[str]:
        return column_names(self.target, "data.target")

    def covariate_names(self) -> list[str]:
        return column_names(self.covariates, "data.covariates")

    def check_seq_len(self, seq_len: int) -> None:
        check_window_options(
            seq_len=seq_len,
            horizon=self.horizon,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            missing=self.missing,
            transform=self.transform,
        )


@dataclass(frozen=True, kw_only=True)
class CsvOptions(ForecastOptions):
    path: str | None = None  # the .csv or .parquet file, one row per time step
    time: str | None = None  # the column to order rows by; None: file order

    def __post_init__(self) -> None:
        if self.path is None:
            raise ValueError("data.path is required: the .csv or .parquet file, e.g. path: x.csv")
        super().__post_init__()
        if self.time is not None and self.time in self.targets() + self.covariate_names():
            raise ValueError(f"data.time column {self.time!r} cannot also be a target or covariate")


@dataclass(frozen=True, kw_only=True)
class SunspotsOptions(ForecastOptions):
    target: Columns | None = field(default=("SUNACTIVITY",), init=False)
    covariates: Columns = field(default=(), init=False)
    missing: str = field(default="error", init=False)
    transform: str = field(default="none", init=False)


@dataclass(frozen=True, kw_only=True)
class MacroOptions(ForecastOptions):
    # Real GDP growth: GDP levels in the test years lie far outside the training range.
    target: Columns | None = ("realgdp",)
    covariates: Columns = ("unemp", "infl", "tbilrate")  # rates, not levels: used as they are
    missing: str = field(default="error", init=False)
    transform: str = "pct_change"


# --- text -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TextOptions(DataOptions):
    path: str | None = None  # a UTF-8 text file; None: the cached Shakespeare corpus
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    stride: int | None = None  # chars between window starts; None: seq_len (no overlap)

    def __post_init__(self) -> None:
        _fraction("val_fraction", self.val_fraction)
        _fraction("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "data.val_fraction + data.test_fraction must be < 1 to leave training text, "
                f"but got {self.val_fraction} + {self.test_fraction}"
            )
        if self.stride is not None and self.stride < 1:
            raise ValueError(
                f"data.stride must be >= 1 (or left out for seq_len), got {self.stride}"
            )


# --- UCR/UEA archives -----------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """What is known about a dataset without reading it: its (max) length and channels."""

    seq_len: int  # the longest series over train and test; shorter ones are zero-padded
    n_channels: int
    variable_length: bool


# Only datasets whose .ts files aeon ships in aeon/datasets/data, so nothing is downloaded.
UCR_ARCHIVES = {
    "JapaneseVowels": Archive(seq_len=29, n_channels=12, variable_length=True),
    "ItalyPowerDemand": Archive(seq_len=24, n_channels=1, variable_length=False),
}


@dataclass(frozen=True, kw_only=True)
class UCROptions(DataOptions):
    dataset: str = "JapaneseVowels"
    val_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.dataset not in UCR_ARCHIVES:
            raise ValueError(
                f"data.dataset {self.dataset!r} is not supported; expected one of "
                f"{sorted(UCR_ARCHIVES)}"
            )
        _fraction("val_fraction", self.val_fraction)

    def fixed_seq_len(self) -> int:
        return UCR_ARCHIVES[self.dataset].seq_len
