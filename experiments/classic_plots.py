"""The figures of `make classic`, from its runs (experiments/classic_run.py's records)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

ORDER = ("rnn", "irnn", "lstm", "lstm_forget_bias", "lstm_chrono", "gru")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _by(runs: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in runs if all(r[k] == v for k, v in match.items())]


def plot_all(runs: list[dict[str, Any]], out: Path, stem: str = "classic") -> None:
    """<stem>_solve.png, _mse.png, _grad.png and _timescale.png (the last for gated cells)."""
    adding = _by(runs, task="adding")
    if adding:
        plot_solve(adding, out / f"{stem}_solve.png")
        plot_mse(adding, out / f"{stem}_mse.png")
        plot_grad(adding, out / f"{stem}_grad.png")
    if any(r["probes"][0]["timescale"] is not None for r in runs):
        plot_timescale(runs, out / f"{stem}_timescale.png")


def plot_solve(runs: list[dict[str, Any]], path: Path) -> None:
    """Updates until solved against T per cell: median over seeds, each seed a dot; a run that
    did not solve is drawn at its budget with an open marker."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    lengths = sorted({r["length"] for r in runs})
    budgets = [_by(runs, length=t)[0]["updates"] for t in lengths]
    ax.plot(lengths, budgets, color="grey", linestyle="--", label="budget")
    for i, variant in enumerate(ORDER):
        color, xs, medians = f"C{i}", [], []
        for t in lengths:
            mine = _by(runs, length=t, variant=variant)
            if not mine:
                continue
            jitter = (i - len(ORDER) / 2) * 0.6
            for r in mine:
                solved = r["solved_at"] is not None
                y = r["solved_at"] if solved else r["updates"]
                ax.plot(t + jitter, y, "o" if solved else "x", color=color, alpha=0.6)
            done = [r["solved_at"] for r in mine if r["solved_at"] is not None]
            if 2 * len(done) > len(mine):  # a median exists only if most seeds solved
                xs.append(t + jitter)
                medians.append(statistics.median(done))
        ax.plot(xs, medians, "-", color=color, label=variant)
    title = "Adding problem: updates to solve (x: not within the budget)"
    _label(ax, "sequence length T", "updates until val MSE < 0.01", title)
    _save(plt, fig, path)


def plot_mse(runs: list[dict[str, Any]], path: Path) -> None:
    """Best validation MSE against T per cell: median over seeds, bars from min to max."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    lengths = sorted({r["length"] for r in runs})
    for variant in ORDER:
        best = [[r["best"] for r in _by(runs, length=t, variant=variant)] for t in lengths]
        if not all(best):
            continue
        med = [statistics.median(b) for b in best]
        low = [m - min(b) for m, b in zip(med, best, strict=True)]
        high = [max(b) - m for m, b in zip(med, best, strict=True)]
        ax.errorbar(lengths, med, yerr=[low, high], marker="o", capsize=3, label=variant)
    ax.axhline(1 / 6, color="grey", linestyle="--", label="baseline 1/6 (predict 1)")
    ax.axhline(0.01, color="grey", linestyle=":", label="solved below 0.01")
    ax.set_yscale("log")
    title = "Adding problem, matched parameter counts"
    _label(ax, "sequence length T", "best validation MSE", title)
    _save(plt, fig, path)


def plot_grad(runs: list[dict[str, Any]], path: Path) -> None:
    """Per T, seed 0's ||dLoss/dh_t|| over t per cell: before training (dotted), at the end."""
    plt = _pyplot()
    lengths = sorted({r["length"] for r in runs})
    fig, axes = plt.subplots(1, len(lengths), figsize=(5 * len(lengths), 3.8), squeeze=False)
    for ax, length in zip(axes[0], lengths, strict=True):
        for i, variant in enumerate(ORDER):
            mine = sorted(_by(runs, length=length, variant=variant), key=lambda r: r["seed"])
            if not mine:
                continue
            first, last = mine[0]["probes"][0], mine[0]["probes"][-1]
            color = f"C{i}"
            ax.plot(_floor(first["grad"]), color=color, linestyle=":")
            ax.plot(_floor(last["grad"]), color=color, label=f"{variant} (update {last['update']})")
        ax.set_yscale("log")
        _label(ax, "time step t", "||dLoss/dh_t||", f"T = {length}: start dotted, end solid")
    _save(plt, fig, path)


def plot_timescale(runs: list[dict[str, Any]], path: Path) -> None:
    """The memory time scale (median over units of -1/ln k) against updates, seed 0, for the
    gated cells: the longest adding length, and copy memory."""
    plt = _pyplot()
    panels = []
    adding = _by(runs, task="adding")
    if adding:
        panels.append(("adding", max(r["length"] for r in adding)))
    if _by(runs, task="copy"):
        panels.append(("copy", _by(runs, task="copy")[0]["length"]))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(6 * len(panels), 3.8), squeeze=False)
    for ax, (task, length) in zip(axes[0], panels, strict=False):
        for i, variant in enumerate(ORDER):
            mine = sorted(
                _by(runs, task=task, length=length, variant=variant), key=lambda r: r["seed"]
            )
            if not mine or mine[0]["probes"][0]["timescale"] is None:
                continue
            probes = mine[0]["probes"]
            xs = [max(p["update"], 1) for p in probes]
            ax.plot(xs, [p["timescale"] for p in probes], "o-", color=f"C{i}", label=variant)
        ax.axhline(length, color="grey", linestyle="--", label=f"T = {length}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        title = f"{task}, T = {length}: how long the keep gate holds"
        _label(ax, "updates (the first point: before training)", "memory time scale", title)
    _save(plt, fig, path)


def _label(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _floor(values: list[float]) -> list[float]:
    return [max(v, 1e-30) for v in values]
