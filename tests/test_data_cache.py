"""Data is loaded once per process and reused by every trial, not re-read per trial."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datamodules import digits, forecast, synthetic, text, ucr
from datamodules.registry import build_datamodule

CASES: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "adding": (synthetic._adding_splits, {"seq_len": 10, "n_train": 16, "n_val": 8, "n_test": 8}),
    "digits": (digits._digit_splits, {}),
    "sunspots": (forecast._sunspots, {"seq_len": 11}),
    "macro": (forecast._macrodata, {"seq_len": 4}),
    "ucr": (ucr.load_archive, {"dataset": "ItalyPowerDemand"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_trial_hits_the_cache(name: str) -> None:
    loader, options = CASES[name]
    build_datamodule(name, **options).setup("fit")  # the first trial may load
    before = loader.cache_info()  # type: ignore[attr-defined]
    build_datamodule(name, **options).setup("fit")  # the second must not
    after = loader.cache_info()  # type: ignore[attr-defined]
    assert after.misses == before.misses
    assert after.hits > before.hits


def test_text_file_is_read_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 50)
    options = {"path": str(path), "seq_len": 8, "val_fraction": 0.1, "test_fraction": 0.1}
    build_datamodule("text", **options).setup("fit")
    before = text._read_text.cache_info()
    build_datamodule("text", **options).setup("fit")
    assert text._read_text.cache_info().misses == before.misses
