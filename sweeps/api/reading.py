"""The API's functions that read a study: load, status, best, report. None imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.api.common import PathLike, is_config, open_study, storage_of, tracking_uri_of
from sweeps.api.results import BestResult, Leaders, StudyStatus, Trial
from sweeps.errors import ConfigError
from sweeps.keys import CONFIG_ATTR, GPU_ATTR, RUN_ATTR, STOP_ATTR
from sweeps.output import Echo

if TYPE_CHECKING:
    import optuna
    import pandas  # type: ignore[import-untyped,unused-ignore]
    from optuna.trial import FrozenTrial


def load(config_or_study: PathLike, *, storage: str | None = None) -> pandas.DataFrame:
    """The trials of a study as a DataFrame, one row per trial, with its MLflow run id.

    `config_or_study` is a config's path (its name and storage are used) or a study's name.
    Columns: number, value (values_0, values_1... with several objectives), state, the
    datetimes and duration, params_NAME for each parameter, and mlflow_run_id.
    """
    if is_config(config_or_study):
        st, _ = open_study(config_or_study, None, storage)
    else:
        st, _ = open_study(None, str(config_or_study), storage)
    attrs = ("number", "value", "state", "datetime_start", "datetime_complete", "duration")
    frame = st.trials_dataframe(attrs=(*attrs, "params"))
    trials = st.get_trials(deepcopy=False)
    frame["mlflow_run_id"] = [t.user_attrs.get(RUN_ATTR) for t in trials]
    return frame


def _trial(t: FrozenTrial) -> Trial:
    run_id = t.user_attrs.get(RUN_ATTR)
    return Trial(t.number, list(t.values), dict(t.params), str(run_id) if run_id else None)


def leaders(st: optuna.Study) -> Leaders:
    """The best trial, or the Pareto front, or why there is none yet."""
    from optuna.trial import TrialState

    from sweeps.search.study import no_completed_trial

    if not st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return Leaders(st.study_name, [], None, no_best=no_completed_trial(st))
    if len(st.directions) > 1:
        from sweeps.search.ranking import ranked
        from sweeps.track.leaderboard import objective_names  # imports MLflow: here only

        return Leaders(st.study_name, objective_names(st), None, [_trial(t) for t in ranked(st)])
    best = st.best_trial
    metric = best.user_attrs.get(CONFIG_ATTR, {}).get("search", {}).get("metric") or "value"
    return Leaders(st.study_name, [str(metric)], _trial(best))


def status(
    config: PathLike | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    echo: Echo = print,
) -> StudyStatus:
    """Counts of trials by state, the GPU of each running trial, the leaders; fails trials whose
    worker died (said on echo). Neither config nor study: the storage's only study."""
    from optuna.trial import TrialState

    from sweeps.runner.reaper import reap_for_status
    from sweeps.search.study import state_counts
    from sweeps.track.stats import by_choice, format_table, study_baseline

    st, cfg = open_study(config, study, storage)
    reap_for_status(st, cfg, storage, echo)
    baseline = study_baseline(st.get_trials(deepcopy=False))
    stopped = st.user_attrs.get(STOP_ATTR)
    running = st.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return StudyStatus(
        study=st.study_name,
        counts=dict(sorted(state_counts(st).items())),
        stopped=str(stopped) if stopped else None,
        table=format_table(by_choice(st), baseline),
        leaders=leaders(st),
        gpus={t.number: str(t.user_attrs[GPU_ATTR]) for t in running if GPU_ATTR in t.user_attrs},
    )


def best(
    config: PathLike | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    out: PathLike | None = None,
    register: str | None = None,
    tracking_uri: str | None = None,
) -> BestResult:
    """The best trial (or Pareto front); `out` writes the full config it ran with as YAML;
    `register` logs its network as an MLflow model, a new version of that registered model
    with the alias `champion` (at `tracking_uri`, else the config's, else ./mlflow.db)."""
    st, _ = open_study(config, study, storage)
    written = None
    if out is not None:
        from sweeps.search.study import best_config_yaml

        written = Path(out)
        try:
            written.write_text(best_config_yaml(st))
        except OSError as err:
            raise ConfigError(f"--out {str(out)!r} cannot be written: {err.strerror}") from None
    model = None
    if register is not None:
        from sweeps.api.models import register_best

        model = register_best(st, tracking_uri_of(config, tracking_uri), register)
    return BestResult(leaders(st), written, model)


def report(
    config: PathLike | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    out: PathLike = "report.html",
) -> Path:
    """Write one self-contained HTML report of a study (it only reads); returns its path."""
    from sweeps.track.report import read_client, write_report

    st, _ = open_study(config, study, storage)
    path = Path(out)
    try:
        write_report(st, path, read_client(tracking_uri_of(config, tracking_uri)))
    except OSError as err:
        raise ConfigError(f"--out {str(out)!r} cannot be written: {err.strerror}") from None
    return path


def study_id(config: PathLike | None, study: str | None, storage: str | None) -> tuple[Any, int]:
    """The storage and study id a dashboard serves; the study must exist."""
    from sweeps.stores.storage import open_storage

    st, cfg = open_study(config, study, storage)
    store = open_storage(storage_of(cfg, storage))
    return store, store.get_study_id_from_name(st.study_name)
