"""The `sweep` command: a thin shell that parses, loads, calls one function, maps exit codes.

Heavy packages (torch, lightning, mlflow, optuna) are imported inside the commands, so
`sweep --help` answers at once. The commands that train are here; those that only read a study
are in `sweeps.cli.results`, `sweep data` in `sweeps.cli.data`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
from sweeps.cli.results import results_app
from sweeps.keys import check_study_name
from sweeps.output import DEBUG_ENV, quiet_failed_trials
from sweeps.secrets import redact
from sweeps.signals import STOP

if TYPE_CHECKING:
    from sweeps.config.schema import Config


app = typer.Typer(
    help="Hyperparameter sweeps of RNN, LSTM and GRU networks with Optuna and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(results_app)  # no name: status, best, report, dashboard and ui stay top-level
app.add_typer(data_app, name="data")


def _load(config: Path, overrides: list[str] | None, tracking_uri: str | None = None) -> Config:
    from sweeps.config.loader import load_config, parse_overrides

    values = parse_overrides(overrides or [])
    if tracking_uri:
        values["tracking.uri"] = tracking_uri
    return load_config(config, values)


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
    with STOP.installed():  # from the start: a SIGTERM during imports must not kill silently
        for flag, name in (("--study", study), ("--from-study", from_study)):
            if name is not None:
                check_study_name(name, flag)
        cfg = _load(config, set_, tracking_uri)
        from sweeps.run import children, placement
        from sweeps.run.preflight import check_config

        check_config(cfg)  # what validate refuses, refused before torch is imported

        placed = placement.placed_gpus(cfg.trainer.accelerator, gpus, placement.visible_gpus())
        count = placement.workers_for(workers, placed, cfg.search.trials_per_gpu)
        if count == 1:  # this process trains: pinned before torch is imported
            os.environ.update(placement.pin(placement.gpu_for(0, placed)))
        started = range(count if count > 1 else 0)
        spawned = [children.start(placement.gpu_for(i, placed)) for i in started]
        try:  # the workers import their stack while this process imports its own
            from sweeps.run.coordinator import run_sweep

            summary = run_sweep(
                cfg,
                storage=storage,
                study_name=study,
                report=typer.echo,
                from_study=from_study,
                from_top=from_top,
                workers=count,
                spawned=spawned,
                gpus=placed,
            )
        finally:
            children.dismiss(spawned)  # those never given orders: an early exit or an error
    if summary.already_done and summary.stopped:
        typer.echo(
            f"study {summary.study_name!r} has stopped: {summary.stopped}; "
            "nothing to do (change search.stop to continue it)"
        )
    elif summary.already_done:
        typer.echo(
            f"study {summary.study_name!r} already has its {cfg.search.n_trials} trials; "
            "nothing to do (raise search.n_trials to continue it)"
        )
    elif summary.stopped:
        typer.echo(f"stopped early: {summary.stopped}")
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(summary.counts.items()))
    took = f"{summary.seconds:.0f}s in this invocation"
    typer.echo(f"\nstudy {summary.study_name!r}: {counts}  ({took})")
    if summary.best_value is not None:
        metric = cfg.search.metric
        baseline = summary.baselines.get(metric)
        versus = f" (baseline {baseline:.6g})" if baseline is not None else ""
        typer.echo(f"best {metric} = {summary.best_value:.6g}{versus} with {summary.best_params}")
    elif len(cfg.search.all_metrics()) > 1:
        typer.echo("several objectives: `sweep best` lists the Pareto front")
    typer.echo(f"optuna storage: {redact(summary.storage)}")
    typer.echo(
        f"mlflow: {redact(summary.tracking_uri)}, experiment {cfg.name!r}, parent run "
        f"{summary.parent_run_id}; browse with `sweep ui`"
    )
    if summary.all_failed:
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
    from sweeps.stores.storage import serve_proxy

    typer.echo(f"optuna gRPC storage proxy on {host}:{port} (Ctrl-C stops it)")
    serve_proxy(storage, host, port)


@app.command()
@exits
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check the config and print its space; exit 0 if valid, 2 if not, 1 if unusable here."""
    # No torch here: the dataset's catalog entry stands in for built-in data, and a user's table
    # is read with pandas; only trainer.accelerator: gpu imports torch, to ask it for a device.
    cfg = _load(config, set_)
    from sweeps.run.preflight import check_config

    check_config(cfg)
    typer.echo(
        f"{config}: valid (study {cfg.name!r}, data {cfg.data.name!r}, "
        f"{cfg.search.n_trials} trials, metric {_objectives(cfg)})"
    )
    if not cfg.search.space:
        typer.echo("search space: empty (every trial trains the base config)")
    from sweeps.search.space import tree_lines

    for line in tree_lines(cfg):
        typer.echo(line)


def _objectives(cfg: Config) -> str:
    pairs = zip(cfg.search.all_metrics(), cfg.search.all_directions(), strict=True)
    return ", ".join(f"{metric} {direction}" for metric, direction in pairs)


@app.command()
@exits
def train(config: ConfigArg, set_: SetOpt = None, tracking_uri: TrackingOpt = None) -> None:
    """Train once with the config's own values (no search), evaluate on test, log to MLflow."""
    with STOP.installed():
        cfg = _load(config, set_, tracking_uri)
        from sweeps.run.single import train_once

        result, run_id = train_once(cfg)
    _echo_training(cfg, result, run_id)


@app.command()
@exits
def reproduce(
    run_id: Annotated[str, typer.Argument(help="An MLflow run id (a trial, or a train run).")],
    tracking_uri: TrackingOpt = None,
) -> None:
    """Retrain a logged run from its own config.yaml and compare with what it reached."""
    from sweeps.run.single import logged_run, train_once

    uri = tracking_uri or "sqlite:///mlflow.db"
    cfg, reached, logged = logged_run(uri, run_id)
    with STOP.installed():
        result, new_id = train_once(cfg, reproduces=logged)
    if reached is not None:
        typer.echo(f"run {run_id} reached {cfg.search.metric} = {reached:.6g}")
    _echo_training(cfg, result, new_id)


def _echo_training(cfg: Config, result: Any, run_id: str) -> None:
    typer.echo(
        f"best {cfg.search.metric} = {result.best_value:.6g} at epoch {result.best_epoch} "
        f"({result.epochs_run} epochs, {result.n_parameters} parameters)"
    )
    for key, value in sorted(result.test_metrics.items()):
        typer.echo(f"  {key} = {value:.6g}")
    typer.echo(f"mlflow run {run_id} in experiment {cfg.name!r} at {redact(cfg.tracking.uri)}")
