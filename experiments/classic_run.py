"""One training run of `make classic`: a cell, an initialisation, a task, a length and a seed.

The platform's own network, initialisations, data and diagnostics probe, trained in a plain loop
(Adam, gradient clipping at 1, batches of 64) that evaluates the whole validation split every
EVAL_EVERY updates, so the number of updates until a run solves the task is known to that
resolution. A run stops at its budget, or once its validation loss is a tenth of the solved
threshold: past that point further updates only polish a solution, and the table reports when
it was solved, not how far it was polished.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from datamodules.base import SequenceDataModule, TensorLoader
from datamodules.synthetic import AddingDataModule, CopyMemoryDataModule
from models.diagnostics import ProbeTwin, probe_loss
from models.options import NetOptions
from models.recurrent import RecurrentNet, count_parameters

EVAL_EVERY = 32  # updates between validations: one pass over N_TRAIN sequences
BATCH = 64
N_TRAIN, N_VAL, PROBE = 2048, 256, 64
COPY_LEN, N_SYMBOLS = 10, 8  # copy memory as in Arjovsky et al. 2016

# The cells compared: model.* options of each (model.init as named in models/options.py).
VARIANTS: dict[str, dict[str, Any]] = {
    "rnn": {"cell": "rnn", "init": "torch"},
    "irnn": {"cell": "rnn", "nonlinearity": "relu", "init": "identity"},
    "lstm": {"cell": "lstm", "init": "torch"},
    "lstm_forget_bias": {"cell": "lstm", "init": "forget_bias"},
    "lstm_chrono": {"cell": "lstm", "init": "chrono"},
    "gru": {"cell": "gru", "init": "torch"},
}


@dataclass(frozen=True)
class Job:
    """One run: `task` adding or copy, `length` T (the copy task's delay), its update budget."""

    task: str
    length: int
    variant: str
    seed: int
    updates: int
    params: int
    lr: float
    batch: int = BATCH
    n_train: int = N_TRAIN

    @property
    def name(self) -> str:
        return f"{self.task} T={self.length} {self.variant} seed {self.seed}"


def datamodule(job: Job) -> SequenceDataModule:
    sizes = {"n_train": job.n_train, "n_val": N_VAL, "n_test": BATCH}
    if job.task == "adding":
        return AddingDataModule(seq_len=job.length, batch_size=job.batch, seed=job.seed, **sizes)
    return CopyMemoryDataModule(
        seq_len=job.length,
        batch_size=job.batch,
        seed=job.seed,
        copy_len=COPY_LEN,
        n_symbols=N_SYMBOLS,
        scored="all",
        **sizes,
    )


def baseline(job: Job) -> float:
    """The memoryless loss: 1/6 for adding (predict 1), 10 ln 8 / (T + 20) for copy."""
    return float(datamodule(job).splits.spec.baselines["val_loss"])


def solved_below(job: Job) -> float:
    """Adding: MSE < 0.01, the two marked numbers really added. Copy: a tenth of the baseline."""
    return 0.01 if job.task == "adding" else 0.1 * baseline(job)


def build(job: Job) -> tuple[RecurrentNet, SequenceDataModule]:
    data = datamodule(job)
    splits = data.splits
    spec = splits.spec
    torch.manual_seed(job.seed)
    options = NetOptions(**VARIANTS[job.variant], match_params=job.params)
    net = RecurrentNet(
        spec.n_inputs,
        spec.n_outputs,
        options,
        vocab_size=spec.vocab_size,
        every_step=spec.every_step,
        steps=splits.train.x.shape[1],
    )
    return net, data


def run(job: Job) -> dict[str, Any]:
    """Train one job; its curve, when it solved, and the probes at log-spaced updates."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    net, data = build(job)
    splits, task = data.splits, data.splits.spec.task
    val = splits.val.tensors()
    probe_batch = tuple(t[:PROBE] for t in val)
    twin = ProbeTwin(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=job.lr)
    threshold = solved_below(job)
    probes = [_probe(twin, net, probe_batch, task, 0)]
    curve: list[tuple[int, float]] = []
    solved_at: int | None = None
    updates, done, diverged_at = 0, False, None
    loader = TensorLoader(splits.train, job.batch, shuffle=True, seed=job.seed)
    while not done:
        for x, y in loader:
            net.train()
            loss = probe_loss(task, net(x), y, None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            updates += 1
            if updates % EVAL_EVERY and updates < job.updates:
                continue
            value = _validate(net, val, task)
            if not math.isfinite(value):  # diverged: the weights are inf or NaN from here on
                diverged_at = updates
                break
            curve.append((updates, value))
            if solved_at is None and value < threshold:
                solved_at = updates
            done = updates >= job.updates or value < threshold / 10
            if updates & (updates - 1) == 0 or done:  # log-spaced, and the end
                probes.append(_probe(twin, net, probe_batch, task, updates))
            if done:
                break
        done = done or diverged_at is not None
    best = min((v for _, v in curve), default=math.inf)
    hidden = net.hidden_size
    return {
        **asdict(job),
        "hidden": hidden,
        "n_parameters": count_parameters(net),
        "baseline": baseline(job),
        "solved_below": threshold,
        "best": best,
        "final": curve[-1][1] if curve else math.inf,
        "solved_at": solved_at,
        "diverged_at": diverged_at,
        "updates_run": updates,
        "seconds": time.perf_counter() - started,
        "curve": curve,
        "probes": probes,
    }


def _validate(net: RecurrentNet, val: tuple[torch.Tensor, ...], task: str) -> float:
    net.eval()
    with torch.no_grad():
        return float(probe_loss(task, net(val[0]), val[1], None))


def _probe(
    twin: ProbeTwin, net: RecurrentNet, batch: tuple[torch.Tensor, ...], task: str, update: int
) -> dict[str, Any]:
    """The memory time scale, keep-gate mean and ||dLoss/dh_t|| over t, at this update."""
    found = twin.diagnose(net, batch, task)
    metrics = found.metrics
    return {
        "update": update,
        "timescale": metrics.get("diag.l0.timescale"),
        "keep": metrics.get("diag.l0.f.mean", metrics.get("diag.l0.z.mean")),
        "grad_first_last": metrics.get("diag.grad_first_last"),
        "grad": found.grad_over_time["l0"],
    }
