"""Time-ordered numeric tables to forecasting windows: leak-free splits, train-fitted scaling.

The one windowing core shared by every forecasting datamodule. The rows are cut into contiguous
train | val | test blocks (by data.val_fraction / data.test_fraction). A window belongs to the
split whose block holds all of its target rows; its input rows may reach back into earlier blocks
(the past is known at forecast time) but never into a later one. Val and test therefore get one
window per block row at which a full horizon starts, len(block) - horizon + 1, so their target
time steps and the naive baseline are the same whatever data.seq_len is. Train windows use train
rows only, so a longer seq_len costs train windows.

- Scaling: mean and std of the train block only.
- Missing values: handled inside each block, so no row of a later block fills a gap in an earlier
  one. Within a block, `interpolate` draws a line between both neighbours (the edges repeat the
  nearest value of the block), so a filled input may use a later row of its own block.
- Transforms (diff, pct_change) use the previous row, across a block edge too (it is the past);
  only the series' first row has none and is dropped: train loses one row, val and test none.

Layout of one window ending at row t (all values standardised with train-block statistics):

- x: rows t-seq_len+1 .. t, columns = targets then covariates -> (seq_len, n_targets + n_covs).
- y: targets at rows t+1 .. t+horizon, step-major -> (horizon * n_targets,), so
  y[h * n_targets + k] is target k at step t+1+h.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import torch
from numpy.typing import NDArray

from datamodules.base import DataSpec, Split, Splits
from datamodules.options import ForecastOptions, check_window_options, column_names
from datamodules.sources import check_columns

SPLIT_NAMES = ("train", "val", "test")
Array = NDArray[np.float64]


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


def _windows(
    rows: Array, first_targets: range, seq_len: int, horizon: int, n_targets: int
) -> tuple[Array, Array]:
    # A window is named by the row of its first target s: inputs s-seq_len..s-1, targets s..s+h-1.
    start = np.arange(first_targets.start, first_targets.stop)
    view = np.lib.stride_tricks.sliding_window_view
    x = view(rows, seq_len, axis=0)[start - seq_len].transpose(0, 2, 1)  # (n, seq_len, n_features)
    y = view(rows[:, :n_targets], horizon, axis=0)[start]  # (n, n_targets, horizon)
    y = y.transpose(0, 2, 1).reshape(len(start), horizon * n_targets)  # step-major
    return np.ascontiguousarray(x), np.ascontiguousarray(y)  # own memory, not views of rows


def _first_targets(blocks: Sequence[pd.DataFrame], seq_len: int, horizon: int) -> list[range]:
    # Per split, the rows where its windows' first targets may lie: every target in its own
    # block. Inputs may reach back into earlier blocks, so only train must start seq_len rows in.
    ranges, end = [], 0
    for block in blocks:
        start, end = end, end + len(block)
        ranges.append(range(max(start, seq_len), end - horizon + 1))
    return ranges


def naive_baselines(x: Array, y: Array, *, n_targets: int, target_std: Array) -> dict[str, float]:
    """Metrics of repeating the last observed target value for every horizon step."""
    horizon = y.shape[1] // n_targets
    forecast = np.tile(x[:, -1, :n_targets], horizon)  # (n, horizon*n_targets), step-major
    error = y - forecast
    original = error * target_std  # target_std is tiled to the y layout
    mse = float(np.mean(error**2))
    return {
        "val_loss": mse,
        "val_mae": float(np.mean(np.abs(error))),
        "val_rmse": math.sqrt(mse),
        "val_mae_orig": float(np.mean(np.abs(original))),
        "val_rmse_orig": math.sqrt(float(np.mean(original**2))),
    }


def window_splits(
    frame: pd.DataFrame,
    *,
    target: str | Sequence[str],
    covariates: str | Sequence[str] = (),
    seq_len: int,
    # ForecastOptions holds each default once; a bare call (tests, notebooks) gets the same.
    horizon: int = ForecastOptions.horizon,
    val_fraction: float = ForecastOptions.val_fraction,
    test_fraction: float = ForecastOptions.test_fraction,
    missing: str = ForecastOptions.missing,
    transform: str = ForecastOptions.transform,
) -> Splits:
    """Cut a time-ordered frame into scaled train/val/test forecasting windows (see module doc)."""
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
    # Statistics from the train block only: val/test must not shape their own scaling.
    mean = blocks[0].mean().to_numpy()
    std = blocks[0].std(ddof=0).to_numpy()
    std = np.where(std > 0, std, 1.0)  # a constant column is centred, not divided by zero
    rows = (pd.concat(blocks).to_numpy() - mean) / std  # (n_rows, n_targets + n_covs)
    n_targets = len(targets)
    windows = [
        _windows(rows, first_targets, seq_len, horizon, n_targets)
        for first_targets in _first_targets(blocks, seq_len, horizon)
    ]
    # Tiled to the y layout, so y * target_std + target_mean is in original units.
    target_mean = np.tile(mean[:n_targets], horizon)
    target_std = np.tile(std[:n_targets], horizon)
    spec = DataSpec(
        task="regression",
        n_inputs=table.shape[1],
        n_outputs=horizon * n_targets,
        baselines=naive_baselines(*windows[1], n_targets=n_targets, target_std=target_std),
        target_mean=tuple(float(v) for v in target_mean),
        target_std=tuple(float(v) for v in target_std),
    )
    train, val, test = (
        Split(x=torch.from_numpy(x).float(), y=torch.from_numpy(y).float()) for x, y in windows
    )
    return Splits(train=train, val=val, test=test, spec=spec)
