"""Workers placed on GPUs: how many `auto` means, round robin, --gpus, and `sweep status`."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from conftest import tiny_raw, write_config
from typer.testing import CliRunner

from sweeps.cli.app import app
from sweeps.errors import ConfigError
from sweeps.keys import GPU_ATTR, PID_ATTR
from sweeps.runner import children, placement
from sweeps.runner.placement import gpu_for, placed_gpus, visible_gpus, workers_for
from sweeps.runner.reaper import claim
from sweeps.stores.storage import DEFAULT_STORAGE, open_storage

runner = CliRunner()


@pytest.mark.parametrize(("value", "count"), [("1", 1), ("3", 3)])
def test_a_number_of_workers_is_that_number(value: str, count: int) -> None:
    assert workers_for(value, [], 4) == workers_for(value, ["0", "1"], 4) == count


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_workers_for_refuses_nonsense(value: str) -> None:
    with pytest.raises(ConfigError, match="--workers"):
        workers_for(value, [], 4)


def test_auto_is_trials_per_gpu_per_gpu_else_one_per_core() -> None:
    assert workers_for("auto", ["0", "1", "2"], 4) == 12
    assert workers_for("auto", ["5"], 2) == 2
    assert workers_for("auto", [], 4) == len(os.sched_getaffinity(0))


def test_round_robin_over_the_gpus() -> None:
    assert [gpu_for(i, ["0", "2"]) for i in range(5)] == ["0", "2", "0", "2", "0"]
    assert gpu_for(3, []) is None


def test_visible_gpus_from_the_environment_or_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1, 3")
    assert visible_gpus() == ["1", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    for bus in ("0000:01:00.0", "0000:41:00.0", "0000:81:00.0"):  # a faked 3-GPU driver
        (tmp_path / bus).mkdir()
    monkeypatch.setattr(placement, "DRIVER_GPUS", tmp_path)
    assert visible_gpus() == ["0", "1", "2"]
    monkeypatch.setattr(placement, "DRIVER_GPUS", tmp_path / "absent")
    assert visible_gpus() == []


def test_the_gpus_used_follow_the_accelerator_and_gpus_option() -> None:
    visible = ["0", "1", "2", "3"]
    assert placed_gpus("gpu", None, visible) == visible
    assert placed_gpus("auto", None, visible) == visible
    assert placed_gpus("auto", None, []) == []
    assert placed_gpus("cpu", None, visible) == []
    assert placed_gpus("gpu", "0,2", visible) == ["0", "2"]


@pytest.mark.parametrize(
    ("accelerator", "wanted", "message"),
    [
        ("gpu", "0,4", "--gpus must list distinct GPUs of this machine (0,1), but got '0,4'"),
        ("gpu", "1,1", "--gpus must list distinct GPUs"),
        ("auto", "x", "--gpus must list distinct GPUs"),
        ("cpu", "0", "--gpus needs trainer.accelerator gpu or auto"),
    ],
)
def test_bad_gpus_are_refused_in_one_line(accelerator: str, wanted: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        placed_gpus(accelerator, wanted, ["0", "1"])


def test_a_worker_process_sees_its_one_gpu() -> None:
    pinned, plain = children.start("7"), children.start()
    try:
        environ = Path(f"/proc/{pinned.pid}/environ").read_bytes().split(b"\0")
        assert b"CUDA_VISIBLE_DEVICES=7" in environ
        inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
        plain_env = Path(f"/proc/{plain.pid}/environ").read_bytes().split(b"\0")
        expected = None if inherited is None else f"CUDA_VISIBLE_DEVICES={inherited}".encode()
        assert [e for e in plain_env if e.startswith(b"CUDA_VISIBLE_DEVICES=")] == (
            [expected] if expected else []
        )
    finally:
        children.dismiss([pinned, plain])


def test_gpus_on_a_cpu_sweep_exit_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, tiny_raw(trainer={"max_epochs": 1}))
    result = runner.invoke(app, ["run", str(path), "--gpus", "0"])
    assert result.exit_code == 2, result.output
    assert "--gpus needs trainer.accelerator gpu or auto" in result.output


def test_status_shows_the_gpu_of_each_running_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    for gpu in ("0", "2"):
        trial = study.ask()
        claim(trial, "session")  # owned by this live process: status does not reap it
        trial.set_user_attr(GPU_ATTR, gpu)
    study.tell(study.ask(), 1.0)  # a finished trial shows no GPU
    result = runner.invoke(app, ["status", "--study", "s", "--storage", storage])
    assert result.exit_code == 0, result.output
    assert "trial 0 runs on gpu 0" in result.output
    assert "trial 1 runs on gpu 2" in result.output
    assert "trial 2 runs on" not in result.output


@pytest.mark.slow
def test_auto_workers_are_spread_over_the_visible_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two faked GPUs: torch sees no CUDA, so the auto accelerator trains on the CPU, but each
    # worker is still pinned and records its GPU.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    raw = tiny_raw(trainer={"max_epochs": 1, "accelerator": "auto"})
    raw["search"] |= {"n_trials": 4, "trials_per_gpu": 1}
    path = write_config(tmp_path, raw)
    result = runner.invoke(app, ["run", str(path), "--workers", "auto"])
    assert result.exit_code == 0, result.output
    assert "2 workers" in result.output
    store = open_storage(DEFAULT_STORAGE)
    trials = optuna.load_study(study_name="tiny", storage=store).trials
    gpu_of_pid = {t.user_attrs[PID_ATTR]: t.user_attrs[GPU_ATTR] for t in trials}
    assert len(trials) == 4 and set(gpu_of_pid.values()) <= {"3", "5"}
    # each worker kept its one GPU, and no two workers shared one
    assert len(set(gpu_of_pid.values())) == len(gpu_of_pid)
