"""The shared shape of every datamodule: splits held as tensors, sliced into batches.

Torch, not Lightning: `sweep data show` builds a dataset without importing Lightning, the
slowest import of the stack. `datamodules.lightning.LightningData` is the LightningDataModule
of any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from datamodules.catalog import DatasetInfo, Task, resolve
from datamodules.options import BATCH_SIZE, DataOptions, check_batch_size


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about the data: sizes, task kind and baselines."""

    task: Task
    n_inputs: int  # features per step; ignored when vocab_size is set
    n_outputs: int  # regression targets, or number of classes
    every_step: bool = False  # targets at every step (language modelling, copy memory)
    vocab_size: int | None = None  # inputs are token ids (batch, seq_len) -> embedding
    variable_length: bool = False  # batches carry a third tensor: lengths (batch,)
    baselines: dict[str, float] = field(default_factory=dict)  # metric -> reference value
    # Per-target (mean, std) the targets were standardised with, to report original units.
    target_mean: tuple[float, ...] | None = None
    target_std: tuple[float, ...] | None = None

    @property
    def tokens(self) -> bool:
        return self.vocab_size is not None

    @property
    def standardised(self) -> bool:
        return self.target_std is not None


@dataclass(frozen=True)
class Split:
    """One split as aligned tensors: x, y and (for variable length) lengths."""

    x: Tensor  # (n, seq_len, n_inputs) float, or (n, seq_len) long token ids
    y: Tensor  # (n,) long | (n, n_outputs) float | (n, seq_len) long | (n, seq_len, n_outputs)
    lengths: Tensor | None = None  # (n,) long, true lengths before padding

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or (self.lengths is not None and len(self.lengths) != n):
            raise ValueError(f"split tensors disagree in length: x={n}, y={len(self.y)}")

    def __len__(self) -> int:
        return len(self.x)

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.x, self.y) if self.lengths is None else (self.x, self.y, self.lengths)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split
    spec: DataSpec


class TensorLoader:
    """Batches by slicing in-memory tensors: no worker processes, no per-sample collate.

    For data already in memory, DataLoader's worker processes and per-sample collate cost more
    than they save.
    Shuffling is seeded per epoch, so a run is reproducible from the seed.
    """

    def __init__(
        self, split: Split, batch_size: int, *, shuffle: bool = False, seed: int = 0
    ) -> None:
        self.tensors = split.tensors()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self._epoch = 0

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.tensors[0])
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self._epoch)
            order = torch.randperm(n, generator=gen)
            tensors = tuple(t[order] for t in self.tensors)
        else:
            tensors = self.tensors
        self._epoch += 1
        for start in range(0, n, self.batch_size):
            yield tuple(t[start : start + self.batch_size] for t in tensors)


class SequenceDataModule:
    """Base for every datamodule: owns batch_size, seq_len and seed; subclasses build splits.

    A subclass names its `info` in `datamodules.catalog`, whose options class holds the dataset's
    own keyword options with their defaults and rules (the config loader checks YAML keys against
    it without importing torch), and implements `build()`. Expensive loading belongs in a
    module-level `functools.lru_cache` function so trials in one process share it.
    """

    info: ClassVar[DatasetInfo]
    options: DataOptions  # this dataset's options class, checked

    def __init__(
        self,
        *,
        batch_size: int = BATCH_SIZE,
        seq_len: int | None = None,
        seed: int = 0,
        **options: Any,
    ) -> None:
        check_batch_size(batch_size)
        self.options, self.seq_len = resolve(self.info, seq_len, options)
        self.batch_size = batch_size
        self.seed = seed
        self._splits: Splits | None = None

    def build(self) -> Splits:
        """Return train/val/test splits and the spec; deterministic from the options and seed."""
        raise NotImplementedError

    @property
    def splits(self) -> Splits:
        if self._splits is None:
            splits = self.build()
            _check_agrees(self.info, splits.spec)
            self._splits = splits
        return self._splits

    @property
    def spec(self) -> DataSpec:
        return self.splits.spec

    def setup(self, stage: str | None = None) -> None:
        self.splits  # noqa: B018 - builds once, reused by every stage

    def train_dataloader(self) -> Any:
        return TensorLoader(self.splits.train, self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> Any:
        return TensorLoader(self.splits.val, self.batch_size)

    def test_dataloader(self) -> Any:
        return TensorLoader(self.splits.test, self.batch_size)

    def describe(self) -> dict[str, Any]:
        """Sizes, shapes, task kind and baselines, for `sweep data show`."""
        s = self.splits
        return {
            "task": s.spec.task + (" (every step)" if s.spec.every_step else ""),
            "seq_len": self.seq_len,
            "inputs": s.spec.vocab_size
            and f"tokens, vocab {s.spec.vocab_size}"
            or f"{s.spec.n_inputs} features",
            "outputs": s.spec.n_outputs,
            "variable_length": s.spec.variable_length,
            "splits": {k: len(getattr(s, k)) for k in ("train", "val", "test")},
            "x_shape": list(s.train.x.shape[1:]),
            "y_shape": list(s.train.y.shape[1:]),
            "baselines": s.spec.baselines,
        }


def _check_agrees(info: DatasetInfo, spec: DataSpec) -> None:
    # What `sweep validate` checked metrics against must be what the data turned out to be.
    kinds = ("task", "every_step", "tokens", "standardised")
    differ = [k for k in kinds if getattr(info, k) != getattr(spec, k)]
    if differ:
        raise RuntimeError(
            f"data {info.name!r}: its catalog entry and its data disagree on {differ}"
        )
