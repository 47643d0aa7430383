"""RecurrentNet shapes, padding and dropout; SequenceModule losses, metrics and optimizers."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules.base import Split, TensorLoader
from models import CELLS, OPTIMIZERS, SCHEDULERS, RecurrentNet, SequenceModule, count_parameters
from models.epochs import Epoch, EpochLoader
from models.optim import build_optimizer
from models.options import NetOptions, OptimizerOptions

BATCH, SEQ, FEATURES, OUTPUTS, CLASSES, VOCAB = 4, 6, 3, 2, 5, 7
MODES = ("regression_last", "regression_every", "classification_last", "lm_every")


def _net(mode: str, **kwargs: Any) -> RecurrentNet:
    """A small net for one of MODES, with `kwargs` overriding the model options."""
    options: dict[str, Any] = {"hidden_size": 8}
    if mode == "regression_last":
        return RecurrentNet(FEATURES, OUTPUTS, NetOptions(**options, **kwargs))
    if mode == "regression_every":
        return RecurrentNet(FEATURES, OUTPUTS, NetOptions(**options, **kwargs), every_step=True)
    if mode == "classification_last":
        return RecurrentNet(FEATURES, CLASSES, NetOptions(**options, **kwargs))
    if mode == "lm_every":
        return RecurrentNet(
            0, VOCAB, NetOptions(**options, **kwargs), vocab_size=VOCAB, every_step=True
        )
    raise ValueError(f"unknown test mode {mode!r}")


def _inputs(mode: str, n: int = BATCH, seq: int = SEQ) -> Tensor:
    if mode == "lm_every":
        return torch.randint(0, VOCAB, (n, seq))
    return torch.randn(n, seq, FEATURES)


def _trainer(**kwargs: Any) -> pl.Trainer:
    options: dict[str, Any] = {
        "max_epochs": 2,
        "logger": False,
        "enable_progress_bar": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
    }
    return pl.Trainer(**(options | kwargs))


# --- RecurrentNet -------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_output_shape(cell: str, mode: str, bidirectional: bool) -> None:
    net = _net(mode, cell=cell, bidirectional=bidirectional, num_layers=2)
    out = net(_inputs(mode))
    expected = {
        "regression_last": (BATCH, OUTPUTS),
        "regression_every": (BATCH, SEQ, OUTPUTS),
        "classification_last": (BATCH, CLASSES),
        "lm_every": (BATCH, SEQ, VOCAB),
    }[mode]
    assert out.shape == expected


@pytest.mark.parametrize("mode", ["regression_every", "lm_every"])
def test_every_step_keeps_seq_len_when_all_sequences_are_short(mode: str) -> None:
    net = _net(mode)
    out = net(_inputs(mode), torch.tensor([2, 3, 1, 3]))
    assert out.shape[:2] == (BATCH, SEQ)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_padding_never_reaches_the_output(cell: str, mode: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    net = _net(mode, cell=cell, bidirectional=bidirectional, num_layers=2).eval()
    lengths = torch.tensor([6, 2, 4, 1])
    x = _inputs(mode)
    padded = x.clone()
    for i, n in enumerate(lengths.tolist()):  # different junk in the padding
        if mode == "lm_every":
            padded[i, n:] = (x[i, n:] + 1) % VOCAB
        else:
            padded[i, n:] = torch.randn(SEQ - n, FEATURES) * 100
    with torch.no_grad():
        out, out_padded = net(x, lengths), net(padded, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone = net(x[i : i + 1, :n])[0]  # the sequence with no padding at all
            got, got_padded = (
                (out[i, :n], out_padded[i, :n]) if net.every_step else (out[i], out_padded[i])
            )
            torch.testing.assert_close(got, alone)
            torch.testing.assert_close(got_padded, alone)


def test_dropout_acts_with_one_layer_without_torch_warning() -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when RNN dropout is set with one layer
        net = RecurrentNet(FEATURES, OUTPUTS, NetOptions(num_layers=1, dropout=0.5))
    assert net.rnn.dropout == 0.0
    x = torch.randn(BATCH, SEQ, FEATURES)
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x))


def test_dropout_goes_between_stacked_layers() -> None:
    net = RecurrentNet(FEATURES, OUTPUTS, NetOptions(num_layers=2, dropout=0.3))
    assert net.rnn.dropout == 0.3


def test_relu_rnn_is_built_with_relu() -> None:
    net = RecurrentNet(FEATURES, OUTPUTS, NetOptions(cell="rnn", nonlinearity="relu"))
    assert net.rnn.nonlinearity == "relu"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cell": "transformer"}, "model.cell"),
        ({"cell": "lstm", "nonlinearity": "relu"}, "model.nonlinearity"),
        ({"cell": "gru", "nonlinearity": "relu"}, "model.nonlinearity"),
        ({"cell": "rnn", "nonlinearity": "sigmoid"}, "model.nonlinearity"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"dropout": -0.1}, "model.dropout"),
        ({"hidden_size": 0}, "model.hidden_size"),
        ({"num_layers": 0}, "model.num_layers"),
    ],
)
def test_bad_model_option_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RecurrentNet(FEATURES, OUTPUTS, NetOptions(**kwargs))


def test_bad_cell_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"\['gru', 'lstm', 'peephole', 'rnn'\]"):
        RecurrentNet(FEATURES, OUTPUTS, NetOptions(cell="transformer"))


def test_lstm_forget_gate_bias_sums_to_one() -> None:
    net = RecurrentNet(
        FEATURES, OUTPUTS, NetOptions(cell="lstm", hidden_size=4, num_layers=2, bidirectional=True)
    )
    params = dict(net.rnn.named_parameters())
    for suffix in ("l0", "l1", "l0_reverse", "l1_reverse"):
        total = params[f"bias_ih_{suffix}"] + params[f"bias_hh_{suffix}"]
        torch.testing.assert_close(total[4:8], torch.ones(4))
        assert not torch.allclose(total[:4], torch.ones(4))  # other gates keep their init


def test_count_parameters_matches_hand_count() -> None:
    net = RecurrentNet(3, 2, NetOptions(cell="rnn", hidden_size=4))
    # rnn: W_ih 4x3 + W_hh 4x4 + two biases of 4 = 36; head: 4x2 + 2 = 10
    assert count_parameters(net) == 46
    net.head.requires_grad_(False)
    assert count_parameters(net) == 36


# --- SequenceModule: options -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "adagrad"}, "optimizer.name"),
        ({"scheduler": "cyclic"}, "optimizer.scheduler"),
        ({"lr": 0.0}, "optimizer.lr"),
        ({"weight_decay": -1.0}, "optimizer.weight_decay"),
        ({"momentum": 1.0}, "optimizer.momentum"),
        ({"gamma": 1.5}, "optimizer.gamma"),
        ({"step_size": 0}, "optimizer.step_size"),
    ],
)
def test_bad_optimizer_option_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        OptimizerOptions(**kwargs)


def test_module_rejects_every_step_mismatch_with_net() -> None:
    with pytest.raises(ValueError, match="every_step"):
        SequenceModule(_net("regression_last"), task="regression", every_step=True)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_table_passes_lr_and_weight_decay(name: str) -> None:
    module = SequenceModule(
        _net("regression_last"),
        task="regression",
        optimizer=OptimizerOptions(name=name, lr=0.01, weight_decay=0.1),
    )
    opt = module.configure_optimizers()
    assert isinstance(opt, torch.optim.Optimizer)
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.01, 0.1)
    if name == "sgd":
        assert group["momentum"] == 0.9
    # torch has fused kernels for these three on the CPU (models/optim.py), none for rmsprop
    assert bool(group.get("fused")) == (name in ("adam", "adamw", "sgd"))


def test_fused_optimizer_step_matches_torchs_default_to_rounding() -> None:
    torch.manual_seed(0)
    fused_net = _net("regression_last")
    plain_net = copy.deepcopy(fused_net)
    fused = build_optimizer("adam", fused_net.parameters(), 0.01, 0.0, 0.0)
    plain = torch.optim.Adam(plain_net.parameters(), lr=0.01)
    assert fused.defaults["fused"] and not plain.defaults.get("fused")
    x = torch.randn(8, 5, 3)
    for _ in range(10):
        for net, opt in ((fused_net, fused), (plain_net, plain)):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
    for p, q in zip(fused_net.parameters(), plain_net.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_no_fused_step_where_torch_has_no_kernel() -> None:
    half = _net("regression_last").to(torch.bfloat16)
    assert not build_optimizer("adam", half.parameters(), 0.01, 0.0, 0.0).defaults.get("fused")


@pytest.mark.parametrize("name", sorted(set(SCHEDULERS) - {"none"}))
def test_scheduler_table_steps_per_epoch(name: str) -> None:
    module = SequenceModule(
        _net("regression_last"), task="regression", optimizer=OptimizerOptions(scheduler=name)
    )
    config: Any = module.configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "epoch"


# --- SequenceModule: training ------------------------------------------------------------


def _data(mode: str, n: int = 12, *, variable: bool = False) -> Split:
    """Random inputs and targets of the shape the data contract gives `mode`."""
    x = _inputs(mode, n)
    lengths = torch.randint(1, SEQ + 1, (n,)) if variable else None
    if mode == "regression_last":
        y = torch.randn(n, OUTPUTS)
    elif mode == "regression_every":
        y = torch.randn(n, SEQ, OUTPUTS)
    elif mode == "classification_last":
        y = torch.randint(0, CLASSES, (n,))
    else:
        y = torch.randint(0, VOCAB, (n, SEQ))
        y[:, 0] = -100  # an unscored position, as datamodules mark them
        if lengths is not None:
            y[torch.arange(SEQ) >= lengths[:, None]] = -100
    return Split(x, y, lengths)


def _module(
    mode: str,
    target_mean: tuple[float, ...] | None = None,
    target_std: tuple[float, ...] | None = None,
    **options: Any,
) -> SequenceModule:
    """A module for one of MODES, with `options` as its optimizer options."""
    task = "regression" if mode.startswith("regression") else "classification"
    net = _net(mode)
    return SequenceModule(
        net,
        task=task,
        every_step=net.every_step,
        optimizer=OptimizerOptions(**options),
        target_mean=target_mean,
        target_std=target_std,
    )


EXPECTED_METRICS = {
    "regression_last": {"train_loss", "val_loss", "val_mae", "val_rmse"},
    "regression_every": {"train_loss", "val_loss", "val_mae", "val_rmse"},
    "classification_last": {"train_loss", "val_loss", "val_acc"},
    "lm_every": {"train_loss", "val_loss", "val_acc", "val_bpc"},
}


@pytest.mark.parametrize("mode", MODES)
def test_fit_logs_epoch_metrics(mode: str) -> None:
    torch.manual_seed(0)
    module = _module(mode)
    trainer = _trainer()
    data = _data(mode, variable=mode.endswith("every"))
    trainer.fit(module, TensorLoader(data, 5, shuffle=True), TensorLoader(data, 5))
    assert EXPECTED_METRICS[mode] <= set(trainer.callback_metrics)
    assert all(math.isfinite(float(v)) for v in trainer.callback_metrics.values())
    tested = trainer.test(module, TensorLoader(data, 5), verbose=False)[0]
    assert {"test" + name[3:] for name in EXPECTED_METRICS[mode] - {"train_loss"}} <= set(tested)


def test_epoch_metrics_are_true_means_over_uneven_batches() -> None:
    torch.manual_seed(0)
    module = _module("lm_every").eval()
    data = _data("lm_every", n=7, variable=True)
    got = _trainer().validate(module, TensorLoader(data, 3), verbose=False)[0]
    with torch.no_grad():
        logits = module(data.x, data.lengths)  # (n, seq_len, vocab)
    flat_y = data.y.reshape(-1)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), flat_y, ignore_index=-100)
    scored = flat_y != -100
    acc = (logits.reshape(-1, VOCAB).argmax(-1) == flat_y)[scored].float().mean()
    assert got["val_loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert got["val_bpc"] == pytest.approx(loss.item() / math.log(2), rel=1e-5)
    assert got["val_acc"] == pytest.approx(acc.item(), rel=1e-5)


def test_regression_metrics_in_original_units() -> None:
    torch.manual_seed(0)
    std = (2.0, 10.0)
    module = _module("regression_last", target_mean=(5.0, -1.0), target_std=std).eval()
    data = _data("regression_last", n=7)
    got = _trainer().validate(module, TensorLoader(data, 3), verbose=False)[0]
    with torch.no_grad():
        err = module(data.x) - data.y  # (n, n_outputs), standardised units
    err_orig = err * torch.tensor(std)
    assert got["val_rmse"] == pytest.approx(err.pow(2).mean().sqrt().item(), rel=1e-5)
    assert got["val_mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)
    assert got["val_mae_orig"] == pytest.approx(err_orig.abs().mean().item(), rel=1e-5)
    assert got["val_rmse_orig"] == pytest.approx(err_orig.pow(2).mean().sqrt().item(), rel=1e-5)


def test_padded_regression_steps_do_not_count() -> None:
    torch.manual_seed(0)
    module = _module("regression_every").eval()
    data = _data("regression_every", n=5, variable=True)
    assert data.lengths is not None
    junk = data.y.clone()
    junk[torch.arange(SEQ) >= data.lengths[:, None]] = 1e6  # targets in the padding
    clean = _trainer().validate(module, TensorLoader(data, 2), verbose=False)[0]
    dirty = _trainer().validate(
        module, TensorLoader(Split(data.x, junk, data.lengths), 2), verbose=False
    )[0]
    assert dirty["val_loss"] == pytest.approx(clean["val_loss"], rel=1e-6)


@pytest.mark.slow
def test_loss_decreases_on_learnable_task() -> None:
    pl.seed_everything(0, verbose=False)
    x = torch.randn(256, 10, 1)
    y = x.mean(dim=1)  # (n, 1): the mean of the inputs; predicting 0 scores 0.1
    train, val = Split(x[:192], y[:192]), Split(x[192:], y[192:])
    net = RecurrentNet(1, 1, NetOptions(cell="gru", hidden_size=16))
    module = SequenceModule(net, task="regression", optimizer=OptimizerOptions(lr=0.01))
    trainer = _trainer(max_epochs=15)
    before = trainer.validate(module, TensorLoader(val, 32), verbose=False)[0]["val_loss"]
    trainer.fit(module, TensorLoader(train, 32, shuffle=True), TensorLoader(val, 32))
    after = float(trainer.callback_metrics["val_loss"])
    assert after < 0.25 * before
    assert after < 0.02  # well under the predict-zero baseline of 0.1


def test_step_scheduler_steps_each_epoch() -> None:
    module = _module("regression_last", scheduler="step", step_size=1, gamma=0.5, lr=0.1)
    data = _data("regression_last")
    trainer = _trainer()
    trainer.fit(module, TensorLoader(data, 6), TensorLoader(data, 6))
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.025)


def test_plateau_scheduler_finds_val_loss() -> None:
    module = _module("classification_last", scheduler="plateau", step_size=1)
    data = _data("classification_last")
    _trainer().fit(module, TensorLoader(data, 6), TensorLoader(data, 6))  # raises if missing


def test_checkpoint_reloads_with_a_fresh_net(tmp_path: Any) -> None:
    torch.manual_seed(0)
    module = _module("classification_last", lr=0.02, name="sgd")
    data = _data("classification_last")
    trainer = _trainer(max_epochs=1)
    trainer.fit(module, TensorLoader(data, 6), TensorLoader(data, 6))
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = SequenceModule.load_from_checkpoint(path, net=_net("classification_last"))
    assert "net" not in loaded.hparams
    assert loaded.options == module.options == OptimizerOptions(name="sgd", lr=0.02)
    assert loaded.hparams["optimizer"]["lr"] == 0.02  # plain values in the checkpoint
    module.eval()
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(data.x), module.cpu()(data.x))


def test_gradient_norm_and_clipping_are_logged_per_epoch() -> None:
    torch.manual_seed(0)
    data = _data("regression_last")
    loose = _module("regression_last", grad_clip=1e6)
    trainer = _trainer()
    trainer.fit(loose, TensorLoader(data, 5), TensorLoader(data, 5))
    norm = float(trainer.callback_metrics["train_grad_norm"])
    assert norm > 0 and float(trainer.callback_metrics["train_clip_frac"]) == 0.0
    tight = _module("regression_last", grad_clip=1e-9)  # every step's norm exceeds this
    trainer = _trainer()
    trainer.fit(tight, TensorLoader(data, 5), TensorLoader(data, 5))
    assert float(trainer.callback_metrics["train_clip_frac"]) == 1.0


def test_a_training_step_really_clips() -> None:
    torch.manual_seed(0)
    module = _module("regression_last", name="sgd", lr=1.0, momentum=0.0, grad_clip=1e-3)
    data = _data("regression_last")
    before = torch.cat([p.detach().flatten().clone() for p in module.parameters()])
    trainer = _trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(module, TensorLoader(data, len(data)))
    after = torch.cat([p.detach().flatten() for p in module.parameters()])
    # plain SGD with lr 1 moves the weights by exactly the clipped gradient
    assert (after - before).norm() == pytest.approx(1e-3, rel=1e-3)


def test_no_clip_value_still_logs_the_norm() -> None:
    torch.manual_seed(0)
    data = _data("classification_last")
    trainer = _trainer()
    module = _module("classification_last", grad_clip=None)
    trainer.fit(module, TensorLoader(data, 5), TensorLoader(data, 5))
    assert float(trainer.callback_metrics["train_grad_norm"]) > 0
    assert "train_clip_frac" not in trainer.callback_metrics


@pytest.mark.parametrize(
    ("mode", "scaled"),
    [(mode, False) for mode in MODES] + [("regression_last", True), ("regression_every", True)],
)
def test_metric_names_are_exactly_what_the_module_logs(mode: str, scaled: bool) -> None:
    from models.metrics import metric_names

    task = "regression" if mode.startswith("regression") else "classification"
    std = (2.0,) * OUTPUTS if scaled else None
    torch.manual_seed(0)
    net = _net(mode)
    module = SequenceModule(
        net,
        task=task,
        every_step=net.every_step,
        target_mean=(0.0,) * OUTPUTS if scaled else None,
        target_std=std,
    )
    data = _data(mode)
    trainer = _trainer(max_epochs=1)
    trainer.fit(module, TensorLoader(data, 5), TensorLoader(data, 5))
    logged = {k for k in trainer.callback_metrics if k.startswith("val_")}
    assert logged == set(metric_names(task, every_step=net.every_step, standardised=scaled))


# --- one Lightning step per epoch (models/epochs.py) ---------------------------------------


@pytest.mark.parametrize("mode", ["regression_every", "classification_last"])
def test_whole_epochs_as_steps_train_exactly_as_lightnings_batch_loop(mode: str) -> None:
    data = _data(mode, n=23, variable=mode.endswith("every"))  # uneven last batch
    got = []
    for whole in (False, True):
        torch.manual_seed(0)
        module = _module(mode)
        train, val = TensorLoader(data, 5, shuffle=True, seed=3), TensorLoader(data, 5)
        trainer = _trainer(max_epochs=3)
        if whole:
            trainer.fit(module, EpochLoader(Epoch(train)), EpochLoader(Epoch(val)))
        else:
            trainer.fit(module, train, val)
        weights = torch.cat([p.detach().flatten() for p in module.parameters()])
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        got.append((weights, metrics, trainer.global_step))
    (batch_w, batch_m, batch_steps), (epoch_w, epoch_m, epoch_steps) = got
    assert torch.equal(batch_w, epoch_w)
    assert batch_m == epoch_m
    assert batch_steps == epoch_steps == 3 * 5  # optimizer steps: 5 batches a epoch


def test_an_epoch_stops_at_its_limit_and_runs_after_batch_after_each() -> None:
    batches = [(torch.full((1,), float(i)),) for i in range(5)]
    after: list[int] = []
    epoch = Epoch(batches, limit=3, after_batch=lambda: after.append(1))
    assert [int(b[0]) for b in epoch] == [0, 1, 2] and len(after) == 3
    assert len(list(Epoch(batches))) == 5 and len(EpochLoader(Epoch(batches))) == 1
    with pytest.raises(ValueError, match="limit must be >= 1"):
        Epoch(batches, limit=0)


def test_a_stop_raised_after_a_batch_ends_the_epoch_there() -> None:
    class Stop(Exception):
        pass

    def stop() -> None:  # as the sweep's stop check raises (KeyboardInterrupt, which Lightning
        raise Stop  # turns into SystemExit and a SIGINT set to ignore: not in a test process)

    data = _data("regression_last", n=20)
    torch.manual_seed(0)
    module = _module("regression_last", name="sgd", lr=0.1, momentum=0.0)
    before = torch.cat([p.detach().flatten().clone() for p in module.parameters()])
    with pytest.raises(Stop):
        _trainer(max_epochs=1).fit(
            module, EpochLoader(Epoch(TensorLoader(data, 5), after_batch=stop))
        )
    # Exactly one batch was trained: the weights are those of one plain step on the first.
    torch.manual_seed(0)
    plain = _module("regression_last", name="sgd", lr=0.1, momentum=0.0)
    loss, _ = plain._score(next(iter(TensorLoader(data, 5))), full=False)
    loss.backward()  # type: ignore[no-untyped-call]
    torch.nn.utils.clip_grad_norm_(plain.parameters(), 1.0)
    torch.optim.SGD(plain.parameters(), lr=0.1).step()
    after = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert torch.allclose(after, torch.cat([p.detach().flatten() for p in plain.parameters()]))
    assert not torch.allclose(after, before)
