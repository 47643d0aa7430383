"""`python -m sweeps`: the `sweep` command."""

from sweeps.cli.app import app

app(prog_name="sweep")
