"""The arguments and options several `sweep` commands share: one spelling, one help text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigArg = Annotated[Path, typer.Argument(help="The sweep's YAML config.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a dotted config key: --set optimizer.lr=0.01"),
]
# From the environment too, so no password sits in a shell history or a config: e.g.
# SWEEP_STORAGE=postgresql+psycopg://user@host/db with PGPASSWORD or ~/.pgpass for the password.
StorageOpt = Annotated[
    str | None,
    typer.Option(
        help="Optuna storage URL (sqlite:///..., postgresql+psycopg://user@host/db).",
        envvar="SWEEP_STORAGE",
    ),
]
StudyOpt = Annotated[str | None, typer.Option(help="Study name; defaults to the config's name.")]
TrackingOpt = Annotated[
    str | None, typer.Option(help="MLflow tracking URI.", envvar="MLFLOW_TRACKING_URI")
]
WorkersOpt = Annotated[
    str,
    typer.Option(
        help="Worker processes on this machine: a number, or auto (search.trials_per_gpu per "
        "GPU with a gpu or auto accelerator on a machine with GPUs, else one per core)."
    ),
]
GpusOpt = Annotated[
    str | None,
    typer.Option(help="The GPUs the workers are spread over, round robin: 0,2. Default: all."),
]
OptionalConfig = Annotated[
    Path | None,
    typer.Argument(
        help="The sweep's config; or --study NAME; left out, the storage's only study.",
        show_default=False,
    ),
]
