"""The digits datamodule: modes, permutation, stratified disjoint splits and errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from datamodules.digits import DigitsDataModule, _digit_splits


def _rows(x: Tensor) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1).numpy()}


@pytest.mark.parametrize(("mode", "shape"), [("rows", (8, 8)), ("pixels", (64, 1))])
def test_modes_shapes_and_spec(mode: str, shape: tuple[int, int]) -> None:
    dm = DigitsDataModule(mode=mode)
    s = dm.splits
    assert dm.seq_len == shape[0]
    assert s.train.x.shape[1:] == shape and s.train.x.dtype == torch.float32
    assert s.train.y.dtype == torch.long and s.train.y.dim() == 1
    assert float(s.train.x.min()) == 0.0 and float(s.train.x.max()) == 1.0
    assert len(s.train) + len(s.val) + len(s.test) == 1797
    assert (s.spec.task, s.spec.n_inputs, s.spec.n_outputs) == ("classification", shape[1], 10)
    assert not s.spec.every_step and s.spec.vocab_size is None


def test_rows_and_pixels_hold_the_same_images() -> None:
    rows, pixels = DigitsDataModule(mode="rows").splits, DigitsDataModule(mode="pixels").splits
    assert torch.equal(rows.val.x.reshape(-1, 64), pixels.val.x.reshape(-1, 64))
    assert torch.equal(rows.val.y, pixels.val.y)


def test_split_is_stratified_disjoint_and_sized() -> None:
    s = DigitsDataModule(val_fraction=0.2, test_fraction=0.1).splits
    assert len(s.val) == pytest.approx(0.2 * 1797, abs=2)
    assert len(s.test) == pytest.approx(0.1 * 1797, abs=2)
    train, val, test = _rows(s.train.x), _rows(s.val.x), _rows(s.test.x)
    assert not train & val and not train & test and not val & test
    for split in (s.train, s.val, s.test):
        share = torch.bincount(split.y, minlength=10).float() / len(split)
        assert float(share.min()) > 0.08 and float(share.max()) < 0.12


def test_baselines() -> None:
    s = DigitsDataModule().splits
    majority = int(torch.bincount(s.train.y).argmax())
    assert s.spec.baselines["val_acc"] == pytest.approx(float((s.val.y == majority).float().mean()))
    assert 0.08 < s.spec.baselines["val_acc"] < 0.13
    assert s.spec.baselines["val_loss"] == pytest.approx(math.log(10))


def test_permute_reorders_time_steps_the_same_way_everywhere() -> None:
    plain = DigitsDataModule(mode="pixels", seed=4).splits
    shuffled = DigitsDataModule(mode="pixels", permute=True, seed=4).splits
    assert not torch.equal(plain.train.x, shuffled.train.x)
    # The permutation is randperm(64) from the seed, applied identically to every image.
    order = torch.randperm(64, generator=torch.Generator().manual_seed(4))
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(plain, split).x[:, order], getattr(shuffled, split).x)
    assert torch.equal(plain.train.y, shuffled.train.y)


def test_same_seed_same_split_other_seed_differs() -> None:
    a = DigitsDataModule(seed=7).splits
    _digit_splits.cache_clear()  # so b is split again, not the cached tensors of a
    b, c = DigitsDataModule(seed=7).splits, DigitsDataModule(seed=8).splits
    assert a.train.x is not b.train.x
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize(("mode", "seq_len"), [("rows", 8), ("pixels", 64), ("rows", None)])
def test_matching_or_absent_seq_len_is_accepted(mode: str, seq_len: int | None) -> None:
    assert DigitsDataModule(mode=mode, seq_len=seq_len).seq_len == (8 if mode == "rows" else 64)


@pytest.mark.parametrize(("mode", "seq_len"), [("rows", 64), ("pixels", 8), ("rows", 20)])
def test_conflicting_seq_len_is_a_config_error(mode: str, seq_len: int) -> None:
    with pytest.raises(ValueError, match="data.seq_len is fixed"):
        DigitsDataModule(mode=mode, seq_len=seq_len)


def test_unknown_mode_names_the_field() -> None:
    with pytest.raises(ValueError, match="data.mode 'columns'"):
        DigitsDataModule(mode="columns")


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction", "field"),
    [
        (0.0, 0.15, "data.val_fraction"),
        (0.15, 1.0, "data.test_fraction"),
        (0.6, 0.5, "must be < 1"),
        (0.001, 0.15, "one per class"),
    ],
)
def test_bad_fractions_name_the_field(
    val_fraction: float, test_fraction: float, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        DigitsDataModule(val_fraction=val_fraction, test_fraction=test_fraction)


def test_describe() -> None:
    info = DigitsDataModule(mode="pixels", batch_size=32).describe()
    assert info["seq_len"] == 64 and info["x_shape"] == [64, 1] and info["outputs"] == 10
    assert sum(info["splits"].values()) == 1797
