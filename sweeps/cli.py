"""The `sweep` command: a thin shell that parses, loads, calls one function, maps exit codes.

Heavy packages (torch, lightning, mlflow, optuna) are imported inside the commands, so
`sweep --help` answers at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sweeps.data_cli import data_app
from sweeps.errors import ConfigError
from sweeps.exits import DEBUG_ENV, exits, quiet_failed_trials
from sweeps.secrets import redact
from sweeps.signals import STOP

if TYPE_CHECKING:
    from sweeps.config import Config


app = typer.Typer(
    help="Hyperparameter sweeps of RNN, LSTM and GRU networks with Optuna and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_app, name="data")

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
    typer.Option(help="Worker processes on this machine: a number, or auto (one per core)."),
]


def _load(config: Path, overrides: list[str] | None, tracking_uri: str | None = None) -> Config:
    from sweeps.loader import load_config, parse_overrides

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
) -> None:
    """Run the sweep, resume it, or join it: until search.n_trials trials in total."""
    with STOP.installed():  # from the start: a SIGTERM during imports must not kill silently
        cfg = _load(config, set_, tracking_uri)
        from sweeps.coordinator import run_sweep, workers_for

        count = workers_for(workers)
        summary = run_sweep(
            cfg,
            storage=storage,
            study_name=study,
            report=typer.echo,
            from_study=from_study,
            from_top=from_top,
            workers=count,
        )
    if summary.already_done:
        typer.echo(
            f"study {summary.study_name!r} already has its {cfg.search.n_trials} trials; "
            "nothing to do (raise search.n_trials to continue it)"
        )
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(summary.counts.items()))
    typer.echo(f"\nstudy {summary.study_name!r}: {counts}  ({summary.seconds:.0f}s this run)")
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
        typer.echo("error: every trial of this run failed (see the reasons above)", err=True)
        raise typer.Exit(1)


@app.command()
@exits
def proxy(
    storage: Annotated[str, typer.Option(help="The database the proxy serves (postgresql://...).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 13000,
) -> None:
    """Serve the storage through Optuna's gRPC proxy; workers use --storage grpc://HOST:PORT."""
    from sweeps.storage import serve_proxy

    typer.echo(f"optuna gRPC storage proxy on {host}:{port} (Ctrl-C stops it)")
    serve_proxy(storage, host, port)


@app.command()
@exits
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check the config and print its space; exit 0 if valid, 2 if not, 1 if unusable here."""
    # No torch here: the dataset's catalog entry stands in for its data, whose files are only
    # looked at; only trainer.accelerator: gpu imports torch, to ask it for a device.
    cfg = _load(config, set_)
    from sweeps.dataset import check_data_sources
    from sweeps.objectives import check_metric
    from sweeps.preflight import check_accelerator
    from sweeps.space import check_space

    check_space(cfg)
    check_accelerator(cfg)
    check_metric(cfg, check_data_sources(cfg.data))
    typer.echo(
        f"{config}: valid (study {cfg.name!r}, data {cfg.data.name!r}, "
        f"{cfg.search.n_trials} trials, metric {_objectives(cfg)})"
    )
    if not cfg.search.space:
        typer.echo("search space: empty (every trial trains the base config)")
    from sweeps.space import tree_lines

    for line in tree_lines(cfg):
        typer.echo(line)


@app.command()
@exits
def train(config: ConfigArg, set_: SetOpt = None, tracking_uri: TrackingOpt = None) -> None:
    """Train once with the config's own values (no search), evaluate on test, log to MLflow."""
    with STOP.installed():
        cfg = _load(config, set_, tracking_uri)
        from sweeps.trainrun import train_once

        result, run_id = train_once(cfg)
    _echo_training(cfg, result, run_id)


@app.command()
@exits
def reproduce(
    run_id: Annotated[str, typer.Argument(help="An MLflow run id (a trial, or a train run).")],
    tracking_uri: TrackingOpt = None,
) -> None:
    """Retrain a logged run from its own config.yaml and compare with what it reached."""
    from sweeps.trainrun import logged_run, train_once

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


def _open(config: Path | None, study: str | None, storage: str | None) -> Any:
    """Load an existing study named by a config or by --study and --storage."""
    from sweeps.storage import DEFAULT_STORAGE
    from sweeps.study import load_existing

    cfg = _shallow(config) if config is not None else None
    name = study or (cfg.name if cfg else None)
    if name is None:
        raise ConfigError("give a CONFIG, or --study NAME (and --storage URL)")
    url = storage or (cfg.storage if cfg else None) or DEFAULT_STORAGE
    return load_existing(name, url)


OptionalConfig = Annotated[
    Path | None, typer.Argument(help="The sweep's config (or use --study).", show_default=False)
]


@app.command()
@exits
def status(
    config: OptionalConfig = None, study: StudyOpt = None, storage: StorageOpt = None
) -> None:
    """Counts of trials by state, and the best value so far; fails trials whose worker died."""
    from sweeps.reaper import reap_for_status
    from sweeps.study import state_counts
    from sweeps.summary import by_choice, format_table, study_baseline

    st = _open(config, study, storage)
    reap_for_status(st, _shallow(config) if config else None, storage, typer.echo)
    counts = state_counts(st)
    typer.echo(f"study {st.study_name!r}: {sum(counts.values())} trials")
    for state, n in sorted(counts.items()):
        typer.echo(f"  {state.lower():9s} {n}")
    baseline = study_baseline(st.get_trials(deepcopy=False))
    for line in format_table(by_choice(st), baseline):
        typer.echo(line)
    _echo_best(st)


def _objectives(cfg: Config) -> str:
    pairs = zip(cfg.search.all_metrics(), cfg.search.all_directions(), strict=True)
    return ", ".join(f"{metric} {direction}" for metric, direction in pairs)


def _echo_best(st: Any) -> None:
    from optuna.trial import TrialState

    if not st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        typer.echo("no completed trial yet")
        return
    if len(st.directions) > 1:
        from sweeps.leaderboard import objective_names, ranked

        front = ranked(st)
        typer.echo(f"Pareto front of {', '.join(objective_names(st))}: {len(front)} trials")
        for t in front:
            values = ", ".join(f"{v:.6g}" for v in t.values)
            typer.echo(f"  trial {t.number}: {values}  {t.params}")
        return
    best = st.best_trial
    typer.echo(f"best: trial {best.number}, value {best.value:.6g}")
    for key, value in best.params.items():
        typer.echo(f"  {key} = {value}")
    run_id = best.user_attrs.get("mlflow_run_id")
    if run_id:
        typer.echo(f"  mlflow run {run_id}")


@app.command()
@exits
def best(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the best trial's full config here.")
    ] = None,
) -> None:
    """The best trial's value and params; --out writes its full config as YAML."""
    from sweeps.study import best_config_yaml

    st = _open(config, study, storage)
    _echo_best(st)
    if out is not None:
        try:
            out.write_text(best_config_yaml(st))
        except OSError as err:
            raise ConfigError(f"--out {str(out)!r} cannot be written: {err.strerror}") from None
        typer.echo(f"wrote {out}; rerun it with `sweep train {out}`")


def _shallow(config: Path) -> Config:
    """The schema checked, no datamodule built: commands that read a study need no torch."""
    from sweeps.loader import load_config

    return load_config(config, check_data=False)


@app.command()
@exits
def report(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    tracking_uri: TrackingOpt = None,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one self-contained HTML report of a study: it only reads, and opens offline."""
    from sweeps.report import read_client, write_report

    st = _open(config, study, storage)
    uri = tracking_uri or (_shallow(config).tracking.uri if config else "sqlite:///mlflow.db")
    try:
        write_report(st, out, read_client(uri))
    except OSError as err:
        raise ConfigError(f"--out {str(out)!r} cannot be written: {err.strerror}") from None
    typer.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB); open it in any browser")


@app.command()
@exits
def dashboard(
    config: OptionalConfig = None,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
) -> None:
    """Serve optuna-dashboard on the study, bound to 127.0.0.1 (the `dashboard` extra)."""
    try:
        import optuna_dashboard  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError(
            "sweep dashboard needs optuna-dashboard: pip install 'rnn-sweeps[dashboard]'"
        ) from None

    from sweeps.storage import DEFAULT_STORAGE, open_storage

    st = _open(config, study, storage)  # the study must exist: a typo fails here, not in a page
    url = storage or (_shallow(config).storage if config else None) or DEFAULT_STORAGE
    store = open_storage(url)
    study_id = store.get_study_id_from_name(st.study_name)
    typer.echo(
        f"optuna-dashboard for study {st.study_name!r} at "
        f"http://127.0.0.1:{port}/dashboard/studies/{study_id} (Ctrl-C stops it)"
    )
    optuna_dashboard.run_server(store, host="127.0.0.1", port=port)


@app.command()
@exits
def ui(
    config: OptionalConfig = None,
    tracking_uri: TrackingOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start the MLflow UI on the tracking URI, bound to 127.0.0.1; stops with this command."""
    uri = tracking_uri or (_shallow(config).tracking.uri if config else "sqlite:///mlflow.db")
    if not uri.startswith("sqlite:///"):
        typer.echo(f"{redact(uri)} is a tracking server: open it in a browser")
        return
    from sweeps.mlflow_ui import serve

    raise typer.Exit(serve(uri, port, typer.echo))
