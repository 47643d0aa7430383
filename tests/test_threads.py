"""Torch threads per training process: one by default, OMP_NUM_THREADS when a user sets it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_raw

from sweeps.config.schema import validate
from sweeps.runner import children
from sweeps.train.threads import THREADS, thread_env, trial_threads
from sweeps.train.trial import train


@pytest.mark.parametrize("value", [None, "", "0", "two", "-1"])
def test_one_thread_unless_omp_num_threads_is_a_count(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert trial_threads() == THREADS == 1
    assert thread_env() == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_a_users_omp_num_threads_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert trial_threads() == 3
    assert thread_env()["MKL_NUM_THREADS"] == "3"


def test_a_worker_starts_with_the_default_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen: dict[str, Any] = {}

    def popen(argv: list[str], **kwargs: Any) -> None:
        seen.update(kwargs["env"])

    monkeypatch.setattr(subprocess, "Popen", popen)
    children.start()
    assert (seen["OMP_NUM_THREADS"], seen["MKL_NUM_THREADS"]) == ("1", "1")


def test_training_runs_on_the_default_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(validate(tiny_raw(trainer={"max_epochs": 1})), tmp_path)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
