"""The long-term-dependency tasks: shapes, determinism, disjoint splits, baselines, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor

from datamodules.base import SequenceDataModule, Splits
from datamodules.synthetic import (
    AddingDataModule,
    CopyMemoryDataModule,
    TemporalOrderDataModule,
    _adding_splits,
    _copy_splits,
    _temporal_order_splits,
    temporal_order_windows,
)

SMALL = {"n_train": 64, "n_val": 32, "n_test": 32}
MODULES: list[tuple[type[SequenceDataModule], dict[str, Any]]] = [
    (AddingDataModule, {"seq_len": 12}),
    (CopyMemoryDataModule, {"seq_len": 5, "copy_len": 3, "n_symbols": 4}),
    (TemporalOrderDataModule, {"seq_len": 20}),
]


def _build(cls: type[SequenceDataModule], **options: Any) -> Splits:
    return cls(**{**SMALL, **options}).splits


def _rows(x: Tensor) -> set[bytes]:
    flat = x.reshape(len(x), -1).numpy()
    return {row.tobytes() for row in flat}


def test_adding_shapes_and_markers() -> None:
    s = _build(AddingDataModule, seq_len=12)
    assert s.train.x.shape == (64, 12, 2) and s.train.x.dtype == torch.float32
    assert s.val.y.shape == (32, 1) and s.val.y.dtype == torch.float32
    assert (s.spec.task, s.spec.n_inputs, s.spec.n_outputs) == ("regression", 2, 1)
    marks = s.train.x[..., 1]  # (n, seq_len)
    assert torch.equal(marks.sum(dim=1), torch.full((64,), 2.0))
    assert torch.equal(marks[:, :6].sum(dim=1), torch.ones(64))  # one in each half
    picked = (s.train.x[..., 0] * marks).sum(dim=1, keepdim=True)
    assert torch.allclose(picked, s.train.y)


def test_adding_baseline_matches_constant_predictor() -> None:
    s = AddingDataModule(n_train=8, n_val=20000, n_test=8, seq_len=4, seed=3).splits
    assert s.spec.baselines["val_loss"] == pytest.approx(1 / 6)
    error = s.val.y - 1.0
    assert float((error**2).mean()) == pytest.approx(1 / 6, rel=0.03)
    assert float(error.abs().mean()) == pytest.approx(s.spec.baselines["val_mae"], rel=0.03)


def test_copy_memory_layout_and_baseline() -> None:
    dm = CopyMemoryDataModule(seq_len=5, copy_len=3, n_symbols=4, n_train=64, n_val=32, n_test=32)
    s = dm.splits
    assert dm.total_len == 11
    assert s.train.x.shape == (64, 11) and s.train.x.dtype == torch.long
    assert s.train.y.shape == (64, 11) and s.train.y.dtype == torch.long
    x, y = s.train.x, s.train.y
    assert torch.equal(y[:, -3:], x[:, :3])  # the copy
    assert bool(((x[:, :3] >= 1) & (x[:, :3] <= 4)).all())
    assert bool((x[:, 3:7] == 0).all()) and bool((x[:, 7] == 5).all())  # T-1 blanks, delimiter
    assert bool((x[:, 8:] == 0).all()) and bool((y[:, :-3] == 0).all())
    assert s.spec.vocab_size == 6 and s.spec.n_outputs == 6 and s.spec.every_step
    assert s.spec.baselines["val_loss"] == pytest.approx(3 * math.log(4) / 11)
    assert s.spec.baselines["val_acc"] == pytest.approx((8 + 3 / 4) / 11)
    info = dm.describe()
    assert (info["delay"], info["total_len"], info["x_shape"]) == (5, 11, [11])


def test_copy_memory_scored_copy_masks_other_positions() -> None:
    s = _build(CopyMemoryDataModule, seq_len=5, copy_len=3, n_symbols=4, scored="copy")
    assert bool((s.val.y[:, :-3] == -100).all())
    assert bool((s.val.y[:, -3:] >= 1).all())
    assert s.spec.baselines["val_loss"] == pytest.approx(math.log(4))
    assert s.spec.baselines["val_acc"] == pytest.approx(0.25)


def test_temporal_order_symbols_and_labels() -> None:
    s = _build(TemporalOrderDataModule, seq_len=20)
    x, y = s.train.x, s.train.y
    assert x.shape == (64, 20) and x.dtype == torch.long and y.shape == (64,)
    assert bool((x[:, 0] == 6).all()) and bool((x[:, -1] == 7).all())
    relevant = (x == 4) | (x == 5)
    assert torch.equal(relevant.sum(dim=1), torch.full((64,), 2))
    (lo1, hi1), (lo2, hi2) = temporal_order_windows(20)
    assert torch.equal(relevant[:, lo1 : hi1 + 1].sum(dim=1), torch.ones(64, dtype=torch.long))
    assert torch.equal(relevant[:, lo2 : hi2 + 1].sum(dim=1), torch.ones(64, dtype=torch.long))
    symbols = x[relevant].reshape(64, 2) - 4  # (n, 2): 0 = X, 1 = Y, in order
    assert torch.equal(y, 2 * symbols[:, 0] + symbols[:, 1])
    assert set(y.tolist()) == {0, 1, 2, 3}
    assert s.spec.baselines["val_loss"] == pytest.approx(math.log(4))
    majority = torch.bincount(s.val.y, minlength=4).max().item() / len(s.val)
    assert s.spec.baselines["val_acc"] == pytest.approx(majority)
    assert s.spec.baselines["val_acc"] >= 0.25


def test_temporal_order_windows_match_paper_at_100() -> None:
    assert temporal_order_windows(100) == ((10, 20), (50, 60))


@pytest.mark.parametrize(("cls", "options"), MODULES)
def test_same_seed_same_data_other_seed_differs(
    cls: type[SequenceDataModule], options: dict[str, Any]
) -> None:
    a = _build(cls, seed=1, **options)
    for cached in (_adding_splits, _copy_splits, _temporal_order_splits):
        cached.cache_clear()  # so b is generated again, not the cached tensors of a
    b = _build(cls, seed=1, **options)
    assert a.train.x is not b.train.x
    c = _build(cls, seed=2, **options)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    assert not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize(("cls", "options"), MODULES)
def test_splits_share_no_sequence(cls: type[SequenceDataModule], options: dict[str, Any]) -> None:
    s = _build(cls, **options)
    train, val, test = _rows(s.train.x), _rows(s.val.x), _rows(s.test.x)
    assert not train & val and not train & test and not val & test


def test_small_space_is_redrawn_until_disjoint() -> None:
    # 3**3 = 27 possible sequences: independent draws would surely collide across splits.
    s = CopyMemoryDataModule(
        seq_len=2, copy_len=3, n_symbols=3, n_train=40, n_val=5, n_test=5
    ).splits
    train, val, test = _rows(s.train.x), _rows(s.val.x), _rows(s.test.x)
    assert not train & val and not train & test and not val & test
    assert len(s.train) == 40


def test_too_small_space_is_a_config_error() -> None:
    dm = CopyMemoryDataModule(seq_len=2, copy_len=1, n_symbols=2, n_train=5, n_val=5, n_test=5)
    with pytest.raises(ValueError, match="data.copy_len"):
        dm.splits  # noqa: B018 - building is what fails


@pytest.mark.parametrize("field", ["n_train", "n_val", "n_test"])
@pytest.mark.parametrize("cls", [AddingDataModule, CopyMemoryDataModule, TemporalOrderDataModule])
def test_bad_sizes_name_the_field(cls: type[SequenceDataModule], field: str) -> None:
    with pytest.raises(ValueError, match=f"data.{field} must be >= 1"):
        cls(**{field: 0})


@pytest.mark.parametrize(
    ("cls", "options", "field"),
    [
        (AddingDataModule, {"seq_len": 1}, "data.seq_len"),
        (TemporalOrderDataModule, {"seq_len": 9}, "data.seq_len"),
        (CopyMemoryDataModule, {"seq_len": 0}, "data.seq_len"),
        (CopyMemoryDataModule, {"n_symbols": 1}, "data.n_symbols"),
        (CopyMemoryDataModule, {"copy_len": 0}, "data.copy_len"),
        (CopyMemoryDataModule, {"scored": "some"}, "data.scored"),
    ],
)
def test_bad_options_name_the_field(
    cls: type[SequenceDataModule], options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        cls(**options)


@pytest.mark.parametrize(("cls", "options"), MODULES)
def test_describe_and_loaders(cls: type[SequenceDataModule], options: dict[str, Any]) -> None:
    dm = cls(**{**SMALL, **options}, batch_size=16)
    info = dm.describe()
    assert info["splits"] == {"train": 64, "val": 32, "test": 32}
    assert info["seq_len"] == options["seq_len"]
    batch = next(iter(dm.train_dataloader()))
    assert len(batch) == 2 and len(batch[0]) == 16
