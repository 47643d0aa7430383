"""scikit-learn's 8x8 handwritten digits read as sequences: row by row, or pixel by pixel."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from numpy.typing import NDArray
from sklearn.datasets import load_digits  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from datamodules.base import DataSpec, SequenceDataModule, Split, Splits
from datamodules.options import BATCH_SIZE

MODES = {"rows": (8, 8), "pixels": (64, 1)}  # mode -> (seq_len, features per step)
N_CLASSES = 10
N_IMAGES = 1797  # size of load_digits(); checked against the data when splitting


@lru_cache(maxsize=1)
def _images() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    data = load_digits()  # ships inside scikit-learn: no download
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def _split_indices(
    labels: NDArray[np.int64], val_fraction: float, test_fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    state = seed % 2**32  # sklearn accepts only 0 <= random_state < 2**32
    index = np.arange(len(labels))
    rest, test = train_test_split(
        index, test_size=test_fraction, stratify=labels, random_state=state
    )
    # val_fraction is of the whole set, so rescale it to the part left after test.
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1.0 - test_fraction),
        stratify=labels[rest],
        random_state=state,
    )
    return train, val, test


@lru_cache(maxsize=16)
def _digit_splits(
    mode: str, permute: bool, val_fraction: float, test_fraction: float, seed: int
) -> tuple[Split, Split, Split]:
    pixels, labels = _images()
    seq_len, n_features = MODES[mode]
    x = torch.from_numpy(pixels).reshape(-1, seq_len, n_features)  # (n, seq_len, n_features)
    if permute:
        order = torch.randperm(seq_len, generator=torch.Generator().manual_seed(seed))
        x = x[:, order]  # the same shuffle of time steps for every image
    y = torch.from_numpy(labels)
    parts = _split_indices(labels, val_fraction, test_fraction, seed)
    train, val, test = (Split(x=x[torch.from_numpy(i)], y=y[torch.from_numpy(i)]) for i in parts)
    return train, val, test


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < frac < 1.0:
            raise ValueError(f"data.{name} must be between 0 and 1 (exclusive), but got {frac}")
    train_fraction = 1.0 - val_fraction - test_fraction
    if train_fraction <= 0.0:
        raise ValueError(
            "data.val_fraction + data.test_fraction must be < 1 to leave a training split, "
            f"but got {val_fraction} + {test_fraction}"
        )
    # A stratified split needs at least one image of every class on each side.
    smallest = min(val_fraction, test_fraction, train_fraction)
    if smallest * N_IMAGES < N_CLASSES:
        raise ValueError(
            f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} leave a "
            f"split under {N_CLASSES} of {N_IMAGES} images; each split needs one per class, "
            f"so keep every fraction >= {math.ceil(1000 * N_CLASSES / N_IMAGES) / 1000}"
        )


class DigitsDataModule(SequenceDataModule):
    """The 1797 8x8 digits, scaled to [0, 1], classified at the last step (10 classes).

    mode "rows" reads one 8-pixel image row per step (seq_len 8); mode "pixels" reads one pixel
    per step (seq_len 64). permute applies one seed-fixed permutation of the time steps to every
    image: the "permuted sequential" variant. Splits are stratified with random_state = seed.
    """

    def __init__(
        self,
        *,
        mode: str = "rows",
        permute: bool = False,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown data.mode {mode!r}; expected one of {sorted(MODES)}")
        self.mode = mode  # before super().__init__, which calls fixed_seq_len()
        super().__init__(batch_size=batch_size, seq_len=seq_len, seed=seed)
        _check_fractions(val_fraction, test_fraction)
        self.permute = permute
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def fixed_seq_len(self) -> int:
        """8 steps in rows mode, 64 in pixels mode: the image fixes the length."""
        return MODES[self.mode][0]

    def build(self) -> Splits:
        """Load (cached), split stratified, and attach majority-class and uniform baselines."""
        train, val, test = _digit_splits(
            self.mode, self.permute, self.val_fraction, self.test_fraction, self.seed
        )
        # A constant predictor fit on train: guess train's majority class on every val image.
        majority = int(torch.bincount(train.y, minlength=N_CLASSES).argmax())
        majority_share = float((val.y == majority).float().mean())
        spec = DataSpec(
            task="classification",
            n_inputs=MODES[self.mode][1],
            n_outputs=N_CLASSES,
            baselines={"val_acc": majority_share, "val_loss": math.log(N_CLASSES)},
        )
        return Splits(train=train, val=val, test=test, spec=spec)
