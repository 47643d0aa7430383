"""Which GPU each worker process of `sweep run` trains on, and how many workers `auto` means.

A small recurrent network keeps a few percent of a GPU busy, so several trials share one
(`search.trials_per_gpu`), and every GPU of the machine gets its share: worker i is pinned to
GPU i mod n by `CUDA_VISIBLE_DEVICES`, where it is then device 0. Light on purpose, like
`sweeps.runner.children`: the GPUs are read from the environment and the driver, not from torch,
so the workers start before anything heavy is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from sweeps.errors import ConfigError

VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the NVIDIA driver runs


def visible_gpus() -> list[str]:
    """The GPUs this process may use: `CUDA_VISIBLE_DEVICES` if set, else all the driver's."""
    named = os.environ.get(VISIBLE_ENV)
    if named is not None:
        return [gpu.strip() for gpu in named.split(",") if gpu.strip()]
    if not DRIVER_GPUS.is_dir():
        return []
    return [str(i) for i in range(len(list(DRIVER_GPUS.iterdir())))]


def placed_gpus(accelerator: str, wanted: str | None, visible: list[str]) -> list[str]:
    """The GPUs the workers are spread over: `--gpus` (a subset of `visible`) or all of them,
    for a gpu or auto accelerator; none for cpu, or where there are none."""
    if wanted is None:
        return visible if accelerator != "cpu" else []
    if accelerator == "cpu":
        raise ConfigError(
            "--gpus needs trainer.accelerator gpu or auto, but it is 'cpu'; "
            "set trainer.accelerator or leave --gpus out"
        )
    gpus = [gpu.strip() for gpu in wanted.split(",")]
    unknown = [gpu for gpu in gpus if gpu not in visible]
    if not gpus or unknown or len(set(gpus)) != len(gpus):
        shown = ",".join(visible) or "none"
        raise ConfigError(
            f"--gpus must list distinct GPUs of this machine ({shown}), but got {wanted!r}"
        )
    return gpus


def workers_for(value: str, gpus: list[str], per_gpu: int) -> int:
    """`--workers N`, or `auto`: `per_gpu` per GPU in `gpus`, else one per core."""
    if value == "auto":
        if gpus:
            return len(gpus) * per_gpu
        return max(1, len(os.sched_getaffinity(0)))
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"--workers must be a whole number >= 1 or auto, but got {value!r}")
    return count


def gpu_for(index: int, gpus: list[str]) -> str | None:
    """The GPU of the worker started `index`-th: round robin over `gpus` (None: no GPU)."""
    return gpus[index % len(gpus)] if gpus else None


def pin(gpu: str | None) -> dict[str, str]:
    """The environment that shows a worker its one GPU only (nothing to change without one)."""
    return {} if gpu is None else {VISIBLE_ENV: gpu}
