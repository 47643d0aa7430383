"""Forecasting datamodules: windows, layout, leak-free splits, scaling, baselines, errors."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import pytest
import torch

from datamodules.base import Splits
from datamodules.catalog import option_fields
from datamodules.forecast import CsvDataModule, MacroDataModule, SunspotsDataModule
from datamodules.frames import read_table
from datamodules.tabular import window_splits


def _frame(n: int = 100) -> pd.DataFrame:
    t = np.arange(n, dtype=float)
    return pd.DataFrame({"a": t, "b": 1000.0 + t, "c": np.sin(t), "label": ["x"] * n})


def _write(frame: pd.DataFrame, path: Path) -> str:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def _original(values: torch.Tensor, splits: Splits) -> np.ndarray[Any, Any]:
    """Undo the target scaling with the spec: y (n, n_outputs) back to original units."""
    mean = np.array(splits.spec.target_mean)
    std = np.array(splits.spec.target_std)
    return np.asarray(values.double().numpy() * std + mean)


@pytest.fixture(params=[".csv", ".parquet"])
def table_path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _write(_frame(), tmp_path / f"series{request.param}")


def test_shapes_and_spec(table_path: str) -> None:
    dm = CsvDataModule(path=table_path, target=["a", "b"], covariates=["c"], seq_len=5, horizon=3)
    s = dm.splits
    # 100 rows -> 70 | 15 | 15; train windows = 70 - seq_len - horizon + 1, while val and test
    # take their inputs from earlier rows too: rows - horizon + 1
    assert (len(s.train), len(s.val), len(s.test)) == (63, 13, 13)
    assert s.train.x.shape == (63, 5, 3) and s.train.x.dtype == torch.float32
    assert s.train.y.shape == (63, 6) and s.train.y.dtype == torch.float32
    assert (s.spec.task, s.spec.n_inputs, s.spec.n_outputs) == ("regression", 3, 6)
    assert s.spec.target_mean is not None and len(s.spec.target_mean) == 6
    assert not s.spec.every_step
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (min(64, 63), 5, 3) and y.shape == (min(64, 63), 6)


def test_y_is_step_major_targets_after_the_window(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "s.csv")
    s = CsvDataModule(path=path, target=["a", "b"], seq_len=4, horizon=2).splits
    y = _original(s.train.y, s)
    last_t = _original(s.train.x[:, -1, :2].repeat(1, 2), s)[:, 0]  # time at the window's end
    # y[h * n_targets + k] is target k at step t+1+h: a = t, b = 1000 + t
    np.testing.assert_allclose(y[:, 0], last_t + 1, atol=1e-3)
    np.testing.assert_allclose(y[:, 1], 1000 + last_t + 1, atol=1e-3)
    np.testing.assert_allclose(y[:, 2], last_t + 2, atol=1e-3)
    np.testing.assert_allclose(y[:, 3], 1000 + last_t + 2, atol=1e-3)
    np.testing.assert_allclose(last_t[:3], [3, 4, 5], atol=1e-3)


def test_build_is_deterministic(table_path: str) -> None:
    one = CsvDataModule(path=table_path, target="a", covariates=["c"], seq_len=6, seed=1).splits
    two = CsvDataModule(path=table_path, target="a", covariates=["c"], seq_len=6, seed=2).splits
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(one, name).x, getattr(two, name).x)
        assert torch.equal(getattr(one, name).y, getattr(two, name).y)
    assert one.spec == two.spec


def _times(splits: Splits, n_targets: int = 1) -> dict[str, tuple[Any, Any]]:
    """Per split: (input time indices (n, seq_len), target time indices (n, horizon)).

    The first target must be "a", which holds each row's time index.
    """
    assert splits.spec.target_mean is not None and splits.spec.target_std is not None
    mean, std = splits.spec.target_mean[0], splits.spec.target_std[0]
    times = {}
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        inputs = (split.x[:, :, 0].double() * std + mean).numpy().round()
        targets = _original(split.y, splits)[:, ::n_targets].round()  # a at every step
        times[name] = (inputs, targets)
    return times


@pytest.mark.parametrize("horizon", [1, 3])
def test_val_targets_and_baseline_do_not_depend_on_seq_len(horizon: int) -> None:
    frame = _frame(100)  # 70 | 15 | 15 rows
    built = {
        n: window_splits(frame, target=["a", "c"], seq_len=n, horizon=horizon) for n in (4, 8, 16)
    }
    targets = {n: _times(s, n_targets=2)["val"][1] for n, s in built.items()}
    expected = np.arange(70, 85 - horizon + 1)[:, None] + np.arange(horizon)  # every val row
    for n, s in built.items():
        np.testing.assert_array_equal(targets[n], expected, err_msg=f"seq_len={n}")
        test_targets = _times(s, n_targets=2)["test"][1][:, 0]
        np.testing.assert_array_equal(test_targets, np.arange(85, 100 - horizon + 1))
        # c (a sine) makes the naive errors differ window by window: same windows, same number
        assert s.spec.baselines["val_mae_orig"] == built[4].spec.baselines["val_mae_orig"]
    assert built[4].spec.baselines["val_mae_orig"] > 0


def test_splits_are_disjoint_in_targets_and_never_read_later_rows(tmp_path: Path) -> None:
    frame = _frame(120)  # 84 | 18 | 18 rows, shuffled and sorted back by the time column
    frame["when"] = pd.date_range("2000-01-01", periods=120, freq="D").astype(str)
    path = _write(frame.sample(frac=1.0, random_state=0), tmp_path / "s.parquet")
    s = CsvDataModule(path=path, target="a", time="when", seq_len=20, horizon=2).splits
    times = _times(s)
    np.testing.assert_array_equal(times["train"][0][0], np.arange(20))  # time-sorted
    blocks = {"train": (0, 84), "val": (84, 102), "test": (102, 120)}
    seen: set[float] = set()
    for name, (start, end) in blocks.items():
        inputs, targets = times[name]
        assert start <= targets.min() and targets.max() < end, name  # targets in its own block
        assert not seen & set(targets.ravel()), f"{name} repeats a target of an earlier split"
        seen |= set(targets.ravel())
        assert inputs.max() < end, f"{name} inputs reach t={inputs.max()}, a later block"
        # inputs are exactly the seq_len rows before the first target
        np.testing.assert_array_equal(inputs, targets[:, :1] - np.arange(20, 0, -1))
    assert times["train"][0].max() < 84  # train never sees val or test rows
    assert times["val"][0].min() < 84  # the first val windows look back into train rows


def test_scaler_is_fitted_on_the_train_block_only() -> None:
    frame = _frame(100)[["a"]]
    shifted = frame.copy()
    shifted.loc[85:, "a"] += 1e6  # only the test block (rows 85..99) moves
    plain = window_splits(frame, target="a", seq_len=3)
    moved = window_splits(shifted, target="a", seq_len=3)
    assert plain.spec.target_mean == moved.spec.target_mean
    assert plain.spec.target_std == moved.spec.target_std
    assert plain.spec.target_mean is not None and plain.spec.target_std is not None
    assert plain.spec.target_mean[0] == pytest.approx(34.5)  # mean of rows 0..69
    assert plain.spec.target_std[0] == pytest.approx(np.arange(70).std())
    for name in ("train", "val"):  # neither sees a test row
        assert torch.equal(getattr(plain, name).x, getattr(moved, name).x), name
        assert torch.equal(getattr(plain, name).y, getattr(moved, name).y), name
    assert plain.spec.baselines == moved.spec.baselines
    assert moved.test.y.min() > 1e4  # the offset shows in the test split, unscaled by train


def test_naive_baseline_on_a_hand_checkable_series() -> None:
    # 20 rows -> train 0..9 (mean 4.5, var 8.25) | val [10, 12, 11, 15, 15] | test
    values = [*range(10), 10, 12, 11, 15, 15, *range(5)]
    frame = pd.DataFrame({"v": np.array(values, dtype=float)})
    one = window_splits(frame, target="v", seq_len=1, val_fraction=0.25, test_fraction=0.25)
    # every val row is a target; the first one's last observed value is train's 9:
    # pairs 9->10, 10->12, 12->11, 11->15, 15->15: errors 1, 2, -1, 4, 0
    assert one.spec.baselines["val_mae_orig"] == pytest.approx(8 / 5)
    assert one.spec.baselines["val_rmse_orig"] == pytest.approx(math.sqrt(22 / 5))
    assert one.spec.baselines["val_loss"] == pytest.approx(22 / 5 / 8.25)
    two = window_splits(
        frame, target="v", seq_len=1, horizon=2, val_fraction=0.25, test_fraction=0.25
    )
    # every horizon step repeats the last value: errors 1, 3 | 2, 1 | -1, 3 | 4, 4
    assert two.spec.baselines["val_mae_orig"] == pytest.approx(19 / 8)
    assert two.spec.baselines["val_rmse_orig"] == pytest.approx(math.sqrt(57 / 8))


def test_missing_values_interpolate_and_drop() -> None:
    frame = _frame(60)[["a"]]
    frame.loc[[10, 11], "a"] = np.nan
    frame.loc[20, "a"] = np.inf  # infinities count as missing
    filled = window_splits(frame, target="a", seq_len=2, missing="interpolate")
    plain = window_splits(_frame(60)[["a"]], target="a", seq_len=2)
    assert torch.allclose(filled.train.x, plain.train.x, atol=1e-6)  # a line is restored exactly
    dropped = window_splits(frame, target="a", seq_len=2, missing="drop")
    assert len(dropped.train) == len(plain.train) - 3
    with pytest.raises(ValueError, match=r"data\.missing.*'a'.*3 missing.*\['drop', 'error'"):
        window_splits(frame, target="a", seq_len=2)


def test_missing_values_are_filled_within_their_block() -> None:
    frame = _frame(60)[["a"]]  # 42 | 9 | 9 rows
    frame.loc[[40, 41, 42], "a"] = np.nan  # train's last two rows and val's first
    filled = window_splits(frame, target="a", seq_len=2, missing="interpolate")
    times = _times(filled)
    # No val row reaches back into train: its edge repeats the last train value (39), not a
    # line through val's 43. Val's first row takes val's nearest value, 43.
    assert times["train"][1][-1, 0] == 39
    np.testing.assert_array_equal(times["val"][0][0], [39, 39])
    assert times["val"][1][0, 0] == 43


def test_transforms_change_targets_only() -> None:
    frame = pd.DataFrame({"g": 100.0 * 1.1 ** np.arange(40), "c": np.arange(40.0)})
    s = window_splits(frame, target="g", covariates="c", seq_len=3, transform="pct_change")
    np.testing.assert_allclose(_original(s.train.y, s), 10.0, atol=1e-3)  # 10 % growth
    d = window_splits(frame, target="c", seq_len=3, transform="diff")
    np.testing.assert_allclose(_original(d.val.y, d), 1.0, atol=1e-5)
    # 40 rows -> 28 | 6 | 6: only the series' first row has no previous row; val's first row
    # differences against train's last, the past
    assert (len(d.train), len(d.val), len(d.test)) == (28 - 1 - 3, 6, 6)
    zero = pd.DataFrame({"g": [1.0, 0.0, *range(1, 39)]})
    with pytest.raises(ValueError, match="data.transform 'pct_change' divides by zero"):
        window_splits(zero, target="g", seq_len=3, transform="pct_change")


def test_read_table_caches_but_rereads_an_edited_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    _write(_frame(10), path)
    first = read_table(str(path))
    first.loc[0, "a"] = -1.0  # a caller's edit must not leak into the cache
    assert read_table(str(path)).loc[0, "a"] == 0.0
    _write(_frame(12), path)
    os.utime(path, ns=(1, 1))
    assert len(read_table(str(path))) == 12


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"path": None}, r"data\.path is required"),
        ({"path": "x.txt"}, r"data\.path must end in one of \['\.csv', '\.parquet'\]"),
        ({"path": "nope.csv"}, r"data\.path 'nope\.csv' cannot be opened"),
        ({"target": ["zz"]}, r"data\.target names unknown column.*'zz'.*available.*'a', 'b'"),
        ({"covariates": ["label"]}, r"data\.covariates column 'label' is not numeric"),
        ({"covariates": ["a"]}, r"data\.covariates must not repeat data\.target.*'a'"),
        ({"target": []}, r"data\.target is required"),
        ({"horizon": 0}, r"data\.horizon must be >= 1, but got 0"),
        ({"val_fraction": 0.0}, r"data\.val_fraction must be in \(0, 1\)"),
        ({"test_fraction": 1.5}, r"data\.test_fraction must be in \(0, 1\)"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, r"val_fraction \+ data\.test_fraction"),
        ({"missing": "zero"}, r"unknown data\.missing 'zero'; expected one of"),
        ({"transform": "log"}, r"unknown data\.transform 'log'; expected one of"),
        (
            {"seq_len": 70},
            r"data\.seq_len \+ data\.horizon = 70 \+ 1 needs at least 71 rows in the train split.*"
            r"train=70, val=15, test=15",
        ),
        (
            {"horizon": 16},
            r"data\.horizon = 16 needs at least 16 rows in each of the val and test splits.*"
            r"val=15, test=15.*data\.val_fraction",
        ),
        (
            {"test_fraction": 0.04, "horizon": 5},
            r"data\.horizon = 5 needs at least 5 rows.*test=4.*data\.test_fraction",
        ),
        ({"time": "zz"}, r"data\.time names unknown column 'zz'"),
        ({"time": "label"}, r"data\.time column 'label' could not be parsed as dates"),
        ({"time": "a", "target": "a"}, r"data\.time column 'a' cannot also be a target"),
    ],
)
def test_config_errors_name_the_field(
    tmp_path: Path, options: dict[str, Any], pattern: str
) -> None:
    path = _write(_frame(), tmp_path / "s.csv")
    kwargs: dict[str, Any] = {"path": path, "target": "a", "seq_len": 5, **options}
    with pytest.raises(ValueError, match=pattern):
        CsvDataModule(**kwargs).splits  # noqa: B018 - the error may come at build time


def test_unreadable_file_and_repeated_times(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet at all")
    with pytest.raises(ValueError, match=r"data\.path .*broken\.parquet' could not be read"):
        CsvDataModule(path=str(broken), target="a", seq_len=3).splits  # noqa: B018
    frame = _frame(40)
    frame["day"] = [1, 2] * 20
    path = _write(frame, tmp_path / "s.csv")
    with pytest.raises(ValueError, match=r"data\.time column 'day' repeats 1"):
        CsvDataModule(path=path, target="a", time="day", seq_len=3).splits  # noqa: B018


def test_describe_and_type_hints_for_the_config_loader(table_path: str) -> None:
    info = CsvDataModule(path=table_path, target="a", covariates=["c"], seq_len=4).describe()
    assert info["splits"] == {"train": 66, "val": 15, "test": 15}
    assert "same targets for any seq_len" in info["windows"]
    assert info["x_shape"] == [4, 2] and info["y_shape"] == [1]
    assert set(info["baselines"]) >= {"val_loss", "val_mae_orig", "val_rmse_orig"}
    assert info["description"].startswith(table_path)
    # The config loader validates YAML values against the options' resolved hints.
    for cls in (CsvDataModule, SunspotsDataModule, MacroDataModule):
        assert "horizon" in option_fields(cls.info.name)


def test_sunspots_loads_with_sensible_shapes() -> None:
    dm = SunspotsDataModule(seq_len=None, horizon=2)  # None: the config left seq_len out
    s = dm.splits
    assert dm.seq_len == 22
    # 309 years -> 217 | 46 | 46 rows; train windows = 217 - 22 - 2 + 1, val/test = 46 - 2 + 1
    assert (len(s.train), len(s.val), len(s.test)) == (194, 45, 45)
    assert s.train.x.shape[1:] == (22, 1) and s.train.y.shape[1:] == (2,)
    assert dm.describe()["description"] == "yearly sunspots 1700-2008, statsmodels"
    assert 0 < s.spec.baselines["val_mae_orig"] < 100


def test_macrodata_loads_multivariate_growth() -> None:
    dm = MacroDataModule(seq_len=6)
    s = dm.splits
    assert s.train.x.shape[1:] == (6, 4) and s.train.y.shape[1:] == (1,)
    assert s.spec.target_mean is not None and 0.3 < s.spec.target_mean[0] < 1.5  # % per quarter
    levels = MacroDataModule(target=["realgdp", "realcons"], transform="none", horizon=2)
    assert levels.splits.train.y.shape[1:] == (4,) and levels.seq_len == 8
    with pytest.raises(ValueError, match=r"data\.target names unknown column.*'gdp'"):
        MacroDataModule(target="gdp").splits  # noqa: B018
