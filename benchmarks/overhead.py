"""Platform overhead against a plain PyTorch loop on the same model, data and epochs.

Both sides train the same LSTM on the same adding-problem tensors for the same number of
epochs, with a validation pass per epoch and gradient clipping. The platform side is a real
trial: Lightning Trainer, pruning/checkpoint callbacks and per-epoch MLflow logging to SQLite.
Runs alternate (plain, platform, plain, ...) so machine noise hits both; the ratio of medians
is printed. Goal: under 1.10.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from datamodules.synthetic import AddingDataModule
from models.recurrent import RecurrentNet
from sweeps.config import validate
from sweeps.tracking import Tracker
from sweeps.trial import train

EPOCHS, REPEATS = 5, 5
RAW = {
    "name": "bench",
    "data": {
        "name": "adding",
        "seq_len": 50,
        "batch_size": 64,
        "n_train": 4000,
        "n_val": 1000,
        "n_test": 100,
    },
    "model": {"cell": "lstm", "hidden_size": 64},
    "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
    "trainer": {"max_epochs": EPOCHS},
    "search": {"metric": "val_loss"},
}


def plain_loop() -> float:
    """The baseline: a hand-written loop over the very same tensors."""
    torch.manual_seed(0)
    dm = AddingDataModule(seq_len=50, batch_size=64, n_train=4000, n_val=1000, n_test=100)
    net = RecurrentNet(2, 1, cell="lstm", hidden_size=64)
    opt = torch.optim.Adam(net.parameters(), lr=0.003)
    loss_fn = nn.MSELoss()
    start = time.perf_counter()
    for _ in range(EPOCHS):
        net.train()
        for x, y in dm.train_dataloader():
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        net.eval()
        with torch.no_grad():
            val = sum(float(loss_fn(net(x), y)) * len(x) for x, y in dm.val_dataloader())
        _ = val / 1000
    return time.perf_counter() - start


def platform_trial(tracker: Tracker) -> float:
    """The platform: one tracked trial of the same config."""
    config = validate(RAW)
    start = time.perf_counter()
    run = tracker.start_single(config)
    with tempfile.TemporaryDirectory() as workdir:
        train(config, Path(workdir), run=run)
    run.finish(state="COMPLETE", status="FINISHED")
    return time.perf_counter() - start


def main() -> int:
    torch.set_num_threads(1)  # both sides on one thread: less noise from the other core
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench")  # store made once, untimed
        platform_trial(tracker)  # warm-up: imports, data cache, first Trainer
        plain_loop()
        plain, ours = [], []
        for _ in range(REPEATS):
            plain.append(plain_loop())
            ours.append(platform_trial(tracker))
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"plain PyTorch loop : median {statistics.median(plain):.2f}s  {sorted(plain)}")
    print(f"platform trial     : median {statistics.median(ours):.2f}s  {sorted(ours)}")
    print(f"overhead ratio     : {ratio:.3f}  (goal < 1.10; {EPOCHS} epochs x {REPEATS} repeats)")
    return 0 if ratio < 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
