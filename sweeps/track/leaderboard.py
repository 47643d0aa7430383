"""The sweep's answer, kept where MLflow shows it: the parent run's description is a leaderboard.

MLflow renders a run's `mlflow.note.content` tag as markdown on the run page, and an
experiment's as the experiment's description. After every finished trial the parent run gets
the top trials (values, params, links), the counts by state and the per-cell summary, and the
experiment's description points at it.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import CONFIG_ATTR, NOTE_TAG, RUN_ATTR, STOP_ATTR
from sweeps.search.ranking import maximizing, ranked, trial_value
from sweeps.track.stats import by_choice
from sweeps.track.views import ranked_view, ranked_view_route, run_route, view_tag

if TYPE_CHECKING:
    from mlflow import MlflowClient

TOP = 10
RUNNERS_UP = 4  # named beside the best, above the fold


def objective_names(study: optuna.Study, first: str | None = None) -> list[str]:
    """The searched metrics, as the trials' stored configs name them."""
    n = len(study.directions)
    for t in study.get_trials(deepcopy=False):
        metric = t.user_attrs.get(CONFIG_ATTR, {}).get("search", {}).get("objectives") or [
            t.user_attrs.get(CONFIG_ATTR, {}).get("search", {}).get("metric")
        ]
        if len(metric) == n and all(isinstance(m, str) for m in metric):
            return [str(m) for m in metric]
    if n == 1:
        return [first or "value"]
    return [first or "value 0", *(f"value {i}" for i in range(1, n))]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def run_link(experiment_id: str, run_id: str | None) -> str:
    """A link the MLflow UI resolves from its own page (its routes live after the '#')."""
    return f"[run]({run_route(experiment_id, run_id)})" if run_id else "-"


def _runners_up(best: list[FrozenTrial], experiment_id: str) -> list[str]:
    """The next trials on one line: MLflow's run page folds a description after about 150
    pixels, so the top of the ranking must fit above the fold, beside the best."""
    if len(best) < 2:
        return []
    shown = [
        f"trial {t.number} = {t.values[0]:.4g} "
        f"({run_link(experiment_id, t.user_attrs.get(RUN_ATTR))})"
        for t in best[1 : RUNNERS_UP + 1]
    ]
    return ["", "Then " + ", ".join(shown) + "; the full ranking is below."]


def markdown(study: optuna.Study, metric: str, experiment_id: str, top: int = TOP) -> str:
    """The leaderboard: headline, top trials, counts by state, per-cell summary."""
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    best = ranked(study)
    names = objective_names(study, metric)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    lines = []  # MLflow folds a long description after a few lines: the answer comes first
    if best and len(names) > 1:
        lines.append(
            f"**Pareto front: {len(best)} trials** trading off {', '.join(names)}; "
            f"sorted by {names[0]} below."
        )
    elif best:
        top_one = best[0]
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in top_one.params.items())
        link = run_link(experiment_id, top_one.user_attrs.get(RUN_ATTR))
        lines.append(
            f"**Best {metric} = {top_one.values[0]:.6g}**, trial {top_one.number} ({link}): {shown}"
        )
        lines += _runners_up(best, experiment_id)
    else:
        lines.append("No trial has completed yet.")
    stopped = study.user_attrs.get(STOP_ATTR)
    if stopped:
        lines += ["", f"**Stopped early**: {stopped}."]
    state_text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    direction = study.directions[0].name.lower()
    lines += [
        "",
        f"Study `{study.study_name}` ({direction} {metric}): {len(trials)} trials, "
        f"{state_text}. Updated {stamp}.",
        "",
    ]
    if best:
        params = sorted({k for t in best[:top] for k in t.params})
        lines += [
            f"### Top {min(top, len(best))} trials"
            if len(names) == 1
            else f"### The Pareto front ({len(best)} trials)",
            "",
            "| rank | trial | " + " | ".join([*names, *params]) + " | run |",
            "|" + " --- |" * (len(params) + len(names) + 3),
        ]
        for rank, t in enumerate(best[:top], 1):
            cells = [*(_fmt(v) for v in t.values), *(_fmt(t.params.get(p)) for p in params)]
            link = run_link(experiment_id, t.user_attrs.get(RUN_ATTR))
            lines.append(f"| {rank} | {t.number} | " + " | ".join(cells) + f" | {link} |")
        lines.append("")
    table = by_choice(study)
    if table:
        lines += [
            "### Per choice (pruned trials count with their best reported value)",
            "",
            f"| parameter | value | trials | complete | pruned | best {metric} | median |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for param, choices in table.items():
            for choice, s in choices.items():
                lines.append(
                    f"| {param} | {choice} | {s.trials} | {s.complete} | {s.pruned} "
                    f"| {_fmt(s.best)} | {_fmt(s.median)} |"
                )
    return "\n".join(lines) + "\n"


class Leaderboard:
    """An Optuna callback: after each finished trial, refresh the parent run's description."""

    def __init__(self, client: MlflowClient, experiment_id: str, parent_id: str, metric: str):
        self.client = client
        self.experiment_id = experiment_id
        self.parent_id = parent_id
        self.metric = metric

    def __call__(self, study: optuna.Study, trial: FrozenTrial | None = None) -> None:
        try:
            self._update(study, trial)
        except Exception as err:  # noqa: BLE001 - a stale description must not end the sweep
            warnings.warn(f"could not update the MLflow leaderboard: {err}", stacklevel=1)

    def _update(self, study: optuna.Study, trial: FrozenTrial | None) -> None:
        from mlflow.entities import Metric, RunTag

        note = markdown(study, self.metric, self.experiment_id)
        metrics = []
        best = ranked(study)
        if trial is not None and best and len(study.directions) == 1:  # best so far, a point
            # per finished trial
            finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
            stamp = int(time.time() * 1000)
            metrics.append(Metric("best_value", float(best[0].values[0]), stamp, finished))
        tags = [RunTag(NOTE_TAG, note)]
        if best and len(study.directions) == 1:  # the run page's tags show it at the top
            # imported here: objective_names serves commands that read a study without MLflow
            from sweeps.track.tracking import best_tags

            tags += best_tags(best[0])
        self.client.log_batch(self.parent_id, metrics=metrics, tags=tags)
        if trial is not None:
            self._log_pruned_value(study, trial)
        self._write_view(study)
        pointer = f"Sweep `{study.study_name}`: "
        if best:
            value, number = best[0].values[0], best[0].number
            pointer += f"**best {self.metric} = {value:.6g}** (trial {number}). "
        pointer += (  # one line: the experiment page folds its description after one
            f"[Trials ranked by {self.metric}]"
            f"({ranked_view_route(self.experiment_id, study.study_name)}), "
            f"[leaderboard]({run_route(self.experiment_id, self.parent_id)})."
        )
        self.client.set_experiment_tag(self.experiment_id, NOTE_TAG, pointer)

    def _log_pruned_value(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """A pruned trial's run gets the metric too, at the value it ranks by (its best
        report), so sorting the runs by the metric places it among the completed ones."""
        run_id = trial.user_attrs.get(RUN_ATTR)
        if trial.state != TrialState.PRUNED or run_id is None:
            return
        value = trial_value(trial, maximize=maximizing(study))
        if value is not None:
            self.client.log_metric(str(run_id), self.metric, value, step=0)

    def _write_view(self, study: optuna.Study) -> None:
        """The study's shared view in the experiment's tags: its trials, ranked (views.py)."""
        params = sorted({k for t in study.get_trials(deepcopy=False) for k in t.params})
        view = ranked_view(
            study.study_name,
            self.metric,
            minimize=not maximizing(study),
            params=params,
            parent_id=self.parent_id,
        )
        self.client.set_experiment_tag(self.experiment_id, *view_tag(study.study_name, view))
