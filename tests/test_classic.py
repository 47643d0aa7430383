"""`make classic` end to end on a seconds-long budget: the tables, the plots and every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_classic_quick_writes_the_tables_plots_and_runs(tmp_path: Path) -> None:
    from experiments import classic

    out = tmp_path / "out"
    assert classic.main(["--quick", "--out", str(out), "--jobs", "1"]) == 0
    text = (out / "classic.md").read_text()
    assert "| commit |" in text and "| wall time |" in text  # the stamp, with the wall time
    adding = [line for line in text.splitlines() if line.startswith(("| 8 |", "| 12 |"))]
    assert len(adding) == 2 * len(classic.ADDING)  # each length, each cell
    assert "Copy memory, T = 5" in text
    record = json.loads((out / "classic.json").read_text())
    runs = record["runs"]
    assert len(runs) == 2 * len(classic.ADDING) + len(classic.COPY)
    for task in ("adding", "copy"):
        counts = {r["n_parameters"] for r in runs if r["task"] == task}
        assert max(counts) / min(counts) < 1.1  # matched sizes
    for r in runs:
        assert r["updates_run"] <= r["updates"] and r["curve"] and r["best"] > 0
        assert r["probes"][0]["update"] == 0  # the probe before the first update
        assert len(r["probes"][0]["grad"]) == r["length"] + (20 if r["task"] == "copy" else 0)
    start = {(r["task"], r["length"], r["variant"]): r["probes"][0]["timescale"] for r in runs}
    for task, length, variant in start:
        if variant == "lstm":  # chrono starts with a longer memory than torch's draw
            assert start[task, length, "lstm_chrono"] > start[task, length, "lstm"]
    for name in ("solve", "mse", "grad", "timescale"):
        assert (out / f"classic_{name}.png").stat().st_size > 5000
        (out / f"classic_{name}.png").unlink()
    assert classic.main(["--replot", "--out", str(out)]) == 0  # from classic.json alone
    assert all((out / f"classic_{n}.png").exists() for n in ("solve", "mse", "grad", "timescale"))


def test_the_budget_grows_with_the_length() -> None:
    from experiments import classic

    budgets = [classic.budget(t, classic.FULL) for t in classic.FULL["lengths"]]
    assert budgets == sorted(budgets) and len(set(budgets)) == len(budgets)
    assert all(b % classic.EVAL_EVERY == 0 for b in budgets)
