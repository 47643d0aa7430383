"""The baseline of benchmarks/throughput.py: a sweep as optuna-examples writes one.

One process, Optuna's study.optimize over a grid, a LightningModule per trial, MLflow runs
nested under a parent with per-epoch metrics, torch's default threads. It reads the same config
file as `sweep run` and trains the same network on the same data; only the machinery differs.

    python benchmarks/handwritten.py CONFIG
"""

from __future__ import annotations

import sys
from typing import Any

import mlflow
import optuna
import pytorch_lightning as pl
import torch
import yaml
from torch import nn

from datamodules.lightning import LightningData
from datamodules.synthetic import AddingDataModule
from models.options import NetOptions
from models.recurrent import RecurrentNet


class LightningNet(pl.LightningModule):
    def __init__(self, lr: float, hidden_size: int, cell: str) -> None:
        super().__init__()
        self.net = RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=hidden_size))
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class MlflowEpochs(pl.Callback):
    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        mlflow.log_metrics(metrics, step=trainer.current_epoch)


def main(path: str) -> None:
    raw = yaml.safe_load(open(path))
    data, model = raw["data"], raw["model"]
    lrs = raw["search"]["space"]["optimizer.lr"]["choices"]
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment(raw["name"])

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_categorical("optimizer.lr", lrs)
        pl.seed_everything(raw["seed"], verbose=False)
        dm = AddingDataModule(
            seq_len=data["seq_len"],
            batch_size=data["batch_size"],
            n_train=data["n_train"],
            n_val=data["n_val"],
            n_test=data["n_test"],
        )
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params({"optimizer.lr": lr})
            trainer = pl.Trainer(
                max_epochs=raw["trainer"]["max_epochs"],
                accelerator="cpu",
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                gradient_clip_val=raw["optimizer"]["grad_clip"],
                callbacks=[MlflowEpochs()],
            )
            trainer.fit(
                LightningNet(lr, model["hidden_size"], model["cell"]), datamodule=LightningData(dm)
            )
            return float(trainer.callback_metrics["val_loss"])

    sampler = optuna.samplers.GridSampler({"optimizer.lr": lrs}, seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    with mlflow.start_run(run_name=raw["name"]):
        study.optimize(objective, n_trials=len(lrs))


if __name__ == "__main__":
    main(sys.argv[1])
