"""Time-ordered numeric tables to forecasting windows: leak-free splits, train-fitted scaling.

The one windowing core shared by every forecasting datamodule. `datamodules.frames` cuts the rows
into contiguous train | val | test blocks (by data.val_fraction / data.test_fraction). A window
belongs to the split whose block holds all of its target rows; its input rows may reach back into
earlier blocks (the past is known at forecast time) but never into a later one. Val and test
therefore get one window per block row at which a full horizon starts, len(block) - horizon + 1,
so their target time steps and the naive baseline are the same whatever data.seq_len is. Train
windows use train rows only, so a longer seq_len costs train windows.

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
from collections.abc import Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import torch
from numpy.typing import NDArray

from datamodules.base import DataSpec, Split, Splits
from datamodules.frames import split_blocks
from datamodules.options import ForecastOptions, column_names

Array = NDArray[np.float64]


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
    blocks = split_blocks(
        frame,
        target=target,
        covariates=covariates,
        seq_len=seq_len,
        horizon=horizon,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        missing=missing,
        transform=transform,
    )
    # Statistics from the train block only: val/test must not shape their own scaling.
    mean = blocks[0].mean().to_numpy()
    std = blocks[0].std(ddof=0).to_numpy()
    std = np.where(std > 0, std, 1.0)  # a constant column is centred, not divided by zero
    rows = (pd.concat(blocks).to_numpy() - mean) / std  # (n_rows, n_targets + n_covs)
    n_targets = len(column_names(target, "data.target"))
    windows = [
        _windows(rows, first_targets, seq_len, horizon, n_targets)
        for first_targets in _first_targets(blocks, seq_len, horizon)
    ]
    # Tiled to the y layout, so y * target_std + target_mean is in original units.
    target_mean = np.tile(mean[:n_targets], horizon)
    target_std = np.tile(std[:n_targets], horizon)
    spec = DataSpec(
        task="regression",
        n_inputs=blocks[0].shape[1],
        n_outputs=horizon * n_targets,
        baselines=naive_baselines(*windows[1], n_targets=n_targets, target_std=target_std),
        target_mean=tuple(float(v) for v in target_mean),
        target_std=tuple(float(v) for v in target_std),
    )
    train, val, test = (
        Split(x=torch.from_numpy(x).float(), y=torch.from_numpy(y).float()) for x, y in windows
    )
    return Splits(train=train, val=val, test=test, spec=spec)
