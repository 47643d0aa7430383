"""Classic long-term-dependency tasks, generated in memory: adding, copy memory, temporal order.

Adding and temporal order follow Hochreiter & Schmidhuber (1997); copy memory follows
Arjovsky, Shah & Bengio (2016). Each split is drawn from its own seed (seed*3 + 0/1/2 for
train/val/test, so no two (seed, split) pairs share a stream), and any sequence that also
appears in an earlier-drawn split is redrawn: train, val and test never share a sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import torch
from torch import Tensor

from datamodules.base import DataSpec, SequenceDataModule, Split, Splits
from datamodules.catalog import CATALOG
from datamodules.options import (
    AddingOptions,
    CopyMemoryOptions,
    SyntheticOptions,
    TemporalOrderOptions,
)

Draw = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
XY = tuple[Tensor, Tensor]
SplitTensors = tuple[XY, XY, XY]  # train, val, test

IGNORE_INDEX = -100  # targets the loss skips (torch's cross_entropy default ignore_index)
_MAX_REDRAWS = 100  # rounds of redrawing clashing sequences before giving up loudly
_CACHE_SIZE = 16  # distinct (task, options, seed) generations kept for trials in one process


def _row_keys(x: Tensor) -> list[bytes]:
    flat = x.reshape(len(x), -1).contiguous().numpy()  # (n, seq_len * features): one key a row
    return [flat[i].tobytes() for i in range(len(flat))]


def _draw_disjoint(draw: Draw, n: int, seed: int, held: set[bytes], hint: str) -> XY:
    gen = torch.Generator().manual_seed(seed)
    x, y = draw(n, gen)
    for _ in range(_MAX_REDRAWS):
        clash = [i for i, key in enumerate(_row_keys(x)) if key in held]
        if not clash:
            return x, y
        index = torch.tensor(clash, dtype=torch.long)
        x[index], y[index] = draw(len(clash), gen)
    raise ValueError(
        f"too few distinct sequences to keep train, val and test disjoint; {hint} "
        "or lower data.n_train, data.n_val and data.n_test"
    )


def _generate(draw: Draw, sizes: tuple[int, int, int], seed: int, hint: str) -> SplitTensors:
    n_train, n_val, n_test = sizes
    # Val first, then test avoiding val, then train avoiding both: held-out splits stay as drawn.
    val = _draw_disjoint(draw, n_val, seed * 3 + 1, set(), hint)
    test = _draw_disjoint(draw, n_test, seed * 3 + 2, set(_row_keys(val[0])), hint)
    held = set(_row_keys(val[0])) | set(_row_keys(test[0]))
    train = _draw_disjoint(draw, n_train, seed * 3, held, hint)
    return train, val, test


def _to_splits(tensors: SplitTensors, spec: DataSpec) -> Splits:
    train, val, test = (Split(x=x, y=y) for x, y in tensors)
    return Splits(train=train, val=val, test=test, spec=spec)


def _sizes(options: SyntheticOptions) -> tuple[int, int, int]:
    return options.n_train, options.n_val, options.n_test


# --- adding problem -------------------------------------------------------------------------


def _draw_adding(n: int, gen: torch.Generator, *, seq_len: int) -> XY:
    values = torch.rand(n, seq_len, generator=gen)
    half = seq_len // 2
    first = torch.randint(0, half, (n,), generator=gen)
    second = torch.randint(half, seq_len, (n,), generator=gen)
    rows = torch.arange(n)
    marks = torch.zeros(n, seq_len)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = torch.stack([values, marks], dim=-1)  # (n, seq_len, 2)
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)  # (n, 1)
    return x, y


@lru_cache(maxsize=_CACHE_SIZE)
def _adding_splits(sizes: tuple[int, int, int], seq_len: int, seed: int) -> SplitTensors:
    draw = partial(_draw_adding, seq_len=seq_len)
    return _generate(draw, sizes, seed, "raise data.seq_len")


class AddingDataModule(SequenceDataModule):
    """Adding problem: sum the two marked values of a long sequence (regression, last step).

    x is (n, seq_len, 2): channel 0 uniform[0, 1], channel 1 is 1.0 at exactly two positions,
    one in the first half and one in the second half. y (n, 1) is the sum of the two marked
    values. Predicting the mean 1.0 scores MSE var(U + U) = 1/6, MAE 1/3: the baselines.
    """

    BASELINE_MSE = 1.0 / 6.0  # var(U1 + U2) with U uniform[0, 1]: 2 * 1/12
    BASELINE_MAE = 1.0 / 3.0  # E|U1 + U2 - 1| under the triangular density on [0, 2]

    info = CATALOG["adding"]
    options: AddingOptions

    def build(self) -> Splits:
        """Generate the splits (cached) with a regression spec and mean-predictor baselines."""
        sizes = _sizes(self.options)
        spec = DataSpec(
            task=self.info.task,
            n_inputs=2,
            n_outputs=1,
            baselines={
                "val_loss": self.BASELINE_MSE,
                "val_mae": self.BASELINE_MAE,
                "val_rmse": math.sqrt(self.BASELINE_MSE),
            },
        )
        return _to_splits(_adding_splits(sizes, self.seq_len, self.seed), spec)


# --- copy memory ----------------------------------------------------------------------------


def _draw_copy(
    n: int, gen: torch.Generator, *, delay: int, n_symbols: int, copy_len: int, scored: str
) -> XY:
    total = delay + 2 * copy_len
    symbols = torch.randint(1, n_symbols + 1, (n, copy_len), generator=gen)
    x = torch.zeros(n, total, dtype=torch.long)  # blanks (0) everywhere, then fill
    x[:, :copy_len] = symbols
    x[:, copy_len + delay - 1] = n_symbols + 1  # delimiter after delay - 1 blanks
    y = torch.zeros(n, total, dtype=torch.long)
    y[:, -copy_len:] = symbols
    if scored == "copy":
        y[:, :-copy_len] = IGNORE_INDEX
    return x, y


@lru_cache(maxsize=_CACHE_SIZE)
def _copy_splits(
    sizes: tuple[int, int, int], delay: int, n_symbols: int, copy_len: int, scored: str, seed: int
) -> SplitTensors:
    draw = partial(_draw_copy, delay=delay, n_symbols=n_symbols, copy_len=copy_len, scored=scored)
    return _generate(draw, sizes, seed, "raise data.copy_len or data.n_symbols")


class CopyMemoryDataModule(SequenceDataModule):
    """Copy memory: recall copy_len symbols after a delay (classification at every step).

    data.seq_len is the delay T, as in Arjovsky et al.; each sequence is T + 2 * copy_len
    tokens long (see `total_len`). Input: copy_len symbols from 1..n_symbols, T - 1 blanks (0),
    the delimiter n_symbols + 1, then copy_len blanks. Target: blanks, then the copied symbols at
    the last copy_len positions. scored="all" scores every position (the classic loss, with
    memoryless baseline copy_len * ln(n_symbols) / total_len); scored="copy" scores only the
    last copy_len positions (targets elsewhere are -100; baseline ln(n_symbols)), which keeps
    the loss from shrinking toward zero as T grows.
    """

    info = CATALOG["copy_memory"]
    options: CopyMemoryOptions

    @property
    def total_len(self) -> int:
        """Tokens per sequence: the delay (data.seq_len) plus twice copy_len."""
        return self.seq_len + 2 * self.options.copy_len

    def baselines(self) -> dict[str, float]:
        """Loss, accuracy and bits of a memoryless model: blanks known, copied symbols guessed."""
        k, copy_len = self.options.n_symbols, self.options.copy_len
        if self.options.scored == "copy":
            loss, acc = math.log(k), 1.0 / k
        else:
            total = self.total_len
            loss = copy_len * math.log(k) / total
            acc = (total - copy_len + copy_len / k) / total
        return {"val_loss": loss, "val_acc": acc, "val_bpc": loss / math.log(2)}

    def build(self) -> Splits:
        """Generate the three splits (cached) with a token-id, every-step classification spec."""
        o = self.options
        tensors = _copy_splits(
            _sizes(o), self.seq_len, o.n_symbols, o.copy_len, o.scored, self.seed
        )
        vocab = o.n_symbols + 2  # blank, symbols, delimiter
        spec = DataSpec(
            task=self.info.task,
            n_inputs=vocab,
            n_outputs=vocab,
            every_step=self.info.every_step,
            vocab_size=vocab,
            baselines=self.baselines(),
        )
        return _to_splits(tensors, spec)

    def describe(self) -> dict[str, Any]:
        """The base description plus the delay convention: seq_len is T, not the token count."""
        return {**super().describe(), "delay": self.seq_len, "total_len": self.total_len}


# --- temporal order -------------------------------------------------------------------------

DISTRACTORS = 4  # tokens 0..3 are the distractors a, b, c, d
SYMBOL_X, SYMBOL_Y, START, END = 4, 5, 6, 7  # X, Y, E (start) and B (end) of the paper
TEMPORAL_ORDER_VOCAB = 8


def temporal_order_windows(seq_len: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Inclusive position windows of the two relevant symbols: [L/10, L/5] and [L/2, 3L/5]."""
    return (seq_len // 10, seq_len // 5), (seq_len // 2, 3 * seq_len // 5)


def _draw_temporal_order(n: int, gen: torch.Generator, *, seq_len: int) -> XY:
    x = torch.randint(0, DISTRACTORS, (n, seq_len), generator=gen)  # (n, seq_len) token ids
    x[:, 0], x[:, -1] = START, END
    rows = torch.arange(n)
    label = torch.zeros(n, dtype=torch.long)
    for low, high in temporal_order_windows(seq_len):
        pos = torch.randint(low, high + 1, (n,), generator=gen)
        is_y = torch.randint(0, 2, (n,), generator=gen)
        x[rows, pos] = SYMBOL_X + is_y
        label = 2 * label + is_y  # XX=0, XY=1, YX=2, YY=3
    return x, label


@lru_cache(maxsize=_CACHE_SIZE)
def _temporal_order_splits(sizes: tuple[int, int, int], seq_len: int, seed: int) -> SplitTensors:
    draw = partial(_draw_temporal_order, seq_len=seq_len)
    return _generate(draw, sizes, seed, "raise data.seq_len")


class TemporalOrderDataModule(SequenceDataModule):
    """Temporal order (Hochreiter & Schmidhuber 1997, 6a): classify the order of X and Y.

    Inputs are token ids (vocab 8: distractors a-d = 0-3, X = 4, Y = 5, start E = 6, end B = 7):
    E, random distractors, B, with one X or Y in each of the windows [L/10, L/5] and
    [L/2, 3L/5] (positions, L = seq_len >= 10). The class is the order, last step:
    XX = 0, XY = 1, YX = 2, YY = 3; chance is ln 4 loss and 25% accuracy.
    """

    info = CATALOG["temporal_order"]
    options: TemporalOrderOptions

    def build(self) -> Splits:
        """Generate the three splits (cached) with a token-id, last-step 4-class spec."""
        tensors = _temporal_order_splits(_sizes(self.options), self.seq_len, self.seed)
        val_y = tensors[1][1]
        # Accuracy to beat is always guessing the val split's most common class: with random
        # draws that is above 0.25 (0.275 was seen on 1000 sequences).
        majority = float(torch.bincount(val_y, minlength=4).max()) / len(val_y)
        spec = DataSpec(
            task=self.info.task,
            n_inputs=TEMPORAL_ORDER_VOCAB,
            n_outputs=4,
            vocab_size=TEMPORAL_ORDER_VOCAB,
            baselines={"val_loss": math.log(4), "val_acc": majority},
        )
        return _to_splits(tensors, spec)
