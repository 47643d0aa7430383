"""What the per-epoch diagnostics cost: tracked trials with `trainer.diagnostics` on against off.

Both sides are the same real trial (Lightning, callbacks, per-epoch MLflow logging to SQLite);
the only difference is the probe: a reference-cell forward and backward on 64 validation
sequences per epoch, plus the gradient-over-time JSON and PNG at the end. Runs alternate (off,
on, off, ...) so machine noise hits both; the ratio of medians is reported. Goal: under 1.10.
`cases()` returns the rows, so `make bench` can put them in its table.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sweeps.config import validate
from sweeps.tracking import Tracker
from sweeps.trial import train

GOAL = 1.10
REPEATS = 3
CASES = {
    # The overhead benchmark's LSTM, and the quickstart's GRU-sized model on a longer sequence:
    # the probe's per-step Python loop weighs most where the model is small and T is long.
    "bench LSTM T=50 h=64": ({"seq_len": 50, "n_train": 4000}, {"cell": "lstm", "hidden_size": 64}),
    "small GRU T=100 h=16": ({"seq_len": 100, "n_train": 2000}, {"cell": "gru", "hidden_size": 16}),
}


def _raw(data: dict[str, Any], model: dict[str, Any], diagnostics: bool) -> dict[str, Any]:
    return {
        "name": "bench-diag",
        "data": {"name": "adding", "batch_size": 64, "n_val": 1000, "n_test": 100, **data},
        "model": model,
        "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
        "trainer": {"max_epochs": 4, "diagnostics": diagnostics},
        "search": {"metric": "val_loss"},
    }


def _trial(tracker: Tracker, raw: dict[str, Any]) -> float:
    config = validate(raw)
    start = time.perf_counter()
    run = tracker.start_single(config)
    with tempfile.TemporaryDirectory() as workdir:
        train(config, Path(workdir), run=run)
    run.finish(state="COMPLETE", status="FINISHED")
    return time.perf_counter() - start


def cases(repeats: int = REPEATS) -> list[dict[str, Any]]:
    """One row per case: median seconds per trial without and with diagnostics, and the ratio."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench-diag")
        for name, (data, model) in CASES.items():
            off_raw, on_raw = _raw(data, model, False), _raw(data, model, True)
            _trial(tracker, on_raw)  # warm-up: imports, data cache, matplotlib
            off, on = [], []
            for _ in range(repeats):
                off.append(_trial(tracker, off_raw))
                on.append(_trial(tracker, on_raw))
            ratio = statistics.median(on) / statistics.median(off)
            rows.append(
                {
                    "case": f"diagnostics cost, {name}",
                    "baseline_s": statistics.median(off),
                    "candidate_s": statistics.median(on),
                    "ratio": ratio,
                    "goal": GOAL,
                }
            )
    return rows


def main() -> int:
    torch.set_num_threads(1)  # both sides on one thread: less noise from the other core
    rows = cases()
    for row in rows:
        print(
            f"{row['case']:40s} off {row['baseline_s']:.2f}s  on {row['candidate_s']:.2f}s  "
            f"ratio {row['ratio']:.3f} (goal < {GOAL})"
        )
    return 0 if all(row["ratio"] < GOAL for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
