"""Where the MLflow UI opens: routes in model-training mode, and each study's shared view.

MLflow 3.17's UI reads two things from a link (its routes follow the '#'):

- `workflowType=machine_learning` picks model-training mode. Without it a browser that has not
  chosen "Model training" opens GenAI mode (traces, no runs), whatever the experiment's tags.
- `viewStateShareKey=KEY` loads a view that the experiment keeps in its tag
  `mlflow.sharedViewState.KEY`: JSON holding the runs page's search facets (`searchFilter`,
  `orderByKey`, `orderByAsc`) and its UI state (`selectedColumns`, expanded rows, grouping...).
  The UI's own "Share" button writes the same tag.

So each study's leaderboard writes one view: its trials only (a filter on the trial kind and
the study), best first by the study's metric, with the metric, the searched params and the
trial's Optuna state as columns. Keys the UI does not know (`sweep.*`) are ignored by it and
tell `sweep ui` what the view shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sweeps.keys import KIND_TAG

MODE = "workflowType=machine_learning"
VIEW_TAG = "mlflow.sharedViewState."  # + the share key: the prefix MLflow's UI reads
VIEW_PREFIX = "ranked-"  # our views' share keys, told apart from views a user shared
COLUMN_PX = 110
STATE_TAG = "optuna.state"  # COMPLETE, PRUNED, FAIL: a column that tells pruned from failed


EXPERIMENTS_ROUTE = f"#/experiments?{MODE}"  # the list of experiments


def run_route(experiment_id: str, run_id: str) -> str:
    """A run's page in model-training mode."""
    return f"#/experiments/{experiment_id}/runs/{run_id}?{MODE}"


def runs_route(experiment_id: str) -> str:
    """An experiment's runs in model-training mode, as MLflow lists them."""
    return f"#/experiments/{experiment_id}/runs?{MODE}"


def share_key(study: str) -> str:
    """The study's view key: readable where the name is URL- and tag-safe, else a digest."""
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", study):
        return VIEW_PREFIX + study
    return VIEW_PREFIX + hashlib.sha256(study.encode()).hexdigest()[:16]


def ranked_view_route(experiment_id: str, study: str) -> str:
    """The study's trials, ranked, through its shared view."""
    return f"{runs_route(experiment_id)}&viewStateShareKey={share_key(study)}"


def _column(kind: str, key: str) -> str:
    return f"{kind}.`{key}`"  # the UI's canonical column key


def _quoted(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def ranked_view(
    study: str, metric: str, *, minimize: bool, params: list[str], parent_id: str
) -> dict[str, Any]:
    """The shared view state of a study's ranked trials (MLflow 3.17's field names)."""
    columns = [
        _column("metrics", metric),
        *(_column("params", p) for p in params),
        _column("tags", STATE_TAG),
    ]
    return {
        "searchFilter": f"tags.`{KIND_TAG}` = 'trial' AND tags.`optuna.study` = {_quoted(study)}",
        "orderByKey": _column("metrics", metric),
        "orderByAsc": minimize,
        "selectedColumns": columns,
        # Narrow columns, so the state column still shows beside the UI's assistant panel;
        # the UI applies widths only to the columns that columnOrder names.
        "columnOrder": columns,
        "columnWidths": dict.fromkeys(columns, COLUMN_PX),
        # The rest of the UI state, at the UI's defaults: a shared view replaces all of it.
        "runsExpanded": {},
        "runsPinned": [],
        "runsHidden": [],
        "runsVisibilityMap": {},
        "runsHiddenMode": "SHOW_ALL",
        "viewMaximized": False,
        "runListHidden": False,
        "isAccordionReordered": False,
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "groupBy": None,
        "groupsExpanded": {},
        "autoRefreshEnabled": True,
        "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0},
        "sweep.study": study,
        "sweep.metric": metric,
        "sweep.parent_run": parent_id,
    }


def view_tag(study: str, view: dict[str, Any]) -> tuple[str, str]:
    """The experiment tag (key, value) that holds a study's view."""
    return VIEW_TAG + share_key(study), json.dumps(view, separators=(",", ":"))


def view_links(url: str, experiment_id: str, tags: dict[str, str]) -> list[str]:
    """Per study with a view in the experiment's `tags`: its ranked trials, then its parent."""
    lines = []
    for key, value in sorted(tags.items()):
        if not key.startswith(VIEW_TAG + VIEW_PREFIX):
            continue
        try:
            view = json.loads(value)
            study, metric = view["sweep.study"], view["sweep.metric"]
            parent = view["sweep.parent_run"]
        except (ValueError, KeyError, TypeError):
            continue  # not one of ours after all
        lines.append(
            f"  trials of {study!r} ranked by {metric}: "
            f"{url}/{ranked_view_route(experiment_id, str(study))}"
        )
        lines.append(f"  leaderboard of {study!r}: {url}/{run_route(experiment_id, str(parent))}")
    return lines
