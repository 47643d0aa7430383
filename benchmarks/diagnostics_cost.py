"""What the per-epoch diagnostics cost: tracked trials with `trainer.diagnostics` on against off.

Both sides are the same real trial (Lightning, callbacks, per-epoch MLflow logging to SQLite);
the only difference is the probe: a reference-cell forward and backward on 64 validation
sequences per epoch, plus the gradient-over-time JSON and PNG at the end. Runs alternate (off,
on, off, ...) so machine noise hits both; the ratio of medians is reported. Goal: under 1.10.

    python -m benchmarks.diagnostics_cost [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.measure import Row, alternate, timed
from sweeps.config import validate
from sweeps.tracking import Tracker
from sweeps.trial import train

GOAL = 1.10
SHAPES = {
    # The overhead benchmark's LSTM, and the quickstart's GRU-sized model on a longer sequence:
    # the probe's per-step Python loop weighs most where the model is small and T is long.
    "bench LSTM T=50 h=64": ({"seq_len": 50, "n_train": 4000}, {"cell": "lstm", "hidden_size": 64}),
    "small GRU T=100 h=16": ({"seq_len": 100, "n_train": 2000}, {"cell": "gru", "hidden_size": 16}),
}
QUICK_DATA = {"seq_len": 10, "n_train": 64, "n_val": 64}


def _raw(
    data: dict[str, Any], model: dict[str, Any], diagnostics: bool, epochs: int
) -> dict[str, Any]:
    return {
        "name": "bench-diag",
        "data": {"name": "adding", "batch_size": 64, "n_val": 1000, "n_test": 100, **data},
        "model": model,
        "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
        "trainer": {"max_epochs": epochs, "diagnostics": diagnostics},
        "search": {"metric": "val_loss"},
    }


def _trial(tracker: Tracker, raw: dict[str, Any]) -> None:
    config = validate(raw)
    run = tracker.start_single(config)
    with tempfile.TemporaryDirectory() as workdir:
        train(config, Path(workdir), run=run)
    run.finish(state="COMPLETE", status="FINISHED")


def _side(tracker: Tracker, raw: dict[str, Any]) -> Callable[[], float]:
    return lambda: timed(lambda: _trial(tracker, raw))


def run(quick: bool = False) -> list[Row]:
    """One row per model: median wall seconds per tracked trial, diagnostics off against on."""
    repeats, epochs = (1, 1) if quick else (3, 4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both sides on one thread: less noise from the other core
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench-diag")
            for name, (data, model) in SHAPES.items():
                data = {**data, **QUICK_DATA} if quick else data
                off, on = (_raw(data, model, flag, epochs) for flag in (False, True))
                _trial(tracker, on)  # warm-up: imports, data cache, matplotlib
                med = alternate({"off": _side(tracker, off), "on": _side(tracker, on)}, repeats)
                rows.append(
                    Row(f"diagnostics cost, {name}, {epochs}-epoch trial", "diagnostics off",
                        med["off"], "on", med["on"], "s", goal=GOAL,
                        note=f"wall time, median of {repeats}")
                )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return rows


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["diagnostics", *sys.argv[1:]]))
