"""The baseline for time-to-target: an optuna-examples-style script, written by hand.

Plain PyTorch and Optuna, nothing of the platform but the adding-problem tensors and the
platform's per-trial reseeding of the sampler (so both draw the same trials): a TPE sampler,
Optuna's default MedianPruner, an in-memory study, one report per epoch. This is what a user
would write without the platform; the platform should reach the target sooner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
import torch
from torch import nn

from datamodules.synthetic import AddingDataModule
from sweeps.search.study import seed_per_trial

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Net(nn.Module):
    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = CELLS[cell](2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (batch, seq_len, hidden)
        return self.head(out[:, -1])  # type: ignore[no-any-return]


def objective_for(
    data: dict[str, int], max_epochs: int, space: dict[str, list[Any]]
) -> Callable[[optuna.Trial], float]:
    """The objective: sample, train with a plain loop, report val MSE each epoch."""
    dm = AddingDataModule(**data)
    dm.setup("fit")

    def objective(trial: optuna.Trial) -> float:
        cell = trial.suggest_categorical("model.cell", space["model.cell"])
        hidden = trial.suggest_categorical("model.hidden_size", space["model.hidden_size"])
        low, high = space["optimizer.lr"]
        lr = trial.suggest_float("optimizer.lr", low, high, log=True)
        torch.manual_seed(data["seed"])  # every trial from the same seed, as the platform does
        net = Net(str(cell), int(hidden))
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = nn.MSELoss()
        train_loader = dm.train_dataloader()  # one loader per trial: a new shuffle each epoch
        best = float("inf")
        for epoch in range(max_epochs):
            net.train()
            for x, y in train_loader:
                opt.zero_grad()
                loss_fn(net(x), y).backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            net.eval()
            with torch.no_grad():
                sq = sum(float(loss_fn(net(x), y)) * len(x) for x, y in dm.val_dataloader())
            val = sq / data["n_val"]
            best = min(best, val)
            trial.report(val, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return best

    return objective


def run_study(
    data: dict[str, int], max_epochs: int, space: dict[str, list[Any]], n_trials: int, seed: int
) -> optuna.Study:
    """TPE (seeded) and the default MedianPruner over `n_trials` trials, in memory."""
    # The platform reseeds its sampler per trial from (seed, trial number), so that parallel
    # workers draw different trials. The script draws through the same reseeding, and so the
    # same trials in the same order: time to target then compares pruning and the cost of an
    # epoch, not which trials luck put first (an nn.GRU epoch costs 3 to 4 LSTM epochs here;
    # the platform's GRU, models/fused.py, 2).
    sampler = seed_per_trial(optuna.samplers.TPESampler(seed=seed), seed)
    study = optuna.create_study(sampler=sampler, pruner=optuna.pruners.MedianPruner())
    study.optimize(objective_for(data, max_epochs, space), n_trials=n_trials)
    return study
