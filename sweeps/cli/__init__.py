"""The `sweep` command: parse, call one function, print, map errors to exit codes."""
