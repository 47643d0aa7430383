"""The classic result in one command: gated cells learn the adding problem, a vanilla RNN does not.

For each length T and seed, one real sweep on the platform: a grid over `model.cell` (rnn, lstm,
gru) and `optimizer.lr`, so every cell gets the same search budget at every length. Every cell
has about N parameters (`model.match_params`), so "LSTM beat RNN" does not mean "LSTM had 4x
the weights". No pruning: the loss sits on the 0.167 plateau before it drops, and pruning would
kill exactly the late bloomers this experiment is about. Every trial logs its diagnostics.

Writes, under --out: classic.md (the table), classic.json (every trial), classic_mse.png (best
MSE against T per cell, with the baseline) and classic_grad.png (||dLoss/dh_t|| over time per
cell, from each cell's best trial). The stores (optuna.db, mlflow.db) go under --work.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import torch
from mlflow import MlflowClient

from models.options import NetOptions
from sweeps.config.schema import validate
from sweeps.keys import RUN_ATTR
from sweeps.run.coordinator import run_sweep
from sweeps.search.ranking import trial_value

CELLS = ("rnn", "lstm", "gru")
BASELINE = 1.0 / 6.0  # predicting the mean 1: var(U1 + U2)
SOLVED = 0.01  # an MSE this low means the two marked numbers were really added
FULL = {
    "lengths": [50, 100, 200],
    "seeds": [0, 1, 2],
    "lrs": [3e-3, 1e-2],
    "epochs": 15,
    "n_train": 2000,
    "params": 3000,
}
QUICK = {
    "lengths": [8, 12],
    "seeds": [0],
    "lrs": [1e-2],
    "epochs": 2,
    "n_train": 128,
    "params": 300,
}


def study_config(budget: dict[str, Any], length: int, seed: int, work: Path) -> dict[str, Any]:
    """One length and seed: a grid over cell x lr, matched parameter counts, no pruning."""
    return {
        "name": "classic",
        "seed": seed,
        "data": {
            "name": "adding",
            "seq_len": length,
            "batch_size": 64,
            "n_train": budget["n_train"],
            "n_val": 500,
            "n_test": 500,
        },
        "model": {"cell": "lstm", "match_params": budget["params"]},
        "optimizer": {"name": "adam", "lr": 3e-3, "grad_clip": 1.0},
        "trainer": {"max_epochs": budget["epochs"]},
        "search": {
            "metric": "val_loss",
            "n_trials": len(CELLS) * len(budget["lrs"]),
            "sampler": {"name": "grid", "seed": seed},
            "pruner": {"name": "none"},
            "space": {
                "model.cell": {"type": "categorical", "choices": list(CELLS)},
                "optimizer.lr": {"type": "categorical", "choices": budget["lrs"]},
            },
        },
        "storage": f"sqlite:///{work / 'optuna.db'}",
        "tracking": {"uri": f"sqlite:///{work / 'mlflow.db'}"},
    }


def _say(line: str) -> None:
    print(line, flush=True)


def run_all(budget: dict[str, Any], work: Path) -> list[dict[str, Any]]:
    """Every (length, seed) sweep; one row per trial."""
    rows = []
    for seed in budget["seeds"]:  # whole seeds first: a cut-short run still has full tables
        for length in budget["lengths"]:
            config = validate(study_config(budget, length, seed, work))
            name = f"classic-T{length}-s{seed}"
            summary = run_sweep(
                config, study_name=name, report=lambda line: print(line, flush=True)
            )
            study = optuna.load_study(study_name=name, storage=config.storage)
            for t in study.get_trials(deepcopy=False):
                value = trial_value(t, maximize=False)
                rows.append(
                    {
                        "T": length,
                        "seed": seed,
                        "cell": t.params["model.cell"],
                        "lr": t.params["optimizer.lr"],
                        "state": t.state.name,
                        "mse": value,
                        "run_id": t.user_attrs.get(RUN_ATTR),
                        "n_parameters": t.user_attrs.get("n_parameters"),
                    }
                )
            print(f"T={length} seed={seed}: {summary.counts}", flush=True)
    return rows


def best_per_seed(rows: list[dict[str, Any]], length: int, cell: str) -> list[dict[str, Any]]:
    """For each seed, the cell's best trial over the lr grid (its equal search budget)."""
    out = []
    for seed in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if (r["T"], r["cell"], r["seed"]) == (length, cell, seed)]
        done = [r for r in mine if r["mse"] is not None]
        if done:
            out.append(min(done, key=lambda r: r["mse"]))
    return out


def table(rows: list[dict[str, Any]], sizes: dict[str, tuple[int, int]]) -> str:
    """Markdown: per T and cell, median best MSE over seeds [min, max] and seeds solved."""
    head = "| T | " + " | ".join(f"{c} (h={sizes[c][0]}, {sizes[c][1]} params)" for c in CELLS)
    lines = [head + " |", "| --- |" + " --- |" * len(CELLS)]
    for length in sorted({r["T"] for r in rows}):
        cells = []
        for cell in CELLS:
            best = [r["mse"] for r in best_per_seed(rows, length, cell)]
            if not best:
                cells.append("-")
                continue
            solved = sum(v < SOLVED for v in best)
            cells.append(
                f"{statistics.median(best):.3g} [{min(best):.2g}, {max(best):.2g}], "
                f"{solved}/{len(best)} solved"
            )
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_mse(rows: list[dict[str, Any]], path: Path) -> None:
    """Best validation MSE against T per cell: median over seeds, bars from min to max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    lengths = sorted({r["T"] for r in rows})
    for cell in CELLS:
        best = [[r["mse"] for r in best_per_seed(rows, t, cell)] for t in lengths]
        med = [statistics.median(b) for b in best]
        low = [m - min(b) for m, b in zip(med, best, strict=True)]
        high = [max(b) - m for m, b in zip(med, best, strict=True)]
        ax.errorbar(lengths, med, yerr=[low, high], marker="o", capsize=4, label=cell)
    ax.axhline(BASELINE, color="grey", linestyle="--", label="baseline 0.167 (predict 1)")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("best validation MSE")
    ax.set_title("Adding problem, matched parameter counts")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_gradients(rows: list[dict[str, Any]], work: Path, path: Path) -> dict[str, Any]:
    """Per length, each cell's best trial: ||dLoss/dh_t|| at its first and last epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    lengths = sorted({r["T"] for r in rows})
    fig, axes = plt.subplots(1, len(lengths), figsize=(5 * len(lengths), 3.8), squeeze=False)
    curves: dict[str, Any] = {}
    for ax, length in zip(axes[0], lengths, strict=True):
        for i, cell in enumerate(CELLS):
            best = min(best_per_seed(rows, length, cell), key=lambda r: r["mse"], default=None)
            if best is None or best["run_id"] is None:
                continue
            with tempfile.TemporaryDirectory() as folder:
                local = client.download_artifacts(
                    best["run_id"], "diagnostics/grad_over_time.json", folder
                )
                data = json.loads(Path(local).read_text())
            first, last = data["curves"]["l0"][0], data["curves"]["l0"][-1]
            curves[f"T{length}.{cell}"] = {"first_epoch": first, "last_epoch": last}
            color = f"C{i}"
            ax.plot(last, color=color, label=f"{cell}, trained (MSE {best['mse']:.2g})")
            ax.plot(first, color=color, linestyle=":", label=f"{cell}, after epoch 0")
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.set_ylabel("||dLoss/dh_t||")
        ax.set_title(f"T = {length}: gradient reaching each step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return curves


def sizes_of(params: int) -> dict[str, tuple[int, int]]:
    """Each cell's matched hidden size and parameter count on the adding data (2 in, 1 out)."""
    from models.recurrent import RecurrentNet, count_parameters

    out = {}
    for cell in CELLS:
        net = RecurrentNet(2, 1, NetOptions(cell=cell, match_params=params))
        out[cell] = (net.hidden_size, count_parameters(net))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/results"))
    parser.add_argument("--work", type=Path, default=Path("experiments/classic-stores"))
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--seeds", type=int, help="use only the first N seeds")
    args = parser.parse_args(argv)
    budget = dict(QUICK if args.quick else FULL)
    if args.seeds is not None:
        budget["seeds"] = budget["seeds"][: args.seeds]
    # One thread: measured here, two threads on a busy 2-core machine made each step 30x
    # slower (OpenMP threads spin waiting for each other), and these models are too small
    # to gain from a second thread anyway.
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()  # the wall time means little without the machine's load
    started = time.perf_counter()
    rows = run_all(budget, args.work.resolve())
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    sizes = sizes_of(budget["params"])
    markdown = table(rows, sizes)
    plot_mse(rows, args.out / "classic_mse.png")
    curves = plot_gradients(rows, args.work.resolve(), args.out / "classic_grad.png")
    (args.out / "classic.md").write_text(markdown + "\n")
    record = {
        "budget": budget,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
        "sizes": sizes,
        "trials": rows,
        "grad_over_time": curves,
    }
    (args.out / "classic.json").write_text(json.dumps(record, indent=1))
    print(markdown)
    print(
        f"wall time {seconds / 60:.1f} min on {os.cpu_count()} cores; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
