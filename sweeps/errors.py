"""The one exception type for user errors: the CLI prints it on one line and exits 2."""


class ConfigError(ValueError):
    """A user-facing configuration or input error; the message names the field and the fix."""
