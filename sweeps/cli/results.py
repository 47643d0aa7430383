"""`sweep status`, `best`, `report`, `dashboard`, `ui`: the commands that read a study and its runs.

They train nothing; the one change any makes is `status` failing the trials whose worker died.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweeps import api
from sweeps.cli.exits import exits
from sweeps.cli.options import OptionalConfig, StorageOpt, StudyOpt, TrackingOpt

# Added to the main app without a name, so these are top-level commands: `sweep status`.
results_app = typer.Typer()


@results_app.command()
@exits
def status(
    config: OptionalConfig = None, study: StudyOpt = None, storage: StorageOpt = None
) -> None:
    """Counts of trials by state, and the best value so far; fails trials whose worker died."""
    got = api.status(config, study=study, storage=storage, echo=typer.echo)
    typer.echo(f"study {got.study!r}: {sum(got.counts.values())} trials")
    for state, n in got.counts.items():
        typer.echo(f"  {state.lower():9s} {n}")
    for number, gpu in got.gpus.items():
        typer.echo(f"  trial {number} runs on gpu {gpu}")
    if got.stopped:
        typer.echo(f"stopped early: {got.stopped}")
    for line in got.table:
        typer.echo(line)
    _echo_leaders(got.leaders)


def _echo_leaders(leaders: api.Leaders) -> None:
    if leaders.no_best is not None:
        typer.echo(leaders.no_best)
        return
    if leaders.best is None:
        names = ", ".join(leaders.objectives)
        typer.echo(f"Pareto front of {names}: {len(leaders.front)} trials")
        for t in leaders.front:
            values = ", ".join(f"{v:.6g}" for v in t.values)
            typer.echo(f"  trial {t.number}: {values}  {t.params}")
        return
    best = leaders.best
    typer.echo(f"best: trial {best.number}, value {best.value:.6g}")
    for key, value in best.params.items():
        typer.echo(f"  {key} = {value}")
    if best.run_id:
        typer.echo(f"  mlflow run {best.run_id}")


@results_app.command()
@exits
def best(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the best trial's full config here.")
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(
            help="Log the best trial's network as a new version of this registered MLflow "
            "model, with the alias champion."
        ),
    ] = None,
    tracking_uri: TrackingOpt = None,
) -> None:
    """The best trial's value and params; --out writes its full config as YAML; --register
    NAME makes its network a new version of registered model NAME."""
    got = api.best(
        config, study=study, storage=storage, out=out, register=register, tracking_uri=tracking_uri
    )
    _echo_leaders(got.leaders)
    if got.config_out is not None:
        typer.echo(f"wrote {got.config_out}; rerun it with `sweep train {got.config_out}`")
    if got.model is not None:
        typer.echo(model_line(got.model))


def model_line(model: api.ModelVersion) -> str:
    """Where the best trial's model is: its URI, and the registered version if any."""
    where = f"model of trial {model.trial}: {model.model_uri}"
    if model.name is None:
        return where
    return f"{where}, version {model.version} of {model.name!r}: load {model.alias_uri}"


@results_app.command()
@exits
def report(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    tracking_uri: TrackingOpt = None,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one self-contained HTML report of a study: it only reads, and opens offline."""
    path = api.report(config, study=study, storage=storage, tracking_uri=tracking_uri, out=out)
    size = path.stat().st_size // 1024
    typer.echo(f"wrote {path.resolve()} ({size} KiB); open it in any browser")


@results_app.command()
@exits
def dashboard(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
) -> None:
    """Serve optuna-dashboard on the study, bound to 127.0.0.1 (the `dashboard` extra)."""
    api.dashboard(config, study=study, storage=storage, port=port, echo=typer.echo)


UiConfig = Annotated[
    Path | None,
    typer.Argument(
        help="A sweep's config: its tracking.uri (default: ./mlflow.db).", show_default=False
    ),
]


@results_app.command()
@exits
def ui(
    config: UiConfig = None,
    tracking_uri: TrackingOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    empty: Annotated[
        bool, typer.Option("--empty", help="Serve a new, empty store if there is none.")
    ] = False,
) -> None:
    """Start the MLflow UI on the tracking URI, bound to 127.0.0.1; stops with this command."""
    code = api.ui(config, tracking_uri=tracking_uri, port=port, empty=empty, echo=typer.echo)
    if code:
        raise typer.Exit(code)
