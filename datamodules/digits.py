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
from datamodules.catalog import CATALOG
from datamodules.options import DIGIT_CLASSES as N_CLASSES
from datamodules.options import DIGIT_MODES as MODES
from datamodules.options import DigitsOptions


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


class DigitsDataModule(SequenceDataModule):
    """The 1797 8x8 digits, scaled to [0, 1], classified at the last step (10 classes).

    mode "rows" reads one 8-pixel image row per step (seq_len 8); mode "pixels" reads one pixel
    per step (seq_len 64). permute applies one seed-fixed permutation of the time steps to every
    image: the "permuted sequential" variant. Splits are stratified with random_state = seed.
    """

    info = CATALOG["digits"]
    options: DigitsOptions

    def build(self) -> Splits:
        """Load (cached), split stratified, and attach majority-class and uniform baselines."""
        o = self.options
        train, val, test = _digit_splits(
            o.mode, o.permute, o.val_fraction, o.test_fraction, self.seed
        )
        # A constant predictor fit on train: guess train's majority class on every val image.
        majority = int(torch.bincount(train.y, minlength=N_CLASSES).argmax())
        majority_share = float((val.y == majority).float().mean())
        spec = DataSpec(
            task=self.info.task,
            n_inputs=MODES[o.mode][1],
            n_outputs=N_CLASSES,
            baselines={"val_acc": majority_share, "val_loss": math.log(N_CLASSES)},
        )
        return Splits(train=train, val=val, test=test, spec=spec)
