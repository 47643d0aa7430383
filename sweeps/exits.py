"""How the CLI ends: one line and an exit code for every failure; a traceback only on request.

- user errors (ConfigError): exit 2, one line naming the field and the fix; a valid config
  naming a store or device that is unusable here (UnavailableError): the same line, exit 1;
- anything else at run time (a store that fails mid-sweep, a crash): exit 1, one line naming
  the error, and how to see the traceback;
- Ctrl-C / SIGTERM: exit 130, the study is saved and resumable.
`sweep --debug ...` or SWEEP_DEBUG=1 prints the full traceback as well, passwords masked.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from sweeps.errors import ConfigError, clip
from sweeps.secrets import redact

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_ENV = "SWEEP_DEBUG"

F = TypeVar("F", bound=Callable[..., Any])


def debugging() -> bool:
    """Whether tracebacks were asked for (`--debug` sets the variable for the whole process)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


def _traceback(err: BaseException) -> None:
    if debugging():
        text = "".join(traceback.format_exception(err))
        typer.echo(redact(text.rstrip()), err=True)


def describe(err: BaseException) -> str:
    """One line for an unexpected error: its type, the first line of its message, clipped."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    shown = first if len(first) <= 200 else clip(first, 200)
    return redact(f"{type(err).__name__}: {shown}" if shown else type(err).__name__)


def exits(fn: F) -> F:
    """Map user errors to exit 2, run-time errors to exit 1 and Ctrl-C/SIGTERM to 130."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except ConfigError as err:
            _traceback(err)
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt as err:
            _traceback(err)
            typer.echo("interrupted: the study is saved; run the same command to resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as err:  # noqa: BLE001 - the one place run-time errors become exit 1
            _traceback(err)
            hint = "" if debugging() else f" (the traceback: sweep --debug ... or {DEBUG_ENV}=1)"
            typer.echo(f"error: {describe(err)}{hint}", err=True)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]


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
