"""How a sweep speaks: the one-line echo its parts report through, and when tracebacks show.

The CLI, the workers and the library all print through these, so a worker process (which never
imports the CLI) hides and shows tracebacks by the same switch as the command that started it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

Echo = Callable[[str], None]  # where a sweep's one-line progress messages go (print, typer.echo)

DEBUG_ENV = "SWEEP_DEBUG"


def debugging() -> bool:
    """Whether tracebacks were asked for (`--debug` sets the variable for the whole process)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


class _FailedTrialTraceback(logging.Filter):
    """Optuna logs each failed trial twice: with its traceback, then as "Trial N failed with
    value None." The sweep reports the failure in its own line, and a Ctrl-C must end on the
    exit-130 line, not on a KeyboardInterrupt block: so both records are dropped unless
    tracebacks were asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        echo = record.exc_info is None and not record.getMessage().endswith(
            "failed with value None."
        )
        return echo or debugging()


def quiet_failed_trials() -> None:
    """Install the filter above on the logger Optuna reports failed trials with."""
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _FailedTrialTraceback) for f in logger.filters):
        logger.addFilter(_FailedTrialTraceback())
