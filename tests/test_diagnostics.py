"""Diagnostics: gate statistics, spectral radii and the gradient over time, and their logging."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import optuna
import pytest
import pytorch_lightning as pl
import torch
from conftest import tiny_raw
from optuna.trial import TrialState

from datamodules.lightning import LightningData
from datamodules.synthetic import AddingDataModule
from models.diagnostics import ProbeTwin, memory_timescale
from models.lit_module import SequenceModule
from models.options import NetOptions, probe_due
from models.recurrent import RecurrentNet
from sweeps.config.schema import validate
from sweeps.errors import ConfigError
from sweeps.train.callbacks import EpochCurves
from sweeps.train.diagnosis import INITIAL, DiagnosticsLog

SEQ = 12


def _batch(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(n, SEQ, 2), torch.rand(n, 1)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_diagnosis_names_and_ranges(cell: str, num_layers: int) -> None:
    net = RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=6, num_layers=num_layers))
    found = ProbeTwin(net).diagnose(net, _batch(), "regression")
    layers = [f"l{k}" for k in range(num_layers)]
    assert list(found.grad_over_time) == layers
    assert all(len(curve) == SEQ for curve in found.grad_over_time.values())
    m = found.metrics
    blocks = {"rnn": [""], "lstm": list("ifgo"), "peephole": list("ifgo"), "gru": list("rzn")}
    for layer in layers:
        for block in blocks[cell]:
            assert m[f"diag.{layer}.rho{'.' + block if block else ''}"] > 0
        gates = {"rnn": "", "lstm": "ifo", "peephole": "ifo", "gru": "rz"}[cell]
        for gate in gates:
            assert 0 < m[f"diag.{layer}.{gate}.mean"] < 1
            assert 0 <= m[f"diag.{layer}.{gate}.sat"] <= 1
        assert (f"diag.{layer}.timescale" in m) == (cell != "rnn")
        assert m[f"diag.{layer}.grad_first_last"] > 0
    assert m["diag.grad_first_last"] == m["diag.l0.grad_first_last"]


def test_spectral_radius_is_that_of_the_fused_weights() -> None:
    net = RecurrentNet(2, 1, NetOptions(cell="rnn", hidden_size=5))
    with torch.no_grad():
        net.rnn.weight_hh_l0.copy_(torch.diag(torch.tensor([0.3, -0.9, 0.5, 0.1, 0.2])))
    assert ProbeTwin(net).diagnose(net, _batch(), "regression").metrics[
        "diag.l0.rho"
    ] == pytest.approx(0.9)


def test_last_step_gradient_is_the_heads_backward() -> None:
    net = RecurrentNet(2, 1, NetOptions(cell="gru", hidden_size=5))
    x, y = _batch()
    found = ProbeTwin(net).diagnose(net, (x, y), "regression")
    h_last = net.rnn(x)[1][-1].detach().requires_grad_()
    loss = (net.head(h_last) - y).pow(2).mean()  # dropout is off: the twin is in eval mode
    (grad,) = torch.autograd.grad(loss, h_last)
    assert found.grad_over_time["l0"][-1] == pytest.approx(float(grad.norm()), rel=1e-4)


def test_small_recurrent_weights_make_the_gradient_vanish() -> None:
    ratios = {}
    for scale in (0.1, 1.0):
        net = RecurrentNet(2, 1, NetOptions(cell="rnn", hidden_size=8))
        with torch.no_grad():
            net.rnn.weight_hh_l0.copy_(scale * torch.eye(8))
            net.rnn.weight_ih_l0.mul_(0.1)  # small inputs: tanh stays near linear
        ratios[scale] = (
            ProbeTwin(net).diagnose(net, _batch(), "regression").metrics["diag.grad_first_last"]
        )
    assert ratios[0.1] < 1e-8 and ratios[1.0] > 0.05  # about 0.1^11 against tanh' ^ 11


def test_memory_timescale_of_a_keep_gate() -> None:
    assert memory_timescale(torch.tensor([0.9, 0.9])) == pytest.approx(-1 / math.log(0.9))


class _Client:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def log_artifact(self, run_id: str, path: str, artifact_path: str) -> None:
        (self.folder / artifact_path).mkdir(exist_ok=True)
        shutil.copy(path, self.folder / artifact_path)


class _Run:
    """The slice of TrialRun the callbacks use: per-epoch metrics and artifacts."""

    def __init__(self, folder: Path) -> None:
        self.run_id, self.client = "r", _Client(folder)
        self.epochs: dict[int, dict[str, float]] = {}
        self.calls: list[tuple[int, set[str]]] = []  # one per epoch sent: epoch, names

    def log_epoch(self, metrics: dict[str, float], *, epoch: int) -> None:
        self.epochs[epoch] = {**self.epochs.get(epoch, {}), **metrics}
        self.calls.append((epoch, set(metrics)))

    def log_epochs(self, epochs: list[tuple[int, dict[str, float], int]]) -> None:
        for epoch, metrics, _ in epochs:  # several epochs in one MLflow batch, each its own record
            self.log_epoch(metrics, epoch=epoch)


class _StopAfter(pl.Callback):
    """Stops training after an epoch's validation, as early stopping or a stop request does."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


def _fit(callbacks: list[pl.Callback], max_epochs: int = 2, **options: Any) -> SequenceModule:
    pl.seed_everything(0, verbose=False)
    dm = AddingDataModule(seq_len=SEQ, batch_size=32, n_train=128, n_val=64, n_test=64)
    dm.setup("fit")
    module = SequenceModule(
        RecurrentNet(2, 1, NetOptions(cell="lstm", hidden_size=6, **options), steps=SEQ),
        task="regression",
    )
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
    )
    trainer.fit(module, datamodule=LightningData(dm))
    return module


def test_callback_logs_probed_epochs_and_saves_artifacts_without_changing_training(
    tmp_path: Path,
) -> None:
    run: Any = _Run(tmp_path)
    probed = _fit([DiagnosticsLog(run, plot=True)])
    plain = _fit([])
    for a, b in zip(probed.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)  # the probe draws no random numbers and touches no weight
    assert sorted(run.epochs) == [INITIAL, 0, 1]
    assert {"diag.l0.f.mean", "diag.l0.timescale", "diag.l0.rho.f"} <= set(run.epochs[1])
    data = json.loads((tmp_path / "diagnostics" / "grad_over_time.json").read_text())
    assert data["epochs"] == [INITIAL, 0, 1] and len(data["curves"]["l0"][1]) == SEQ
    assert (tmp_path / "diagnostics" / "grad_over_time.png").stat().st_size > 1000


def test_probe_schedule_is_log_spaced_or_every_nth() -> None:
    def due(diagnostics: bool | int | str) -> list[int]:
        return [e for e in range(40) if probe_due(e, diagnostics)]

    assert due(True) == due("log") == [0, 1, 2, 4, 8, 16, 32]
    assert due(1) == list(range(40))
    assert due(10) == [0, 10, 20, 30]
    assert due(False) == []


@pytest.mark.parametrize(
    ("every", "stop", "probed", "alone"),
    [
        ("log", None, [0, 1, 2, 4, 6], []),  # epoch 6 is the last of 7
        (3, None, [0, 3, 6], []),
        (4, None, [0, 4, 6], []),
        ("log", 4, [0, 1, 2, 4], []),  # stopped on a probed epoch: no second probe
        (True, 5, [0, 1, 2, 4, 5], [5]),  # stopped early: the last epoch probed at train end
    ],
)
def test_probed_epochs_follow_the_schedule_and_end_on_the_last(
    tmp_path: Path, every: bool | int | str, stop: int | None, probed: list[int], alone: list[int]
) -> None:
    run: Any = _Run(tmp_path)
    sink = EpochCurves(run, every_s=2.0)
    stops = [] if stop is None else [_StopAfter(stop)]
    _fit([sink, DiagnosticsLog(run, every=every, sink=sink), *stops], max_epochs=7)
    assert sorted(run.epochs) == [INITIAL, *range(7 if stop is None else stop + 1)]
    diag = [epoch for epoch, names in run.calls if "diag.l0.f.mean" in names]
    assert diag == [INITIAL, *probed]  # each at its own epoch, as MLflow steps
    # In the epoch's own batch, unless the probe ran before training or at train end.
    assert [epoch for epoch, names in run.calls if "val_loss" not in names] == [INITIAL, *alone]
    data = json.loads((tmp_path / "diagnostics" / "grad_over_time.json").read_text())
    assert data["epochs"] == [INITIAL, *probed]
    assert len(data["curves"]["l0"]) == len(probed) + 1


@pytest.mark.parametrize(
    ("init", "keep"), [("torch", (0.3, 0.7)), ("forget_bias", (0.8, 0.95)), ("chrono", (0.6, 1))]
)
def test_the_initial_probe_shows_what_the_init_gave_the_cell(
    tmp_path: Path, init: str, keep: tuple[float, float]
) -> None:
    """Before the first update, the forget gate's mean is about sigmoid(effective bias)."""
    run: Any = _Run(tmp_path)
    options = {"init": init} | ({"forget_bias": 2.0} if init == "forget_bias" else {})
    _fit([DiagnosticsLog(run)], max_epochs=1, **options)
    first = run.calls[0]
    assert first[0] == INITIAL
    mean = run.epochs[INITIAL]["diag.l0.f.mean"]
    assert keep[0] < mean < keep[1]
    if init != "torch":  # a longer memory than torch's half-life of about a step
        assert run.epochs[INITIAL]["diag.l0.timescale"] > 3


def test_a_resumed_trial_is_not_probed_before_its_first_update(tmp_path: Path) -> None:
    class Resumed(pl.Callback):
        def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            trainer.fit_loop.epoch_progress.current.completed = 1  # as a restored checkpoint

    run: Any = _Run(tmp_path)
    _fit([Resumed(), DiagnosticsLog(run)], max_epochs=3)
    assert INITIAL not in run.epochs and run.epochs


@pytest.mark.parametrize("bad", ["4", 0, -2, 2.5, "every", None])
def test_a_bad_probe_schedule_is_a_one_line_error(bad: object) -> None:
    raw = tiny_raw()
    raw["trainer"]["diagnostics"] = bad
    with pytest.raises(ConfigError) as info:
        validate(raw)
    message = str(info.value)
    assert message.startswith("trainer.diagnostics must be") and "\n" not in message
    assert repr(bad) in message
    with pytest.raises(ValueError, match="trainer.diagnostics must be"):
        DiagnosticsLog(_Run(Path()), every=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("good", [True, False, "log", 1, 5])
def test_probe_schedules_that_validate(good: bool | int | str) -> None:
    raw = tiny_raw()
    raw["trainer"]["diagnostics"] = good
    assert validate(raw).trainer.diagnostics == good


@pytest.mark.slow
def test_sweep_child_runs_carry_diag_metrics_and_artifacts(workdir: Path) -> None:
    from mlflow import MlflowClient

    from sweeps.config.schema import validate
    from sweeps.runner.coordinator import run_sweep

    raw = tiny_raw()
    raw["search"]["n_trials"] = 4  # 4 trials, 3 cells: at least one trial is not its cell's best
    raw["trainer"]["diagnostics"] = 2  # epochs 0 and 2 of 3: MLflow steps are the probed epochs
    config = validate(raw)
    summary = run_sweep(config, storage=f"sqlite:///{workdir / 'optuna.db'}", report=print)
    client = MlflowClient(summary.tracking_uri)
    children = client.search_runs(
        [client.get_run(summary.parent_run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{summary.parent_run_id}'",
    )
    assert len(children) == 4
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{workdir / 'optuna.db'}")
    best_of_cell: dict[str, Any] = {}
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        cell = t.params["model.cell"]
        if cell not in best_of_cell or t.value < best_of_cell[cell].value:
            best_of_cell[cell] = t
    drawn = {t.user_attrs["mlflow_run_id"] for t in best_of_cell.values()}
    assert 0 < len(drawn) < 4  # drawn once per sweep, for each cell's best trial only
    for child in children:
        assert "diag.grad_first_last" in child.data.metrics
        steps = client.get_metric_history(
            child.info.run_id,
            "diag.l0.rho" if child.data.params["model.cell"] == "rnn" else "diag.grad_first_last",
        )
        # Before the first update and after the last epoch always; epoch 0, scheduled, only
        # while the probes keep within their share of the trial's time (the test below).
        probed = sorted(m.step for m in steps)
        assert probed[0] == INITIAL and probed[-1] == 2 and set(probed) <= {INITIAL, 0, 2}
        names = {a.path for a in client.list_artifacts(child.info.run_id, "diagnostics")}
        figure = {"diagnostics/grad_over_time.png"} if child.info.run_id in drawn else set()
        assert names == {"diagnostics/grad_over_time.json"} | figure


class _Clock(pl.Callback):
    """A fake clock: each epoch takes 1 s, and each probe the seconds `probe_s` says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.now += 1.0


def test_probes_keep_within_their_budget_of_the_trials_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    diagnose = ProbeTwin.diagnose

    def slow(self: ProbeTwin, *args: Any, **kwargs: Any) -> Any:
        clock.now += 0.2  # each probe: a fifth of an epoch
        return diagnose(self, *args, **kwargs)

    monkeypatch.setattr(ProbeTwin, "diagnose", slow)
    run: Any = _Run(tmp_path)
    log = DiagnosticsLog(run, every="log", budget=0.05, clock=clock)
    _fit([clock, log], max_epochs=20)
    # The schedule is 0, 1, 2, 4, 8, 16: two probes (0.4 s) fit in 5% of the time only from
    # about 8 s in, and three from about 12 s; the first and the last always run.
    assert log.epochs == [INITIAL, 8, 16, 19]
    assert 0.2 * (len(log.epochs) - 2) <= 0.05 * clock.now
