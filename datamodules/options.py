"""What every datamodule takes, with its one default and rule; importable without torch."""

from __future__ import annotations

BATCH_SIZE = 64
BASE_OPTIONS = ("batch_size", "seq_len", "seed")  # every datamodule's; the rest are its own


def check_batch_size(batch_size: int) -> None:
    """data.batch_size: samples per step."""
    if batch_size < 1:
        raise ValueError(f"data.batch_size must be >= 1, but got {batch_size}")
