"""Platform overhead against a plain PyTorch loop on the same model, data and epochs.

Both sides train the same LSTM on the same adding-problem tensors, with gradient clipping and
a validation pass per epoch. The platform side is a real trial: the Lightning Trainer, the
pruning and checkpoint callbacks, and per-epoch MLflow logging to SQLite.

- Per step: each side runs at two training-set sizes with the epochs fixed; the time difference
  over the step difference is the cost of one more step, free of setup and per-epoch work. On
  the near-zero model (hidden 4, 5 steps) compute is almost nil, so this is the per-step Python
  work that dominates on a GPU.
- Whole trial: the bench LSTM for 5 epochs, everything included.
- Fixed cost: the platform's intercept minus the plain loop's, on the near-zero model.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.measure import Row, alternate, timed
from datamodules.synthetic import AddingDataModule
from models.recurrent import RecurrentNet
from sweeps.config import validate
from sweeps.tracking import Tracker
from sweeps.trial import train

BATCH, N_VAL = 64, 256
Clock = Callable[[], float]


@dataclass(frozen=True)
class Shape:
    hidden: int
    seq_len: int

    def raw(self, n_train: int, n_val: int, epochs: int) -> dict[str, Any]:
        """The platform's config for this shape."""
        return {
            "name": "bench",
            "data": {
                "name": "adding",
                "seq_len": self.seq_len,
                "batch_size": BATCH,
                "n_train": n_train,
                "n_val": n_val,
                "n_test": 64,
            },
            "model": {"cell": "lstm", "hidden_size": self.hidden},
            "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
            "trainer": {"max_epochs": epochs},
            "search": {"metric": "val_loss"},
        }


NEAR_ZERO = Shape(hidden=4, seq_len=5)
BENCH_LSTM = Shape(hidden=64, seq_len=50)


def plain_loop(
    shape: Shape, n_train: int, n_val: int, epochs: int, clock: Clock = time.perf_counter
) -> float:
    """The baseline: a hand-written loop over the very same tensors; seconds of the loop."""
    torch.manual_seed(0)
    dm = AddingDataModule(
        seq_len=shape.seq_len, batch_size=BATCH, n_train=n_train, n_val=n_val, n_test=64
    )
    dm.setup("fit")
    net = RecurrentNet(2, 1, cell="lstm", hidden_size=shape.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=0.003)
    loss_fn = nn.MSELoss()

    def loop() -> None:
        for _ in range(epochs):
            net.train()
            for x, y in dm.train_dataloader():
                opt.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            net.eval()
            with torch.no_grad():
                total = sum(float(loss_fn(net(x), y)) * len(x) for x, y in dm.val_dataloader())
            _ = total / n_val

    return timed(loop, clock)


def platform_trial(
    tracker: Tracker,
    shape: Shape,
    n_train: int,
    n_val: int,
    epochs: int,
    clock: Clock = time.perf_counter,
) -> float:
    """The platform: one MLflow-tracked trial of the same config; seconds of the trial."""
    config = validate(shape.raw(n_train, n_val, epochs))

    def trial() -> None:
        run = tracker.start_single(config)
        with tempfile.TemporaryDirectory() as workdir:
            train(config, Path(workdir), run=run)
        run.finish(state="COMPLETE", status="FINISHED")

    return timed(trial, clock)


def per_step(
    tracker: Tracker,
    shape: Shape,
    steps: tuple[int, int],
    repeats: int,
    clock: Clock = time.process_time,
) -> tuple[dict[str, float], dict[str, float]]:
    """(plain, platform) seconds per extra step and their intercepts, over 2 epochs.

    CPU time by default and the least disturbed of the repeats: the machine may be
    shared, and a step does no I/O.
    """
    lo, hi = (s * BATCH for s in steps)
    runs: dict[str, Clock] = {
        "plain_lo": lambda: plain_loop(shape, lo, N_VAL, 2, clock),
        "plat_lo": lambda: platform_trial(tracker, shape, lo, N_VAL, 2, clock),
        "plain_hi": lambda: plain_loop(shape, hi, N_VAL, 2, clock),
        "plat_hi": lambda: platform_trial(tracker, shape, hi, N_VAL, 2, clock),
    }
    for warm_up in runs.values():  # imports, data caches, first Trainer: untimed
        warm_up()
    med = alternate(runs, repeats, pick=min)
    n = 2 * (steps[1] - steps[0])
    slopes = {side: (med[f"{side}_hi"] - med[f"{side}_lo"]) / n for side in ("plain", "plat")}
    icepts = {side: med[f"{side}_lo"] - slopes[side] * 2 * steps[0] for side in slopes}
    return slopes, icepts


def run(quick: bool = False) -> list[Row]:
    """Per-step overhead (near-zero and bench LSTM), whole-trial ratio and fixed cost."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both sides on one thread: less noise from the other core
    try:
        with tempfile.TemporaryDirectory() as folder:
            tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench")  # made once, untimed
            return _rows(tracker, quick)
    finally:
        torch.set_num_threads(threads)


def _rows(tracker: Tracker, quick: bool) -> list[Row]:
    repeats = 1 if quick else 7
    zero_steps, bench_steps = ((2, 4), (2, 3)) if quick else ((16, 96), (8, 40))
    zero, zero_icept = per_step(tracker, NEAR_ZERO, zero_steps, repeats)
    bench, _ = per_step(tracker, BENCH_LSTM, bench_steps, max(1, repeats - 2))
    epochs, n_train = (1, 128) if quick else (5, 4000)
    whole = alternate(
        {
            "plain": lambda: plain_loop(BENCH_LSTM, n_train, 1000, epochs),
            "plat": lambda: platform_trial(tracker, BENCH_LSTM, n_train, 1000, epochs),
        },
        1 if quick else 3,
    )
    fixed = zero_icept["plat"] - zero_icept["plain"]
    ms = 1000.0
    return [
        Row("per step, near-zero LSTM (hidden 4, 5 steps)", "plain loop", zero["plain"] * ms,
            "trial", zero["plat"] * ms, "ms/step", goal=1.5),
        Row("per step, bench LSTM (hidden 64, 50 steps)", "plain loop", bench["plain"] * ms,
            "trial", bench["plat"] * ms, "ms/step", goal=1.10),
        Row(f"whole {epochs}-epoch bench LSTM trial", "plain loop", whole["plain"],
            "tracked trial", whole["plat"], "s", goal=1.10),
        Row("per-trial fixed cost (setup, 2 epochs' logging)", "plain bench trial",
            whole["plain"], "fixed cost", fixed, "s",
            note="share of a plain bench trial"),
    ]  # fmt: skip
