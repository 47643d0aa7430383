"""A trial's checkpoints, written on a clock: the best epoch's weights, and the state to resume.

Writing both every epoch cost a short epoch a noticeable share of its time, and a trial that
completes throws its resume state away. So the best epoch's weights are kept in memory and,
with the full training state (`last.ckpt`, for a retried trial to continue from), written at
most once every `every_s` seconds, at the end of an epoch; the best weights also when training
ends, for the trial's artifact. A kill therefore loses at most `every_s` seconds of training,
and the epoch it stopped in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint
from torch import Tensor

from sweeps.search.ranking import better
from sweeps.train.callbacks import read_metric

BEST, LAST = "best.ckpt", "last.ckpt"


class Checkpoints(Checkpoint):
    """best.ckpt (weights of the best epoch by `metric`) and, with `resume`, last.ckpt.

    A `Checkpoint`, so Lightning calls it after the module's own epoch-end hook (the scheduler
    has stepped): last.ckpt resumes at the next epoch. `saved_epoch` is the last epoch whose
    state is on disk; the curves send no later epoch before training ends (a retry trains it
    again, and its curve would show it twice).
    """

    def __init__(
        self,
        folder: Path,
        metric: str,
        *,
        maximize: bool,
        resume: bool,
        every_s: float,  # trainer.write_every_s
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.metric = metric
        self.maximize = maximize
        self.resume = resume
        self.every_s = every_s
        self._clock = clock
        self.best_value = math.nan
        self.best_epoch = -1
        self.best_path: Path | None = None  # set once best.ckpt is written
        self.saved_epoch = -1
        self._best: dict[str, Tensor] | None = None  # the best weights not yet written
        self._last_write = 0.0

    def state_dict(self) -> dict[str, Any]:
        path = None if self.best_path is None else str(self.best_path)
        return {"best_value": self.best_value, "best_epoch": self.best_epoch, "best_path": path}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_value = float(state_dict["best_value"])
        self.best_epoch = int(state_dict["best_epoch"])
        path = state_dict["best_path"]
        self.best_path = None if path is None else Path(path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_write = self._clock()  # the first write comes every_s into training
        self.saved_epoch = trainer.current_epoch - 1  # a resumed trial: its checkpoint's

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = read_metric(trainer, self.metric)
        if not math.isfinite(value):
            return
        if math.isnan(self.best_value) or better(value, self.best_value, maximize=self.maximize):
            self.best_value, self.best_epoch = value, trainer.current_epoch
            self._best = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._clock() - self._last_write < self.every_s:
            return
        self._write_best(trainer, pl_module)
        if self.resume:
            trainer.save_checkpoint(self.folder / LAST)
        self.saved_epoch = trainer.current_epoch
        self._last_write = self._clock()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write_best(trainer, pl_module)

    def _write_best(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """best.ckpt from the best weights, if they changed since the last write; the module's
        own weights are put back after."""
        if self._best is None:
            return
        current = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        pl_module.load_state_dict(self._best)
        try:
            # Weights and hyperparameters only: the artifact is for evaluation and reuse.
            trainer.save_checkpoint(self.folder / BEST, weights_only=True)
        finally:
            pl_module.load_state_dict(current)
        self.best_path = self.folder / BEST
        self._best = None
