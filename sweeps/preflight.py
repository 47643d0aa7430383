"""Checks made before the first trial, so a sweep that cannot work fails in seconds, in one line.

Each check names what failed and the fix. `sweep validate` runs the ones that need no store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeps.errors import ConfigError

if TYPE_CHECKING:
    from sweeps.config import Config


def check_accelerator(config: Config) -> None:
    """trainer.accelerator: gpu needs a CUDA or Apple MPS device on this machine."""
    if config.trainer.accelerator != "gpu":
        return  # cpu always exists; auto falls back to it
    import torch  # only a gpu config pays for the import

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        return
    raise ConfigError(
        "trainer.accelerator is 'gpu', but this machine has no CUDA or MPS device that torch "
        f"can use (torch {torch.__version__}); set trainer.accelerator: cpu (or auto)"
    )
