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
