"""How the CLI ends: one line and an exit code for every failure; a traceback only on request.

- user errors (ConfigError): exit 2, one line naming the field and the fix; a valid config
  naming a store or device that is unusable here (UnavailableError): the same line, exit 1;
- anything else at run time (a store that fails mid-sweep, a crash): exit 1, one line naming
  the error, and how to see the traceback;
- Ctrl-C / SIGTERM: exit 130, the study is saved and resumable.
`sweep --debug ...` or SWEEP_DEBUG=1 prints the full traceback as well, passwords masked.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from sweeps.errors import ConfigError, clip, disk_full
from sweeps.output import DEBUG_ENV, debugging
from sweeps.secrets import redact

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

F = TypeVar("F", bound=Callable[..., Any])


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
            full = disk_full(err)
            if full is not None:
                typer.echo(f"error: {full}", err=True)
                raise typer.Exit(EXIT_FAILURE) from None
            hint = "" if debugging() else f" (the traceback: sweep --debug ... or {DEBUG_ENV}=1)"
            typer.echo(f"error: {describe(err)}{hint}", err=True)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]
