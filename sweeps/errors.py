"""The one exception type for user errors: the CLI prints it on one line and exits 2."""

from sweeps.secrets import redact

MAX_MESSAGE = 400  # characters: a message names the field and the fix; it never echoes a file
MAX_SHOWN = 80  # characters of user input an error message may echo


def clip(value: object, limit: int = MAX_SHOWN) -> str:
    """`repr(value)`, cut to `limit` characters: an error must not echo megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


class ConfigError(ValueError):
    """A user-facing configuration or input error; the message names the field and the fix."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        message = redact(" ".join(str(message).split()))  # one line, no password
        if len(message) > MAX_MESSAGE:
            message = f"{message[: MAX_MESSAGE - 30]}... ({len(message)} characters cut)"
        super().__init__(message)


class UnavailableError(ConfigError):
    """The config is valid, but something it names cannot be used here: a store that does not
    answer or cannot be written, a device this machine lacks. Exit 1: fix the machine, not the
    file."""

    exit_code = 1


# errno values of a write that found no room: the disk is full, or the user's quota is spent.
_NO_SPACE = (28, 122)  # ENOSPC, EDQUOT
_NO_SPACE_TEXT = ("No space left on device", "database or disk is full", "Disk quota exceeded")


def disk_full(err: BaseException) -> UnavailableError | None:
    """The one line for a write that found the disk full, naming the folder; None otherwise.

    The error may come wrapped: SQLite's "database or disk is full" inside SQLAlchemy inside
    MLflow, an OSError inside Lightning's checkpoint writer.
    """
    import os

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _NO_SPACE:
            name = seen.filename
            folder = os.path.dirname(os.path.abspath(name)) if isinstance(name, str) else None
            return _no_space(folder or os.getcwd())
        if any(text in str(seen) for text in _NO_SPACE_TEXT):
            return _no_space(os.getcwd())
        seen = seen.__cause__ or seen.__context__
    return None


def _no_space(folder: str) -> UnavailableError:
    return UnavailableError(
        f"the disk holding {folder} is full; free space there (or run the sweep from a folder "
        "on a larger disk), then run the same command to resume"
    )
