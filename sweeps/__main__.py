"""`python -m sweeps`: the `sweep` command."""

from sweeps.cli import app

app(prog_name="sweep")
