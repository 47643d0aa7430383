"""`make classic` end to end on a seconds-long budget: table, plots and gradient curves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "classic.py"


@pytest.mark.slow
def test_classic_quick_writes_the_table_plots_and_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # its sweeps keep their trials' checkpoints under the cwd
    spec = importlib.util.spec_from_file_location("classic", SCRIPT)
    assert spec is not None and spec.loader is not None
    classic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(classic)
    out = tmp_path / "out"
    assert classic.main(["--quick", "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    table = (out / "classic.md").read_text().splitlines()
    assert table[0].startswith("| T | rnn (h=") and len(table) == 2 + 2  # header, rule, 2 lengths
    record = json.loads((out / "classic.json").read_text())
    assert {r["cell"] for r in record["trials"]} == {"rnn", "lstm", "gru"}
    assert all(r["mse"] is not None for r in record["trials"])
    # the matched sizes really are within a few percent of each other
    counts = [n for _, n in record["sizes"].values()]
    assert max(counts) / min(counts) < 1.1
    assert set(record["grad_over_time"]) == {f"T{t}.{c}" for t in (8, 12) for c in classic.CELLS}
    for name in ("classic_mse.png", "classic_grad.png"):
        assert (out / name).stat().st_size > 5000
