"""trainer.precision: mixed precision through the epoch-as-one-batch path, or a clear refusal."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from conftest import tiny_raw, write_config
from pytorch_lightning.plugins.precision import MixedPrecision
from typer.testing import CliRunner

from datamodules.base import Split, TensorLoader
from models.epochs import Epoch, EpochLoader
from models.lit_module import SequenceModule
from models.options import NetOptions, OptimizerOptions
from models.recurrent import RecurrentNet
from sweeps.cli.app import app
from sweeps.config.schema import validate
from sweeps.errors import ConfigError

runner = CliRunner()
N, SEQ, FEATURES, OUTPUTS, BATCH = 24, 6, 3, 2, 8


def _data() -> Split:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(N, SEQ, FEATURES, generator=generator)
    return Split(x, x.sum(dim=1)[:, :OUTPUTS], None)


def _module(cell: str = "gru", impl: str = "torch", **optimizer: Any) -> SequenceModule:
    torch.manual_seed(0)
    net = RecurrentNet(FEATURES, OUTPUTS, NetOptions(cell=cell, hidden_size=8, impl=impl))
    return SequenceModule(net, task="regression", optimizer=OptimizerOptions(**optimizer))


def _fit(
    module: SequenceModule, epochs: int = 2, limit: int | None = None, **trainer: Any
) -> pl.Trainer:
    fit = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        **trainer,
    )
    data = _data()
    train, val = Epoch(TensorLoader(data, BATCH), limit=limit), Epoch(TensorLoader(data, BATCH))
    fit.fit(module, EpochLoader(train), EpochLoader(val))
    return fit


def _weights(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _autocast_loop(module: SequenceModule, epochs: int = 2) -> None:
    """The hand-written bf16 loop: forward under autocast, float32 loss, clip, step."""
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(epochs):
        for x, y in TensorLoader(_data(), BATCH):
            # No cache of 16-bit weights, as Lightning: each use of a weight is cast anew, and
            # its gradient summed in float32 (a cached copy sums it in bfloat16).
            with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
                err = module.net(x).float() - y
                loss = err.pow(2).sum() / err.numel()
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            opt.step()


def test_bf16_mixed_through_the_platform_is_a_plain_autocast_loop() -> None:
    sgd = {"name": "sgd", "lr": 0.5, "momentum": 0.0}
    platform = _module(**sgd)
    _fit(platform, precision="bf16-mixed")
    plain = _module(**sgd)
    _autocast_loop(plain)
    full = _module(**sgd)
    _fit(full, precision="32-true")
    assert torch.equal(_weights(platform), _weights(plain))
    # and bf16 really ran: 32-bit training ends elsewhere
    assert not torch.allclose(_weights(full), _weights(plain), atol=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])  # fused on a CPU, and not
def test_16_mixed_clips_the_unscaled_gradients(optimizer: str) -> None:
    # A loss scaled by 2**10 has gradients 2**10 times too large: clipped before unscaling,
    # plain SGD with lr 1 would move the weights by grad_clip / 2**10, not by grad_clip.
    # models/cells.py's equations, as torch's LSTM has no 16-bit kernel on a CPU.
    options = {"name": optimizer, "lr": 1.0, "grad_clip": 1e-3}
    module = _module("lstm", "reference", **options, momentum=0.0)
    before = _weights(module)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    trainer = _fit(module, epochs=1, limit=1, plugins=[MixedPrecision("16-mixed", "cpu", scaler)])
    assert scaler.get_scale() == 2.0**10  # the one step was taken, not skipped
    if optimizer == "sgd":
        assert (_weights(module) - before).norm() == pytest.approx(1e-3, rel=1e-2)
    # the logged norm is the true one, not the scaled one
    full = _module("lstm", "reference")
    loss, _ = full._score(next(iter(TensorLoader(_data(), BATCH))), full=False)
    loss.backward()  # type: ignore[no-untyped-call]
    true_norm = torch.nn.utils.clip_grad_norm_(full.parameters(), float("inf"))
    logged = float(trainer.callback_metrics["train_grad_norm"])
    assert logged == pytest.approx(float(true_norm), rel=0.05)


@pytest.mark.parametrize("lengths", [False, True])
def test_torchs_lstm_runs_in_float32_under_cpu_autocast(lengths: bool) -> None:
    net = _module("lstm", "torch").net
    x, y = _data().x, _data().y
    given = torch.full((N,), SEQ) if lengths else None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # oneDNN has no 16-bit LSTM kernel
        out = net(x, given)
    assert out.dtype == torch.bfloat16  # the head ran in bf16
    (out.float() - y).pow(2).mean().backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_an_epoch_refuses_more_than_one_device() -> None:
    module = _module()
    module._trainer = SimpleNamespace(world_size=2)  # type: ignore[assignment]
    batches = [(torch.zeros(1, SEQ, FEATURES), torch.zeros(1, OUTPUTS))]
    with pytest.raises(ValueError, match="serves one device, but the trainer runs 2"):
        list(module._batches(Epoch(batches)))


def test_16_mixed_on_the_cpu_is_refused_by_validate(tmp_path: Path) -> None:
    raw = tiny_raw(trainer={"max_epochs": 1, "precision": "16-mixed"})
    result = runner.invoke(app, ["validate", str(write_config(tmp_path, raw))])
    assert result.exit_code == 2, result.output
    assert "trainer.precision '16-mixed' needs a CUDA GPU" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_16_mixed_without_cuda_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    raw = tiny_raw(trainer={"max_epochs": 1, "accelerator": "auto", "precision": "16-mixed"})
    result = runner.invoke(app, ["validate", str(write_config(tmp_path, raw))])
    assert result.exit_code == 1, result.output  # a valid file, but not for this machine
    assert "trainer.precision is '16-mixed', but this machine has no CUDA" in result.output


def test_an_unknown_precision_names_the_field() -> None:
    with pytest.raises(ConfigError, match="trainer.precision"):
        validate(tiny_raw(trainer={"precision": "16"}))


def test_a_precision_lightning_would_swap_is_refused_by_train(tmp_path: Path) -> None:
    from sweeps.train.trial import train

    raw = tiny_raw(trainer={"max_epochs": 1, "precision": "16-mixed"})
    with pytest.warns(UserWarning, match="fp16 is not supported on CPU"):  # Lightning's swap
        with pytest.raises(ConfigError, match="trainer.precision '16-mixed' cannot run"):
            train(validate(raw), tmp_path)


def test_bf16_mixed_trains_a_sweep_trial(tmp_path: Path) -> None:
    from sweeps.train.trial import train

    raw = tiny_raw(trainer={"max_epochs": 2, "precision": "bf16-mixed"})
    result = train(validate(raw), tmp_path)
    assert result.epochs_run == 2 and torch.isfinite(torch.tensor(result.best_value))
