"""`sweep report`: one self-contained HTML file that shows a study's answer and why.

It only reads: the study from Optuna, and the best trial's curves (with any `diag.` metrics)
from MLflow. It imports neither torch nor Lightning. The page draws its own SVG with the
inline script in `report.html`; nothing is fetched from a network when it is opened. Curves
are thinned to what a chart can show, extremes kept (sweeps/track/curves.py), so the page of
a 1,000-trial study stays small and quick to draw (benchmarks/report_scale.py).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import RUN_ATTR
from sweeps.search.ranking import maximizing, trial_value
from sweeps.track.curves import MAX_PER_CURVE, downsample, per_curve
from sweeps.track.leaderboard import objective_names
from sweeps.track.stats import by_choice

if TYPE_CHECKING:
    from mlflow import MlflowClient

MAX_CURVES = 24  # charts of the best run's metrics; diagnostics can log many
GRAD_OVER_TIME = "diagnostics/grad_over_time.json"  # the insight diagnostics' artifact


def _finite(value: Any) -> Any:
    """JSON for the page: NaN and infinity become null, so the script can skip them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _param_info(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    """Each searched parameter's kind and range, for axes: categorical, or numeric (log)."""
    seen: dict[str, optuna.distributions.BaseDistribution] = {}
    for t in trials:
        for name, dist in t.distributions.items():
            seen.setdefault(name, dist)
    out: list[dict[str, Any]] = []
    for name, dist in seen.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            out.append({"name": name, "kind": "cat", "choices": [str(c) for c in dist.choices]})
        else:
            low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
            log = bool(getattr(dist, "log", False))
            out.append({"name": name, "kind": "num", "low": low, "high": high, "log": log})
    return out


def importance_view(study: optuna.Study) -> optuna.Study:
    """An in-memory copy that holds each pruned trial as complete, at its value (its best
    report, `ranking.trial_value`).

    Optuna's importance evaluators read COMPLETE trials only, so a cell whose trials all get
    pruned would look unimportant. Every evaluator reads this one view of the study.
    """
    copy = optuna.create_study(directions=study.directions)
    if len(study.directions) > 1:
        return copy  # no single value to explain
    maximize = maximizing(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        value = trial_value(t, maximize=maximize)
        if value is not None:
            copy.add_trial(
                optuna.trial.create_trial(
                    params=t.params, distributions=t.distributions, value=value
                )
            )
    return copy


# fANOVA: the share of the value's variance each parameter explains, over all trials; it leaves
# out conditional parameters (those not in every trial). Its forest's trees stop at depth 8,
# not Optuna's 64: deeper trees only split single noisy trials apart, and their cost grows
# steeply with the trial count (the write time in benchmarks/report_scale.py).
# PED-ANOVA (Optuna 5's default): how differently each parameter is spread among the top 10%
# of trials than among all of them; on tens of trials its top-decile densities gave a
# parameter of no effect as much weight as the cell in our tests, so the report shows both.
EVALUATORS: dict[str, Callable[[], optuna.importance.BaseImportanceEvaluator]] = {
    "fanova": lambda: optuna.importance.FanovaImportanceEvaluator(max_depth=8, seed=0),
    "ped_anova": lambda: optuna.importance.PedAnovaImportanceEvaluator(),
}


def importances(view: optuna.Study, method: str = "fanova") -> dict[str, float] | str:
    """Each parameter's importance by `method` (a key of EVALUATORS), on an `importance_view`;
    a string says why none was computed."""
    if method not in EVALUATORS:
        raise ValueError(f"unknown importance {method!r}; expected one of {sorted(EVALUATORS)}")
    if len(view.directions) > 1:
        return "not computed: several objectives (the Pareto front is shown instead)"
    if len(view.trials) < 2:
        return "not computed: fewer than two finished trials (pruned ones included)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-evaluator notices, not user news
            found = optuna.importance.get_param_importances(view, evaluator=EVALUATORS[method]())
    except (RuntimeError, ValueError) as err:
        return f"not computed: {err}"
    if not found:
        return "not computed: fewer than two finished trials with varying parameters"
    return {k: float(v) for k, v in found.items()}


def _trial_row(t: FrozenTrial, maximize: bool, limit: int) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state.name,
        "values": list(t.values) if t.values is not None else None,
        "params": {k: (v if isinstance(v, int | float) else str(v)) for k, v in t.params.items()},
        "steps": downsample(sorted(t.intermediate_values.items()), limit),
        "value": trial_value(t, maximize=maximize),  # what the trial counts by, pruned too
        "run": t.user_attrs.get(RUN_ATTR),
        "seconds": t.duration.total_seconds() if t.duration is not None else None,
    }


def best_run_curves(client: MlflowClient | None, run_id: str | None) -> dict[str, Any]:
    """Every per-epoch metric of the best trial's run, diagnostics apart; {} when unreadable."""
    if client is None or run_id is None:
        return {}
    try:
        run = client.get_run(run_id)
        curves: dict[str, list[tuple[int, float]]] = {}
        diags: dict[str, list[tuple[int, float]]] = {}
        for key in sorted(run.data.metrics):
            history = client.get_metric_history(run_id, key)
            if len(history) < 2:
                continue  # a summary value, not a curve
            points = downsample(sorted((m.step, m.value) for m in history), MAX_PER_CURVE)
            (diags if key.startswith("diag.") else curves)[key] = points
    except Exception as err:  # noqa: BLE001 - the report still stands without MLflow
        return {"error": f"MLflow run {run_id} could not be read: {err}"}
    keep = dict(list(diags.items())[:MAX_CURVES])
    out = {"run": run_id, "curves": curves, "diag": keep, "diag_total": len(diags)}
    return {**out, "over_time": _grad_over_time(client, run_id)}


def _grad_over_time(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The run's `diagnostics/grad_over_time.json` (per layer, per epoch, per step), if any."""
    import os
    import tempfile

    # MLflow draws a progress bar on stderr for every download; a report prints one line.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        listed = {a.path for a in client.list_artifacts(run_id, GRAD_OVER_TIME.split("/")[0])}
        if GRAD_OVER_TIME not in listed:
            return {}
        with tempfile.TemporaryDirectory() as folder:
            path = client.download_artifacts(run_id, GRAD_OVER_TIME, folder)
            found = json.loads(Path(path).read_text())
    except Exception:  # noqa: BLE001 - an unreadable artifact only leaves its chart out
        return {}
    return found if isinstance(found, dict) and isinstance(found.get("curves"), dict) else {}


def _cell_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """The per-choice table (`stats.by_choice`, as `sweep status` shows it), one row a value."""
    return [
        {
            "param": param,
            "choice": choice,
            "trials": s.trials,
            "complete": s.complete,
            "pruned": s.pruned,
            "best": s.best,
            "median": s.median,
        }
        for param, choices in by_choice(study).items()
        for choice, s in choices.items()
    ]


def pareto(study: optuna.Study) -> list[int]:
    """Numbers of the trials on the Pareto front (multi-objective studies)."""
    if len(study.directions) < 2:
        return []
    return [t.number for t in study.best_trials]


def report_data(
    study: optuna.Study, client: MlflowClient | None = None, *, importance: bool = True
) -> dict[str, Any]:
    """Everything the page draws, as plain JSON-ready data; `importance=False` leaves the
    importances out (their evaluators are most of the time a large study's report takes)."""
    maximize = maximizing(study)
    trials = study.get_trials(deepcopy=False)
    limit = per_curve(sum(1 for t in trials if t.intermediate_values))
    rows = [_trial_row(t, maximize, limit) for t in trials]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best_run = None
    if complete and len(study.directions) == 1:
        best_run = study.best_trial.user_attrs.get(RUN_ATTR)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    data: dict[str, Any] = _finite(
        {
            "study": study.study_name,
            "metrics": objective_names(study),
            "directions": [d.name.lower() for d in study.directions],
            "counts": counts,
            "trials": rows,
            "params": _param_info(trials),
            "importance": _both_importances(
                study,
                None if importance else "left out",
                None if complete else "no completed trial",
            ),
            "cells": _cell_rows(study),
            "best": best_run_curves(client, best_run),
            "pareto": pareto(study),
        }
    )
    return data


def _both_importances(study: optuna.Study, *why_not: str | None) -> dict[str, Any]:
    for why in why_not:
        if why is not None:
            return {method: f"not computed: {why}" for method in EVALUATORS}
    view = importance_view(study)
    return {method: importances(view, method) for method in EVALUATORS}


def render(data: dict[str, Any]) -> str:
    """The HTML page with the data inlined; `</` is escaped so no value can end the script."""
    template = files("sweeps.track").joinpath("report.html").read_text(encoding="utf-8")
    blob = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    return template.replace("/*DATA*/null", blob).replace("{{title}}", _escape(data["study"]))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def read_client(uri: str) -> MlflowClient | None:
    """A client for an existing tracking store; None where opening would create one."""
    from mlflow import MlflowClient

    from sweeps.track.tracking import absolute_uri

    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    return MlflowClient(absolute_uri(uri))


def write_report(
    study: optuna.Study, out: Path, client: MlflowClient | None = None, *, importance: bool = True
) -> Path:
    """Write the report of `study` to `out`; returns the path."""
    out.write_text(render(report_data(study, client, importance=importance)), encoding="utf-8")
    return out


def attach(client: MlflowClient, parent_id: str, study: optuna.Study) -> None:
    """Write the report and log it to the parent run as `report.html`."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sweep-report-") as folder:
        path = write_report(study, Path(folder) / "report.html", client)
        client.log_artifact(parent_id, str(path))
