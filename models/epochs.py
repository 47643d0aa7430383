"""One Lightning step per epoch: the module runs the epoch's batches itself.

Lightning's loop does work around each step (fetching, batch transfer, hook rounds, progress
and logging bookkeeping) that weighs wherever steps are short: small models, and any model on a
GPU (`make bench CASES=overhead`, the near-zero model, measures it). Given an `EpochLoader`,
Lightning makes one `training_step` call per epoch, with the `Epoch` as its batch, and
`SequenceModule` steps the optimizer once per batch within it; the optimizer's step still
goes through Lightning, so its step count and checkpoints are as with Lightning's own loop.
What the per-batch hooks did is passed in: `after_batch` (the sweep's stop check) and `limit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from torch import Tensor

Batch = tuple[Tensor, ...]


class Epoch:
    """The batches of one epoch, as one item; `after_batch` runs after each, `limit` caps them."""

    def __init__(
        self,
        loader: Iterable[Batch],
        *,
        limit: int | None = None,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 or None, but got {limit}")
        self.loader = loader
        self.limit = limit
        self.after_batch = after_batch

    def __iter__(self) -> Iterator[Batch]:
        for i, batch in enumerate(self.loader):
            if self.limit is not None and i >= self.limit:
                return
            yield batch
            if self.after_batch is not None:
                self.after_batch()


class EpochLoader:
    """What Lightning iterates in place of the epoch's loader: the one Epoch, once per epoch."""

    def __init__(self, epoch: Epoch) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Epoch]:
        return iter((self.epoch,))

    def __len__(self) -> int:
        return 1
