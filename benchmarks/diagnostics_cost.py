"""What the diagnostics cost: tracked trials with `trainer.diagnostics` off, on, and every epoch.

All sides are the same real trial (Lightning, callbacks, per-epoch MLflow logging to SQLite);
the only difference is the probe: a reference-cell forward and backward on 64 validation
sequences, plus the gradient-over-time JSON at the end. "on" is the default schedule (epochs 0,
1, 2, 4, 8, ... and the last: 6 of 10 epochs); "every epoch" is `trainer.diagnostics: 1`. Runs
alternate (off, on, every, off, ...) so machine noise
hits all sides; CPU time and each side's median over several rounds (ROUNDS), since other
processes may load the machine, and the ratio of those is reported.
Goal for the default: under 1.10. A last row per model times one probe alone (CPU, the least
disturbed of several calls) against a trial's CPU per epoch with the probe off.

    python -m benchmarks.diagnostics_cost [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.measure import Row, alternate, timed
from models.options import NetOptions
from sweeps.config.schema import validate
from sweeps.track.tracking import Tracker
from sweeps.train.trial import train

GOAL = 1.10
EPOCHS = 10  # the default trainer.max_epochs
SHAPES = {
    # The overhead benchmark's LSTM, and benchmarks/pruning.py's trials (the adding problem at
    # T = 100, hidden 16, batch 32): the probe's per-step Python loop weighs most where the
    # model is small and T is long.
    "bench LSTM T=50 h=64": ({"seq_len": 50, "n_train": 4000}, {"cell": "lstm", "hidden_size": 64}),
    "adding LSTM T=100 h=16 b=32": (
        {"seq_len": 100, "n_train": 1024, "batch_size": 32},
        {"cell": "lstm", "hidden_size": 16},
    ),
}
# Rounds per shape, for the median: identical trials vary from run to run by more than the
# probe's cost, and a median of several is steadier than the least of a few. The adding
# trials are short, so they get more rounds for the same time.
ROUNDS = {"bench LSTM T=50 h=64": 5, "adding LSTM T=100 h=16 b=32": 11}
QUICK_DATA = {"seq_len": 10, "n_train": 64, "n_val": 64}
SIDES: dict[str, bool | int] = {"off": False, "on": True, "every epoch": 1}


def _raw(
    data: dict[str, Any], model: dict[str, Any], diagnostics: bool | int, epochs: int
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
    return lambda: timed(lambda: _trial(tracker, raw), clock=time.process_time)


def probe_seconds(data: dict[str, Any], model: dict[str, Any], calls: int) -> float:
    """CPU seconds of one `ProbeTwin.diagnose` on the trial's probe batch: the least of `calls`."""
    from models.diagnostics import ProbeTwin
    from models.recurrent import RecurrentNet
    from sweeps.config.dataset import make_datamodule
    from sweeps.train.diagnosis import PROBE_SIZE

    config = validate(_raw(data, model, True, 1))
    datamodule = make_datamodule(config, load=True)
    batch = tuple(t[:PROBE_SIZE] for t in next(iter(datamodule.val_dataloader())))
    net = RecurrentNet(2, 1, NetOptions(**model))
    twin = ProbeTwin(net)
    twin.diagnose(net, batch, "regression")  # warm-up
    return min(
        timed(lambda: twin.diagnose(net, batch, "regression"), clock=time.process_time)
        for _ in range(calls)
    )


def run(quick: bool = False) -> list[Row]:
    """Per model: CPU seconds per tracked trial, off against on and every epoch; one probe."""
    epochs, calls = (2, 3) if quick else (EPOCHS, 20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # all sides on one thread: less noise from the other core
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench-diag")
            for name, (data, model) in SHAPES.items():
                data = {**data, **QUICK_DATA} if quick else data
                raws = {side: _raw(data, model, flag, epochs) for side, flag in SIDES.items()}
                _trial(tracker, raws["on"])  # warm-up: imports, data cache
                sides = {side: _side(tracker, raw) for side, raw in raws.items()}
                repeats = 1 if quick else ROUNDS[name]
                med = alternate(sides, repeats)
                case = f"diagnostics cost, {name}, {epochs}-epoch trial"
                note = f"CPU time, median of {repeats}"
                rows += [
                    Row(case, "diagnostics off", med["off"], "on", med["on"], "s", GOAL, note),
                    Row(f"{case}, every epoch", "diagnostics off", med["off"], "every epoch",
                        med["every epoch"], "s", note=note),
                    Row(f"one probe, {name}", "trial CPU per epoch, off", med["off"] / epochs,
                        "probe", probe_seconds(data, model, calls), "s",
                        note=f"CPU, least of {calls} calls"),
                ]  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return rows


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["diagnostics", *sys.argv[1:]]))
