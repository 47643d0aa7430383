"""The one exception type for user errors: the CLI prints it on one line and exits 2."""

MAX_MESSAGE = 400  # characters: a message names the field and the fix; it never echoes a file


class ConfigError(ValueError):
    """A user-facing configuration or input error; the message names the field and the fix."""

    def __init__(self, message: str) -> None:
        message = " ".join(str(message).split())  # one line, whatever the input held
        if len(message) > MAX_MESSAGE:
            message = f"{message[: MAX_MESSAGE - 30]}... ({len(message)} characters cut)"
        super().__init__(message)
