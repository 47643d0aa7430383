"""A trial's checkpoints on a clock: last.ckpt at most every few seconds, best.ckpt the best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from datamodules.base import Split, TensorLoader
from models.epochs import Epoch, EpochLoader
from models.lit_module import SequenceModule
from models.options import NetOptions, OptimizerOptions
from models.recurrent import RecurrentNet
from sweeps.train.checkpoints import BEST, LAST, Checkpoints


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Epochs(pl.Callback):
    """Each epoch takes one second of the fake clock; keeps each epoch's weights and value."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.weights: list[dict[str, torch.Tensor]] = []
        self.values: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.now += 1.0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.values.append(float(trainer.callback_metrics["val_loss"]))
        self.weights.append({k: v.clone() for k, v in pl_module.state_dict().items()})


def _fit(folder: Path, every_s: float, epochs: int = 7, lr: float = 0.05) -> Any:
    torch.manual_seed(0)
    net = RecurrentNet(3, 1, NetOptions(cell="gru", hidden_size=8))
    module = SequenceModule(net, task="regression", optimizer=OptimizerOptions(lr=lr))
    x = torch.randn(32, 5, 3, generator=torch.Generator().manual_seed(1))
    data = Split(x, x.sum(dim=(1, 2))[:, None], None)
    clock = _Clock()
    seen = _Epochs(clock)
    checkpoints = Checkpoints(
        folder, "val_loss", maximize=False, resume=True, every_s=every_s, clock=clock
    )
    writes: list[tuple[str, int]] = []
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[seen, checkpoints],
    )
    save = trainer.save_checkpoint

    def spy(path: Any, weights_only: bool = False, storage_options: Any = None) -> None:
        writes.append((Path(path).name, trainer.current_epoch))
        save(path, weights_only=weights_only)

    trainer.save_checkpoint = spy  # type: ignore[method-assign]
    loader = TensorLoader(data, 8)
    trainer.fit(module, EpochLoader(Epoch(loader)), EpochLoader(Epoch(TensorLoader(data, 8))))
    return module, checkpoints, seen, writes


def test_last_is_written_on_the_clock_and_best_when_it_changed(tmp_path: Path) -> None:
    module, checkpoints, seen, writes = _fit(tmp_path, every_s=2.5, lr=1.0)  # best: not last
    # epochs end at 1, 2, 3, ... s; the first write is due 2.5 s in, the next 2.5 s later;
    # best.ckpt at a write where it changed, not again at the end where it did not
    assert writes == [(BEST, 2), (LAST, 2), (BEST, 5), (LAST, 5)]
    assert checkpoints.saved_epoch == 5
    assert torch.load(tmp_path / LAST, weights_only=False)["epoch"] == 5
    # best.ckpt: the best epoch's weights, not the last epoch's; the module keeps its own
    best = min(range(len(seen.values)), key=seen.values.__getitem__)
    assert best < len(seen.values) - 1
    assert checkpoints.best_epoch == best and checkpoints.best_value == seen.values[best]
    saved = torch.load(tmp_path / BEST, weights_only=False)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in seen.weights[best].items())
    final = module.state_dict()
    assert all(torch.equal(final[k], v) for k, v in seen.weights[-1].items())


def test_a_zero_interval_writes_after_every_epoch(tmp_path: Path) -> None:
    _, checkpoints, _, writes = _fit(tmp_path, every_s=0.0, epochs=3)
    assert [epoch for name, epoch in writes if name == LAST] == [0, 1, 2]
    assert checkpoints.saved_epoch == 2


def test_a_trial_shorter_than_the_interval_writes_only_its_best(tmp_path: Path) -> None:
    _, checkpoints, _, writes = _fit(tmp_path, every_s=60.0, epochs=3)
    assert writes == [(BEST, 3)]  # at train end (current_epoch counts the finished epochs)
    assert checkpoints.best_path == tmp_path / BEST and not (tmp_path / LAST).exists()
