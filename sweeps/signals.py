"""Ctrl-C and SIGTERM stop a sweep at the next safe point, never inside a database write.

Raising KeyboardInterrupt straight from a signal handler can land inside an Optuna or MLflow
SQLite transaction and leave the file locked: the trial cannot be marked, and a stop turns
into a string of failed trials. So the first signal only records a request; the training
loop (between batches) and the sweep loop (between trials) honour it. A second signal stops
at once, for a process that is stuck.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class GracefulStop:
    """A stop request set by a signal handler and checked at safe points."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        """Raise KeyboardInterrupt if a stop was requested; call only where that is safe."""
        if self.signum is not None:
            raise KeyboardInterrupt(f"stopped by signal {signal.Signals(self.signum).name}")

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"second signal {signal.Signals(signum).name}: stopping now")
        self.signum = signum

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM this way inside the block; restore the old handlers after."""
        self.signum = None
        previous: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, self._handle)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.signum = None


STOP = GracefulStop()
