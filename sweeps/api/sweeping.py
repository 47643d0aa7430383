"""The API's functions that train or check a config: run, train, reproduce, validate."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sweeps.api.common import Overrides, PathLike, default_tracking_uri, load, stoppable
from sweeps.api.models import model_version
from sweeps.api.results import SweepResult, TrainOutcome, Trial, Validation
from sweeps.keys import check_study_name
from sweeps.output import Echo
from sweeps.secrets import redact

if TYPE_CHECKING:
    from sweeps.config.schema import Config
    from sweeps.train.trial import TrainResult


def run(
    config: PathLike,
    overrides: Overrides = None,
    *,
    workers: int | str = 1,
    storage: str | None = None,
    study: str | None = None,
    tracking_uri: str | None = None,
    from_study: str | None = None,
    from_top: int = 5,
    gpus: str | None = None,
    echo: Echo = print,
) -> SweepResult:
    """Run the sweep, resume it, or join it: until search.n_trials trials have finished in
    total, or search.stop fires. `workers`: processes on this machine (a number, or "auto":
    search.trials_per_gpu per GPU where a gpu or auto accelerator has GPUs, else one per core);
    `gpus`: the GPUs they are spread over, round robin ("0,2"; default all).

    `from_study` names a study in the same storage whose `from_top` best params run first.
    Progress goes to `echo`, one line at a time.
    """
    with stoppable():  # from the start: a SIGTERM during imports must not kill silently
        for flag, name in (("--study", study), ("--from-study", from_study)):
            if name is not None:
                check_study_name(name, flag)
        cfg = load(config, overrides, tracking_uri)
        from sweeps.runner import children, placement
        from sweeps.runner.preflight import check_config

        check_config(cfg)  # what validate refuses, refused before torch is imported
        placed = placement.placed_gpus(cfg.trainer.accelerator, gpus, placement.visible_gpus())
        count = placement.workers_for(str(workers), placed, cfg.search.trials_per_gpu)
        if count == 1:  # this process trains: pinned before torch is imported
            os.environ.update(placement.pin(placement.gpu_for(0, placed)))
        started = range(count if count > 1 else 0)
        spawned = [children.start(placement.gpu_for(i, placed)) for i in started]
        try:  # the workers import their stack while this process imports its own
            from sweeps.runner.coordinator import run_sweep

            summary = run_sweep(
                cfg,
                storage=storage,
                study_name=study,
                report=echo,
                from_study=from_study,
                from_top=from_top,
                workers=count,
                spawned=spawned,
                gpus=placed,
            )
        finally:
            children.dismiss(spawned)  # those never given orders: an early exit or an error
    best = None
    if summary.best_value is not None:
        number = summary.best_number if summary.best_number is not None else -1
        best = Trial(number, [summary.best_value], summary.best_params, summary.best_run_id)
    return SweepResult(
        study=summary.study_name,
        experiment=cfg.name,
        metric=cfg.search.metric,
        n_objectives=len(cfg.search.all_metrics()),
        n_trials=cfg.search.n_trials,
        storage=redact(summary.storage),
        tracking_uri=redact(summary.tracking_uri),
        parent_run_id=summary.parent_run_id,
        counts=summary.counts,
        best=best,
        baselines=summary.baselines,
        seconds=summary.seconds,
        already_done=summary.already_done,
        stopped=summary.stopped,
        all_failed=summary.all_failed,
        model=model_version(summary.model),
    )


def validate(config: PathLike, overrides: Overrides = None) -> Validation:
    """Check the config without training: schema, data sources, search space, metric, device.

    Raises ConfigError (exit 2) when invalid, UnavailableError (exit 1) when unusable here.
    """
    # No torch here: the dataset's catalog entry stands in for built-in data, and a user's table
    # is read with pandas; only trainer.accelerator: gpu imports torch, to ask it for a device.
    from sweeps.runner.preflight import check_config
    from sweeps.search.space import tree_lines

    cfg = load(config, overrides)
    check_config(cfg)
    pairs = zip(cfg.search.all_metrics(), cfg.search.all_directions(), strict=True)
    space = tree_lines(cfg) if cfg.search.space else []
    return Validation(cfg.name, cfg.data.name, cfg.search.n_trials, list(pairs), space)


def fit(
    config: PathLike, overrides: Overrides = None, *, tracking_uri: str | None = None
) -> TrainOutcome:
    """Train once with the config's own values (no search), test, and log one MLflow run."""
    with stoppable():
        cfg = load(config, overrides, tracking_uri)
        from sweeps.runner.single import train_once

        result, run_id = train_once(cfg)
    return _outcome(cfg, result, run_id)


def reproduce(run_id: str, *, tracking_uri: str | None = None, echo: Echo = print) -> TrainOutcome:
    """Retrain a logged run (a trial, or a train run) from its own config.yaml.

    Before training, `echo` says which of its provenance (code commit, uncommitted changes,
    packages, Python, torch, CUDA, data) differ from now: such a rerun is not the same run.
    """
    from sweeps.runner.single import logged_run, train_once
    from sweeps.track.provenance import differences, provenance_tags

    cfg, reached, logged = logged_run(tracking_uri or default_tracking_uri(), run_id)
    changed = differences(dict(logged.data.tags), provenance_tags(cfg))
    if changed:
        echo(f"not the same conditions as run {run_id}:")
        for line in changed:
            echo(f"  {line}")
    else:
        echo(f"same code, packages and data as run {run_id}")
    with stoppable():
        result, new_id = train_once(cfg, reproduces=logged)
    return _outcome(cfg, result, new_id, reproduces=run_id, reached=reached, differences=changed)


def _outcome(
    cfg: Config,
    result: TrainResult,
    run_id: str,
    *,
    reproduces: str | None = None,
    reached: float | None = None,
    differences: list[str] | None = None,
) -> TrainOutcome:
    return TrainOutcome(
        experiment=cfg.name,
        metric=cfg.search.metric,
        tracking_uri=redact(cfg.tracking.uri),
        run_id=run_id,
        best_value=result.best_value,
        best_epoch=result.best_epoch,
        epochs_run=result.epochs_run,
        n_parameters=result.n_parameters,
        test_metrics=dict(result.test_metrics),
        reproduces=reproduces,
        reached_before=reached,
        differences=differences or [],
    )
