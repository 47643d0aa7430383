"""The `sweep` command: a thin shell that parses, calls one API function, prints, maps exits.

Its only door into the package is `sweeps.api` (plus the floor: errors, output, secrets),
which imports heavy packages (torch, lightning, mlflow, optuna) inside its functions, so
`sweep --help` answers at once. The commands that train are here; those that only read a study
are in `sweeps.cli.results`, `sweep data` in `sweeps.cli.data`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sweeps import api
from sweeps.cli.data import data_app
from sweeps.cli.exits import exits
from sweeps.cli.options import (
    ConfigArg,
    GpusOpt,
    SetOpt,
    StorageOpt,
    StudyOpt,
    TrackingOpt,
    WorkersOpt,
)
from sweeps.cli.results import model_line, results_app
from sweeps.output import DEBUG_ENV, quiet_failed_trials

app = typer.Typer(
    help="Hyperparameter sweeps of RNN, LSTM and GRU networks with Optuna and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(results_app)  # no name: status, best, report, dashboard and ui stay top-level
app.add_typer(data_app, name="data")


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Print full tracebacks (also SWEEP_DEBUG=1).")
    ] = False,
) -> None:
    """Hyperparameter sweeps of RNN, LSTM and GRU networks with Optuna and MLflow."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # read by exits() and by the trial-failure log filter
    quiet_failed_trials()


@app.command()
@exits
def run(
    config: ConfigArg,
    set_: SetOpt = None,
    storage: StorageOpt = None,
    tracking_uri: TrackingOpt = None,
    study: StudyOpt = None,
    from_study: Annotated[
        str | None,
        typer.Option(help="Warm start: first run the best params of this study (same storage)."),
    ] = None,
    from_top: Annotated[int, typer.Option(help="How many of --from-study's best.")] = 5,
    workers: WorkersOpt = "1",
    gpus: GpusOpt = None,
) -> None:
    """Run the sweep, resume it, or join it: until search.n_trials trials in total."""
    result = api.run(
        config,
        set_,
        workers=workers,
        gpus=gpus,
        storage=storage,
        study=study,
        tracking_uri=tracking_uri,
        from_study=from_study,
        from_top=from_top,
        echo=typer.echo,
    )
    for line in run_lines(result):
        typer.echo(line)
    if result.all_failed:
        typer.echo(
            "error: every trial this invocation ran failed (see the reasons above)", err=True
        )
        raise typer.Exit(1)


@app.command()
@exits
def proxy(
    storage: Annotated[str, typer.Option(help="The database the proxy serves (postgresql://...).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 13000,
) -> None:
    """Serve the storage through Optuna's gRPC proxy; workers use --storage grpc://HOST:PORT."""
    typer.echo(f"optuna gRPC storage proxy on {host}:{port} (Ctrl-C stops it)")
    api.proxy(storage, host=host, port=port)


@app.command()
@exits
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check the config and print its space; exit 0 if valid, 2 if not, 1 if unusable here."""
    checked = api.validate(config, set_)
    objectives = ", ".join(f"{metric} {direction}" for metric, direction in checked.objectives)
    typer.echo(
        f"{config}: valid (study {checked.study!r}, data {checked.data!r}, "
        f"{checked.n_trials} trials, metric {objectives})"
    )
    if not checked.space:
        typer.echo("search space: empty (every trial trains the base config)")
    for line in checked.space:
        typer.echo(line)


@app.command()
@exits
def train(config: ConfigArg, set_: SetOpt = None, tracking_uri: TrackingOpt = None) -> None:
    """Train once with the config's own values (no search), evaluate on test, log to MLflow."""
    _echo_training(api.fit(config, set_, tracking_uri=tracking_uri))


@app.command()
@exits
def reproduce(
    run_id: Annotated[str, typer.Argument(help="An MLflow run id (a trial, or a train run).")],
    tracking_uri: TrackingOpt = None,
) -> None:
    """Retrain a logged run from its own config.yaml and compare with what it reached."""
    outcome = api.reproduce(run_id, tracking_uri=tracking_uri, echo=typer.echo)
    if outcome.reached_before is not None:
        typer.echo(f"run {run_id} reached {outcome.metric} = {outcome.reached_before:.6g}")
    _echo_training(outcome)


def _echo_training(outcome: api.TrainOutcome) -> None:
    typer.echo(
        f"best {outcome.metric} = {outcome.best_value:.6g} at epoch {outcome.best_epoch} "
        f"({outcome.epochs_run} epochs, {outcome.n_parameters} parameters)"
    )
    for key, value in sorted(outcome.test_metrics.items()):
        typer.echo(f"  {key} = {value:.6g}")
    typer.echo(
        f"mlflow run {outcome.run_id} in experiment {outcome.experiment!r} "
        f"at {outcome.tracking_uri}"
    )


def run_lines(result: api.SweepResult) -> list[str]:
    """What `sweep run` says once the sweep ends: why it stopped, counts, best, where to look."""
    lines = []
    if result.already_done and result.stopped:
        lines.append(
            f"study {result.study!r} has stopped: {result.stopped}; "
            "nothing to do (change search.stop to continue it)"
        )
    elif result.already_done:
        lines.append(
            f"study {result.study!r} already has its {result.n_trials} trials; "
            "nothing to do (raise search.n_trials to continue it)"
        )
    elif result.stopped:
        lines.append(f"stopped early: {result.stopped}")
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.counts.items()))
    lines.append(f"\nstudy {result.study!r}: {counts}  ({result.seconds:.0f}s in this invocation)")
    if result.best_value is not None:
        baseline = result.baselines.get(result.metric)
        versus = f" (baseline {baseline:.6g})" if baseline is not None else ""
        lines.append(
            f"best {result.metric} = {result.best_value:.6g}{versus} with {result.best_params}"
        )
    elif result.n_objectives > 1:
        lines.append("several objectives: `sweep best` lists the Pareto front")
    if result.model is not None:
        lines.append(model_line(result.model))
    lines.append(f"optuna storage: {result.storage}")
    lines.append(
        f"mlflow: {result.tracking_uri}, experiment {result.experiment!r}, parent run "
        f"{result.parent_run_id}; browse with `sweep ui`"
    )
    return lines
