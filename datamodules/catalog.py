"""What each dataset is, without importing torch: its task, its options, its sequence length.

`sweep validate` and `sweep data list` read this table alone; the datamodule classes read it too
(`SequenceDataModule.info`), and a built datamodule's `spec` is checked against it, so the two
cannot drift. The classes themselves are in `datamodules.registry`, which imports torch.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from datamodules.options import (
    AddingOptions,
    CopyMemoryOptions,
    CsvOptions,
    DataOptions,
    DigitsOptions,
    MacroOptions,
    SunspotsOptions,
    TemporalOrderOptions,
    TextOptions,
    UCROptions,
)

Task = Literal["regression", "classification"]


class DataKind(Protocol):
    """What decides which metrics a model logs: `DatasetInfo` knows it, a built `DataSpec` too."""

    @property
    def task(self) -> Task: ...
    @property
    def every_step(self) -> bool: ...  # a target at every step, not only the last
    @property
    def tokens(self) -> bool: ...  # inputs are token ids of a vocabulary
    @property
    def standardised(self) -> bool: ...  # targets scaled; errors in original units logged too


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset as `sweep validate` sees it; the data itself is read only by its class."""

    name: str
    summary: str  # one line for `sweep data list`
    task: Task
    options: type[DataOptions]
    every_step: bool = False
    tokens: bool = False
    standardised: bool = False
    default_seq_len: int | None = None  # when data.seq_len is left out; None: required


_INFOS = (
    DatasetInfo(
        "adding",
        "Adding problem: sum the two marked values of a long sequence (regression, last step).",
        "regression",
        AddingOptions,
        default_seq_len=100,
    ),
    DatasetInfo(
        "copy_memory",
        "Copy memory: recall copy_len symbols after a delay (classification at every step).",
        "classification",
        CopyMemoryOptions,
        every_step=True,
        tokens=True,
        default_seq_len=100,
    ),
    DatasetInfo(
        "temporal_order",
        "Temporal order (Hochreiter & Schmidhuber 1997, 6a): classify the order of X and Y.",
        "classification",
        TemporalOrderOptions,
        tokens=True,
        default_seq_len=100,
    ),
    DatasetInfo(
        "digits",
        "The 1797 8x8 digits, scaled to [0, 1], classified at the last step (10 classes).",
        "classification",
        DigitsOptions,
    ),
    DatasetInfo(
        "sunspots",
        "Yearly mean sunspot numbers 1700-2008 from statsmodels (309 rows; no monthly series).",
        "regression",
        SunspotsOptions,
        standardised=True,
        default_seq_len=22,  # two 11-year solar cycles
    ),
    DatasetInfo(
        "macro",
        "Quarterly US macro data 1959-2009 (statsmodels macrodata, 203 rows), multivariate.",
        "regression",
        MacroOptions,
        standardised=True,
        default_seq_len=8,  # two years of quarters
    ),
    DatasetInfo(
        "csv",
        "Forecast columns of a .csv or .parquet file holding one row per time step.",
        "regression",
        CsvOptions,
        standardised=True,
    ),
    DatasetInfo(
        "text",
        "Next-character prediction on one text file, split contiguously into train | val | test.",
        "classification",
        TextOptions,
        every_step=True,
        tokens=True,
        default_seq_len=100,
    ),
    DatasetInfo(
        "ucr",
        "Classify whole series (label at the last step) from a UCR/UEA archive.",
        "classification",
        UCROptions,
    ),
)
CATALOG: dict[str, DatasetInfo] = {info.name: info for info in _INFOS}


def dataset_info(name: str) -> DatasetInfo:
    """The dataset registered under `name`, or a ValueError listing the choices."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(
            f"data.name {name!r} is unknown; expected one of {sorted(CATALOG)}"
        ) from None


def option_fields(name: str) -> dict[str, tuple[Any, Any]]:
    """The dataset's own options (beyond batch_size, seq_len, seed): name -> (type, default)."""
    cls = dataset_info(name).options
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.default) for f in dataclasses.fields(cls) if f.init}


def resolve(info: DatasetInfo, seq_len: int | None, options: dict[str, Any]) -> tuple[Any, int]:
    """Check the options and the length against every rule; return them, the length resolved.

    A left-out data.seq_len is the one the options fix, else the dataset's default.
    """
    checked = info.options(**options)
    fixed = checked.fixed_seq_len()
    if fixed is not None and seq_len is not None and seq_len != fixed:
        raise ValueError(
            f"data.seq_len is fixed at {fixed} by this dataset, but got {seq_len}; "
            "leave data.seq_len out"
        )
    if seq_len is None:
        seq_len = info.default_seq_len if fixed is None else fixed
    if seq_len is None:
        raise ValueError("data.seq_len is required for this dataset; set e.g. seq_len: 50")
    if seq_len < 1:
        raise ValueError(f"data.seq_len must be >= 1, but got {seq_len}")
    checked.check_seq_len(seq_len)
    return checked, seq_len
