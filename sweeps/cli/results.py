"""`sweep status`, `best`, `report`, `dashboard`, `ui`: the commands that read a study and its runs.

They train nothing; the one change any makes is `status` failing the trials whose worker died.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sweeps.cli.exits import exits
from sweeps.cli.options import OptionalConfig, StorageOpt, StudyOpt, TrackingOpt
from sweeps.errors import ConfigError
from sweeps.keys import GPU_ATTR, RUN_ATTR, STOP_ATTR, check_study_name
from sweeps.secrets import redact

if TYPE_CHECKING:
    from sweeps.config.schema import Config

# Added to the main app without a name, so these are top-level commands: `sweep status`.
results_app = typer.Typer()


def _open(config: Path | None, study: str | None, storage: str | None) -> Any:
    """Load an existing study named by a config or by --study, else the storage's only study."""
    from sweeps.search.study import load_existing, only_study
    from sweeps.stores.storage import DEFAULT_STORAGE

    if study is not None:
        check_study_name(study, "--study")
    cfg = _shallow(config) if config is not None else None
    url = storage or (cfg.storage if cfg else None) or DEFAULT_STORAGE
    return load_existing(study or (cfg.name if cfg else None) or only_study(url), url)


@results_app.command()
@exits
def status(
    config: OptionalConfig = None, study: StudyOpt = None, storage: StorageOpt = None
) -> None:
    """Counts of trials by state, and the best value so far; fails trials whose worker died."""
    from sweeps.run.reaper import reap_for_status
    from sweeps.search.study import state_counts
    from sweeps.track.stats import by_choice, format_table, study_baseline

    st = _open(config, study, storage)
    reap_for_status(st, _shallow(config) if config else None, storage, typer.echo)
    counts = state_counts(st)
    typer.echo(f"study {st.study_name!r}: {sum(counts.values())} trials")
    for state, n in sorted(counts.items()):
        typer.echo(f"  {state.lower():9s} {n}")
    for line in _gpu_lines(st):
        typer.echo(line)
    stopped = st.user_attrs.get(STOP_ATTR)
    if stopped:
        typer.echo(f"stopped early: {stopped}")
    baseline = study_baseline(st.get_trials(deepcopy=False))
    for line in format_table(by_choice(st), baseline):
        typer.echo(line)
    _echo_best(st)


def _gpu_lines(st: Any) -> list[str]:
    """Which GPU each running trial trains on (sweeps/run/placement.py), where one does."""
    from optuna.trial import TrialState

    running = st.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [
        f"  trial {t.number} runs on gpu {t.user_attrs[GPU_ATTR]}"
        for t in running
        if GPU_ATTR in t.user_attrs
    ]


def _echo_best(st: Any) -> None:
    from optuna.trial import TrialState

    if not st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        from sweeps.search.study import no_completed_trial

        typer.echo(no_completed_trial(st))
        return
    if len(st.directions) > 1:
        from sweeps.search.ranking import ranked
        from sweeps.track.leaderboard import objective_names

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
    run_id = best.user_attrs.get(RUN_ATTR)
    if run_id:
        typer.echo(f"  mlflow run {run_id}")


@results_app.command()
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
    from sweeps.search.study import best_config_yaml

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
    from sweeps.config.loader import load_config

    return load_config(config, check_data=False)


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
    from sweeps.track.report import read_client, write_report

    st = _open(config, study, storage)
    uri = tracking_uri or (_shallow(config).tracking.uri if config else "sqlite:///mlflow.db")
    try:
        write_report(st, out, read_client(uri))
    except OSError as err:
        raise ConfigError(f"--out {str(out)!r} cannot be written: {err.strerror}") from None
    size = out.stat().st_size // 1024
    typer.echo(f"wrote {out.resolve()} ({size} KiB); open it in any browser")


@results_app.command()
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

    from sweeps.stores.storage import DEFAULT_STORAGE, open_storage

    st = _open(config, study, storage)  # the study must exist: a typo fails here, not in a page
    url = storage or (_shallow(config).storage if config else None) or DEFAULT_STORAGE
    store = open_storage(url)
    study_id = store.get_study_id_from_name(st.study_name)
    typer.echo(
        f"optuna-dashboard for study {st.study_name!r} at "
        f"http://127.0.0.1:{port}/dashboard/studies/{study_id} (Ctrl-C stops it)"
    )
    optuna_dashboard.run_server(store, host="127.0.0.1", port=port)


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
    uri = tracking_uri or (_shallow(config).tracking.uri if config else "sqlite:///mlflow.db")
    if not uri.startswith("sqlite:///"):
        typer.echo(f"{redact(uri)} is a tracking server: open it in a browser")
        return
    store = Path(uri.removeprefix("sqlite:///"))
    if not empty and not store.is_file():
        raise ConfigError(
            f"no sweep here: {store} does not exist; run `sweep run CONFIG` first, pass the "
            "sweep's CONFIG or --tracking-uri, or --empty to serve a new, empty store"
        )
    from sweeps.track.ui import serve

    raise typer.Exit(serve(uri, port, typer.echo))
