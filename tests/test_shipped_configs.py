"""Every shipped config is an example, and every example runs end to end on a shrunken budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS

from sweeps.config.loader import load_config
from sweeps.runner.coordinator import run_sweep

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
REPO = CONFIGS.parent


def _shrunk(path: Path, folder: Path) -> dict[str, Any]:
    """Two one-epoch trials on the smallest data the config's dataset allows."""
    config = load_config(path)
    values: dict[str, Any] = {
        "search.n_trials": 2,
        "trainer.max_epochs": 1,
        "trainer.patience": None,
        "tracking.uri": f"sqlite:///{folder / 'mlflow.db'}",
    }
    options = config.data.options()
    if config.data.name in ("adding", "copy_memory", "temporal_order"):
        values.update({"data.n_train": 64, "data.n_val": 32, "data.n_test": 32})
    if config.data.name == "text":  # the real corpus needs `make data`; any text will do here
        text = folder / "tiny.txt"
        text.write_text("To be, or not to be, that is the question. " * 200)
        values["data.path"] = str(text)
    if config.data.name == "csv":
        values["data.path"] = str(REPO / options["path"])
    return values


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_config_runs_end_to_end(path: Path, workdir: Path) -> None:
    config = load_config(path, _shrunk(path, workdir))
    summary = run_sweep(config, storage=f"sqlite:///{workdir / 'optuna.db'}", report=lambda _: None)
    assert sum(summary.counts.values()) == 2
    assert summary.counts.get("FAIL", 0) == 0, summary.counts


@pytest.mark.slow
def test_the_quickstart_runs_with_the_gp_sampler(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    chosen: list[dict[str, Any]] = []
    relative = optuna.samplers.GPSampler.sample_relative

    def spy(self: optuna.samplers.GPSampler, *args: Any) -> dict[str, Any]:
        found = relative(self, *args)
        chosen.append(found)
        return found

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", spy)
    path = CONFIGS / "quickstart.yaml"
    values = {
        **_shrunk(path, workdir),
        "search.n_trials": 4,
        "search.sampler.name": "gp",
        "search.sampler.n_startup_trials": 2,
    }
    config = load_config(path, values)
    assert config.search.sampler.seed == 0  # the quickstart's seed, reseeded per trial
    summary = run_sweep(config, storage=f"sqlite:///{workdir / 'optuna.db'}", report=lambda _: None)
    assert summary.counts == {"COMPLETE": 4}, summary.counts
    # Two random trials, then the Gaussian process picks all three parameters.
    assert [len(found) for found in chosen] == [0, 0, 3, 3], chosen
