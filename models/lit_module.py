"""Lightning wrapper around a RecurrentNet: loss, epoch-level metrics, optimizer and scheduler."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.utilities.types import OptimizerLRScheduler
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from models.epochs import Batch, Epoch
from models.metrics import eval_metrics
from models.optim import SCHEDULERS, build_optimizer
from models.options import MAX_EPOCHS, OPTIMIZER, OptimizerOptions, check_max_epochs
from models.recurrent import RecurrentNet

IGNORE_INDEX = -100  # classification targets at unscored positions (shared data contract)
TASKS = ("regression", "classification")


class SequenceModule(pl.LightningModule):
    """Trains a RecurrentNet; logs train_/val_/test_ metrics once per epoch, never per step."""

    target_std: Tensor | None  # (n_outputs,) buffer, so it follows the module across devices

    def __init__(
        self,
        net: RecurrentNet,
        *,
        task: str,
        every_step: bool = False,
        optimizer: OptimizerOptions | Mapping[str, Any] = OPTIMIZER,
        max_epochs: int = MAX_EPOCHS,
        target_mean: tuple[float, ...] | None = None,
        target_std: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__()
        # A checkpoint holds the options as plain values; loading one passes them back as such.
        options = (
            optimizer if isinstance(optimizer, OptimizerOptions) else OptimizerOptions(**optimizer)
        )
        check_max_epochs(max_epochs)
        _check_task(net, task, every_step, target_mean, target_std)
        # The net is rebuilt by the caller on load; only plain values go into the checkpoint.
        self.save_hyperparameters(
            {
                "task": task,
                "every_step": every_step,
                "optimizer": asdict(options),
                "max_epochs": max_epochs,
                "target_mean": target_mean,
                "target_std": target_std,
            }
        )
        self.options = options
        self.max_epochs = max_epochs
        self.net = net
        self.task = task
        self.every_step = every_step
        std = None if target_std is None else torch.tensor(target_std, dtype=torch.float32)
        self.register_buffer("target_std", std, persistent=False)
        self.grad_clip = options.grad_clip
        self._sums: dict[str, dict[str, Tensor | float]] = {}
        self._step_stats: dict[str, Tensor | float] = {}  # the current step's, for _clip
        # The step is written out below (zero_grad, backward, clip, step) rather than left to
        # Lightning's automatic loop: its closure and per-step hooks cost more than the step
        # itself on a small model, which is most of the overhead seen on a GPU. For the same
        # reason a sweep gives it whole epochs as batches (models/epochs.py).
        self.automatic_optimization = False

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning records the running hook's name around every hook call, some 30 times a
        # step; nn.Module's __setattr__ checks each value for parameters, modules and buffers.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The wrapped net's output for a batch of inputs."""
        return self.net(x, lengths)  # type: ignore[no-any-return]

    # --- steps: accumulate detached sums, log nothing -------------------------------------

    def training_step(self, batch: Batch | Epoch, batch_idx: int) -> None:
        """One optimizer step per batch (of each batch of an Epoch); the sums go to the epoch's
        accumulator, on the device."""
        opt = self.optimizers()
        assert isinstance(opt, LightningOptimizer)  # one optimizer, from configure_optimizers
        mixed = type(self.trainer.precision_plugin) is not Precision
        for one in self._batches(batch):
            loss, stats = self._score(one, full=False)
            opt.zero_grad(set_to_none=True)
            if mixed:  # through the plugin: it scales a 16-mixed loss
                self.manual_backward(loss)
            else:  # the plugin's backward is the loss's own; this skips its hook rounds
                loss.backward()  # type: ignore[no-untyped-call]
            # The plugin unscales the gradients (16-mixed), then calls on_before_optimizer_step,
            # which clips them, then steps (or skips a step whose gradients overflowed).
            self._step_stats = stats
            opt.step()
            self._accumulate("train", stats)

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        """Clip the step's gradients, unscaled first under 16-mixed."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            # Lightning leaves a fused optimizer's gradients scaled, for its kernel to unscale
            # as it steps: clipping them so would clip by a norm 2**16 times too large.
            # Unscaled here, the scaler tells the kernel so, and still skips an overflowed step.
            scaler.unscale_(optimizer)
        self._clip(self._step_stats)

    def validation_step(self, batch: Batch | Epoch, batch_idx: int) -> None:
        """Accumulate the validation sums of one batch (of each batch of an Epoch)."""
        for one in self._batches(batch):
            self._accumulate("val", self._score(one, full=True)[1])

    def test_step(self, batch: Batch | Epoch, batch_idx: int) -> None:
        """Accumulate the test sums of one batch (of each batch of an Epoch)."""
        for one in self._batches(batch):
            self._accumulate("test", self._score(one, full=True)[1])

    def _batches(self, batch: Batch | Epoch) -> Iterable[Batch]:
        """The batches of one Lightning step, on the module's device (models/epochs.py)."""
        if not isinstance(batch, Epoch):
            return (batch,)  # Lightning's own loop moved it
        if self.trainer.world_size != 1:  # each process would train on every batch
            raise ValueError(
                f"an Epoch (models/epochs.py) serves one device, but the trainer runs "
                f"{self.trainer.world_size} processes; give Lightning the epoch's loader itself"
            )
        device = self.device
        return (tuple(t.to(device, non_blocking=True) for t in one) for one in batch)

    # --- epoch hooks: one self.log per metric per epoch ------------------------------------

    def on_train_epoch_start(self) -> None:
        self._sums["train"] = {}

    def on_validation_epoch_start(self) -> None:
        self._sums["val"] = {}

    def on_test_epoch_start(self) -> None:
        self._sums["test"] = {}

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")
        self._step_scheduler()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _clip(self, stats: dict[str, Tensor | float]) -> None:
        """Clip by norm (the exploding-gradient guard), keeping that one norm for the curves.

        `train_grad_norm` (mean norm before clipping) and `train_clip_frac` (share of steps
        clipped) make exploding and vanishing gradients visible per trial. The norm is the one
        clipping computes anyway, so this costs no extra pass, and it stays on the device: it is
        read once per epoch, never per step.
        """
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), max_norm).detach()
        stats["grad_norm_sum"] = norm
        stats["steps"] = 1.0
        if self.grad_clip is not None:
            stats["clipped"] = (norm > max_norm).float()

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """The optimizer (models/optim.py) and, unless 'none', an epoch scheduler."""
        o = self.options
        opt = build_optimizer(o.name, self.parameters(), o.lr, o.weight_decay, o.momentum)
        sched = SCHEDULERS[o.scheduler](opt, o.step_size, o.gamma, self.max_epochs)
        if sched is None:
            return opt
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "interval": "epoch"},  # stepped by the module
        }

    def _step_scheduler(self) -> None:
        # Manual optimization leaves schedulers to the module. Validation has run by the time
        # the training epoch ends, so plateau sees this epoch's val_loss.
        sched = self.lr_schedulers()
        if sched is None:
            return
        assert not isinstance(sched, list)  # one scheduler, from configure_optimizers
        if isinstance(sched, ReduceLROnPlateau):
            val_loss = self.trainer.callback_metrics.get("val_loss")
            if val_loss is None:
                raise RuntimeError("optimizer.scheduler 'plateau' needs val_loss; run validation")
            sched.step(float(val_loss))
        else:
            sched.step()

    # --- scoring ---------------------------------------------------------------------------

    def _score(
        self, batch: tuple[Tensor, ...], *, full: bool
    ) -> tuple[Tensor, dict[str, Tensor | float]]:
        x, y, *rest = batch
        lengths = rest[0] if rest else None
        # float32 from here on: under mixed precision the net's output is 16-bit, and the
        # loss and the epoch's sums are kept at full precision.
        out = self.net(x, lengths).float()
        mask = None
        if self.every_step and lengths is not None:
            steps = torch.arange(x.shape[1], device=out.device)
            mask = steps < lengths.to(out.device)[:, None]  # (batch, seq_len) True where real
        if self.task == "regression":
            return self._score_regression(out, y, mask, full=full)
        return self._score_classification(out, y, mask, full=full)

    def _score_regression(
        self, pred: Tensor, y: Tensor, mask: Tensor | None, *, full: bool
    ) -> tuple[Tensor, dict[str, Tensor | float]]:
        if pred.shape != y.shape:  # broadcasting (b, 1) against (b,) would silently give (b, b)
            raise ValueError(f"regression targets {tuple(y.shape)} != outputs {tuple(pred.shape)}")
        err = pred - y  # (batch, n_outputs) or (batch, seq_len, n_outputs)
        count: Tensor | float
        if mask is None:
            count = float(err.numel())  # known on the host: no kernel, no copy
        else:
            # Zero the padded steps rather than err[mask]: boolean indexing syncs with the GPU.
            err = err * mask.unsqueeze(-1)
            count = mask.sum() * err.shape[-1]
        sq_sum = err.pow(2).sum()
        loss = sq_sum / count
        stats: dict[str, Tensor | float] = {"loss_sum": sq_sum.detach(), "count": count}
        if full:
            stats["abs_sum"] = err.detach().abs().sum()
            if self.target_std is not None:
                err_orig = err.detach() * self.target_std  # mean shifts cancel in an error
                stats["abs_orig_sum"] = err_orig.abs().sum()
                stats["sq_orig_sum"] = err_orig.pow(2).sum()
        return loss, stats

    def _score_classification(
        self, logits: Tensor, y: Tensor, mask: Tensor | None, *, full: bool
    ) -> tuple[Tensor, dict[str, Tensor | float]]:
        if logits.shape[:-1] != y.shape:
            raise ValueError(f"class targets {tuple(y.shape)} != logits {tuple(logits.shape)}")
        if mask is not None:
            y = y.masked_fill(~mask, IGNORE_INDEX)
        flat_logits = logits.reshape(-1, logits.shape[-1])  # (batch [* seq_len], classes)
        flat_y = y.reshape(-1)  # (batch [* seq_len],)
        loss_sum = F.cross_entropy(flat_logits, flat_y, ignore_index=IGNORE_INDEX, reduction="sum")
        scored = flat_y != IGNORE_INDEX
        count = scored.sum().to(loss_sum.dtype)
        # clamp: a batch with nothing scored contributes 0, not NaN
        loss = loss_sum / count.clamp(min=1.0)
        stats: dict[str, Tensor | float] = {"loss_sum": loss_sum.detach(), "count": count}
        if full:
            stats["correct"] = ((flat_logits.detach().argmax(-1) == flat_y) & scored).sum()
        return loss, stats

    def _accumulate(self, stage: str, stats: dict[str, Tensor | float]) -> None:
        sums = self._sums.setdefault(stage, {})
        for key, value in stats.items():
            sums[key] = sums[key] + value if key in sums else value

    def _log_epoch(self, stage: str) -> None:
        sums = self._sums.pop(stage, {})
        if not sums:
            return
        # Sum across processes before dividing, so the epoch value is the true mean under DDP.
        reduce = self.trainer.strategy.reduce
        total = {
            k: reduce(torch.as_tensor(v, device=self.device).float(), reduce_op="sum")
            for k, v in sums.items()
        }
        count = total["count"]
        metrics = {"loss": total["loss_sum"] / count}
        if stage != "train":
            metrics.update(eval_metrics(self.task, self.every_step, total, metrics["loss"]))
        elif "steps" in total:
            metrics["grad_norm"] = total["grad_norm_sum"] / total["steps"]
            if "clipped" in total:
                metrics["clip_frac"] = total["clipped"] / total["steps"]
        self.log_dict({f"{stage}_{name}": value for name, value in metrics.items()})


def _check_task(
    net: RecurrentNet,
    task: str,
    every_step: bool,
    target_mean: tuple[float, ...] | None,
    target_std: tuple[float, ...] | None,
) -> None:
    # These come from the DataSpec, not the user: a mismatch is a wiring bug, so ValueError.
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, but got {task!r}")
    if every_step != net.every_step:
        raise ValueError(f"every_step={every_step} but the net has every_step={net.every_step}")
    if task == "classification" and net.n_outputs < 2:
        raise ValueError(f"classification needs n_outputs >= 2 classes, got {net.n_outputs}")
    if (target_mean is None) != (target_std is None):
        raise ValueError("target_mean and target_std must be given together")
    if target_mean is not None and target_std is not None:
        if task != "regression" or not len(target_mean) == len(target_std) == net.n_outputs:
            raise ValueError(
                f"target_mean/std need a regression task with {len(target_std)} outputs, "
                f"got {task!r} with {net.n_outputs}"
            )
        if min(target_std) <= 0:
            raise ValueError(f"target_std must be > 0, but got {target_std}")
