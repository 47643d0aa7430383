"""UCR/UEA time series classification, read from the archives shipped inside the aeon wheel."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from datamodules.base import DataSpec, SequenceDataModule, Split, Splits
from datamodules.catalog import CATALOG
from datamodules.options import UCR_ARCHIVES as DATASETS
from datamodules.options import UCROptions


def archive_file(dataset: str, part: str) -> Path:
    """The .ts file of one part ("TRAIN" or "TEST") of a dataset inside the aeon package."""
    import aeon  # type: ignore[import-untyped]  # lazily: aeon.datasets is slow to import

    return Path(aeon.__file__).parent / "datasets" / "data" / dataset / f"{dataset}_{part}.ts"


@lru_cache(maxsize=8)
def load_archive(dataset: str, part: str) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    """Series as read-only (n_channels, length) float64 arrays, and their label strings."""
    # load_from_ts_file only opens the given file; load_classification would fall back to
    # downloading from timeseriesclassification.com when a file is missing.
    from aeon.datasets import load_from_ts_file  # type: ignore[import-untyped]

    path = archive_file(dataset, part)
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; is aeon==1.6.0 installed with its data?")
    x, y = load_from_ts_file(str(path))
    series = tuple(np.asarray(s, dtype=np.float64) for s in x)
    for s in series:
        s.setflags(write=False)  # shared by every trial in the process: nobody may edit it
    return series, tuple(str(label) for label in y)


def _check(dataset: str, series: tuple[np.ndarray, ...]) -> None:
    """Fail loudly if the table above disagrees with the files (e.g. a new aeon release)."""
    info = DATASETS[dataset]
    lengths = {s.shape[1] for s in series}
    channels = {s.shape[0] for s in series}
    if max(lengths) > info.seq_len or channels != {info.n_channels}:
        raise RuntimeError(
            f"{dataset}: files have lengths up to {max(lengths)} and channels {channels}, "
            f"but DATASETS says {info}; update the table"
        )
    if any(np.isnan(s).any() for s in series):
        raise RuntimeError(f"{dataset}: missing values are not supported")


class UCRDataModule(SequenceDataModule):
    """Classify whole series (label at the last step) from a UCR/UEA archive.

    The archive's TEST part is the test set, untouched. Validation is a stratified split of the
    archive's TRAIN part (random_state = seed). Each channel is standardised with the mean and
    std of the training part, padding excluded. Variable-length series are zero-padded to the
    dataset's max length and carry their lengths, so the model can pack them.
    """

    info = CATALOG["ucr"]
    options: UCROptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.dataset = self.options.dataset
        self.val_fraction = self.options.val_fraction
        self.classes: tuple[str, ...] = ()  # label string of class i; filled by build()

    def _split_train(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stratified train / val indices into the archive's TRAIN part."""
        n_classes = len(self.classes)
        n_val = math.ceil(len(labels) * self.val_fraction)
        if not n_classes <= n_val <= len(labels) - n_classes:
            raise ValueError(
                f"data.val_fraction={self.val_fraction} gives {n_val} of {len(labels)} "
                f"{self.dataset} training series to validation, but a stratified split needs "
                f"{n_classes} to {len(labels) - n_classes}; choose a fraction in that range"
            )
        train_idx, val_idx = train_test_split(
            np.arange(len(labels)),
            test_size=self.val_fraction,
            stratify=labels,
            random_state=self.seed,
        )
        return np.sort(train_idx), np.sort(val_idx)

    def _to_split(
        self, series: list[np.ndarray], labels: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> Split:
        x = np.zeros((len(series), self.seq_len, DATASETS[self.dataset].n_channels), np.float32)
        for i, s in enumerate(series):
            x[i, : s.shape[1]] = ((s.T - mean) / std).astype(np.float32)  # (length, channels)
        lengths = None
        if DATASETS[self.dataset].variable_length:
            lengths = torch.tensor([s.shape[1] for s in series], dtype=torch.long)
        return Split(x=torch.from_numpy(x), y=torch.from_numpy(labels), lengths=lengths)

    def build(self) -> Splits:
        train_series, train_labels = load_archive(self.dataset, "TRAIN")
        test_series, test_labels = load_archive(self.dataset, "TEST")
        _check(self.dataset, train_series + test_series)
        self.classes = tuple(sorted(set(train_labels)))
        if not set(test_labels) <= set(self.classes):
            raise RuntimeError(f"{self.dataset}: the TEST part has labels unseen in TRAIN")
        index = {label: i for i, label in enumerate(self.classes)}
        y_all = np.array([index[label] for label in train_labels], dtype=np.int64)
        y_test = np.array([index[label] for label in test_labels], dtype=np.int64)
        train_idx, val_idx = self._split_train(y_all)

        fit = np.concatenate([train_series[i].T for i in train_idx])  # (sum of lengths, channels)
        mean, std = fit.mean(axis=0), fit.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # a constant channel stays constant instead of NaN

        train = self._to_split([train_series[i] for i in train_idx], y_all[train_idx], mean, std)
        val = self._to_split([train_series[i] for i in val_idx], y_all[val_idx], mean, std)
        test = self._to_split(list(test_series), y_test, mean, std)
        majority = float(torch.bincount(val.y).max()) / len(val)
        spec = DataSpec(
            task=self.info.task,
            n_inputs=DATASETS[self.dataset].n_channels,
            n_outputs=len(self.classes),
            variable_length=DATASETS[self.dataset].variable_length,
            baselines={"val_acc": majority, "val_loss": math.log(len(self.classes))},
        )
        return Splits(train=train, val=val, test=test, spec=spec)
