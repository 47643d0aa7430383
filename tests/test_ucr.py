"""UCRDataModule on the JapaneseVowels and ItalyPowerDemand files shipped with aeon."""

from __future__ import annotations

import math
import socket
from typing import Any

import pytest
import torch

from datamodules.base import Splits
from datamodules.ucr import DATASETS, UCRDataModule, load_archive


@pytest.fixture(scope="module")
def vowels() -> Splits:
    return UCRDataModule(dataset="JapaneseVowels", seed=0).splits


def row_hashes(x: torch.Tensor) -> set[int]:
    return {hash(row.numpy().tobytes()) for row in x}


def test_japanese_vowels_shapes_and_lengths(vowels: Splits) -> None:
    n_train = len(load_archive("JapaneseVowels", "TRAIN")[0])
    assert len(vowels.train) + len(vowels.val) == n_train == 270
    assert len(vowels.test) == len(load_archive("JapaneseVowels", "TEST")[0]) == 370
    for split in (vowels.train, vowels.val, vowels.test):
        assert split.x.shape[1:] == (29, 12) and split.x.dtype == torch.float32
        assert split.y.dtype == torch.long and split.lengths is not None
        assert 7 <= int(split.lengths.min()) and int(split.lengths.max()) <= 29
    assert int(vowels.test.lengths.max()) == 29  # type: ignore[union-attr]
    spec = vowels.spec
    assert spec.variable_length and spec.n_inputs == 12 and spec.n_outputs == 9
    assert not spec.every_step and spec.vocab_size is None


def test_padding_is_zero_beyond_lengths(vowels: Splits) -> None:
    for split in (vowels.train, vowels.val, vowels.test):
        assert split.lengths is not None
        steps = torch.arange(29)
        pad = steps[None, :] >= split.lengths[:, None]  # (n, seq_len)
        assert pad.any() and (split.x[pad] == 0).all()
        assert (split.x[~pad].abs().sum(-1) > 0).all()  # real steps are not all zero


def test_standardised_on_training_steps_only(vowels: Splits) -> None:
    assert vowels.train.lengths is not None
    mask = torch.arange(29)[None, :] < vowels.train.lengths[:, None]
    real = vowels.train.x[mask].double()  # (sum of lengths, channels)
    assert torch.allclose(real.mean(0), torch.zeros(12, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(real.std(0, correction=0), torch.ones(12, dtype=torch.float64), atol=1e-4)


def test_validation_is_stratified_and_disjoint(vowels: Splits) -> None:
    train_share = torch.bincount(vowels.train.y, minlength=9) / len(vowels.train)
    val_share = torch.bincount(vowels.val.y, minlength=9) / len(vowels.val)
    assert (train_share - val_share).abs().max() < 0.03
    assert len(vowels.val) == math.ceil(270 * 0.2)
    assert not row_hashes(vowels.train.x) & row_hashes(vowels.val.x)
    assert len(row_hashes(vowels.train.x) | row_hashes(vowels.val.x)) == 270


def test_baselines(vowels: Splits) -> None:
    majority = int(torch.bincount(vowels.val.y).max()) / len(vowels.val)
    assert vowels.spec.baselines == {"val_acc": majority, "val_loss": pytest.approx(math.log(9))}


def test_italy_power_demand_is_fixed_length() -> None:
    dm = UCRDataModule(dataset="ItalyPowerDemand", val_fraction=0.25)
    s = dm.splits
    assert dm.seq_len == 24 and dm.classes == ("1", "2")
    assert s.train.lengths is None and not s.spec.variable_length
    assert s.train.x.shape == (50, 24, 1) and s.val.x.shape == (17, 24, 1)
    assert len(s.test) == len(load_archive("ItalyPowerDemand", "TEST")[0]) == 1029
    assert len(s.train.tensors()) == 2


def test_split_depends_only_on_seed(vowels: Splits) -> None:
    again = UCRDataModule(dataset="JapaneseVowels", seed=0).splits
    other = UCRDataModule(dataset="JapaneseVowels", seed=1).splits
    assert torch.equal(again.val.x, vowels.val.x) and torch.equal(again.train.y, vowels.train.y)
    assert not torch.equal(other.val.x, vowels.val.x)
    # The archive's test part keeps its series and order; only the scaling follows the seed.
    assert torch.equal(other.test.y, vowels.test.y)
    assert torch.equal(other.test.lengths, vowels.test.lengths)  # type: ignore[arg-type]


def test_table_matches_the_files() -> None:
    for name, info in DATASETS.items():
        series = load_archive(name, "TRAIN")[0] + load_archive(name, "TEST")[0]
        lengths = {s.shape[1] for s in series}
        assert max(lengths) == info.seq_len and (len(lengths) > 1) == info.variable_length
        assert {s.shape[0] for s in series} == {info.n_channels}


def test_loading_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("network access while loading a UCR archive")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    load_archive.cache_clear()
    assert len(UCRDataModule(dataset="ItalyPowerDemand").splits.test) == 1029


def test_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"data.dataset 'Nope' .*\['ItalyPowerDemand', 'Jap"):
        UCRDataModule(dataset="Nope")
    with pytest.raises(ValueError, match="data.seq_len is fixed at 29 .* got 50"):
        UCRDataModule(dataset="JapaneseVowels", seq_len=50)
    assert UCRDataModule(dataset="JapaneseVowels", seq_len=29).seq_len == 29
    with pytest.raises(ValueError, match="data.val_fraction must be in"):
        UCRDataModule(val_fraction=1.0)
    with pytest.raises(ValueError, match="data.val_fraction=0.01 gives 1 of 67"):
        UCRDataModule(dataset="ItalyPowerDemand", val_fraction=0.01).splits  # noqa: B018
