"""search.stop: a sweep that stops when it has its answer, for every worker on every machine.

The rule reads the finished trials in the order they finished and fires at the first point where
  - target: a COMPLETE trial's value reaches `target` (<= when minimizing, >= when maximizing);
  - patience: `patience` finished trials in a row brought no new best (pruned and failed trials
    count as trials without improvement; interrupted ones, which will be retried, do not).
Once it has fired it stays fired: a trial that was already running may still improve the best
afterwards, and the sweep stays stopped. The worker asks this rule, under the study's lock, each
time a trial finishes and before each fresh trial is created (sweeps/runner/worker.py), so no
trial starts after the finish that decided the stop; those already running finish normally.

Why the sweep stopped is kept as a study user attribute (STOP_ATTR), for the leaderboard and
`sweep status`; a rule that no longer fires (search.stop changed on a resume) clears it.
"""

from __future__ import annotations

import datetime as dt

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.config.search import SearchConfig, StopConfig
from sweeps.keys import INTERRUPTED_ATTR, STOP_ATTR
from sweeps.search.ranking import better
from sweeps.search.study import superseded

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_NEVER = dt.datetime.max  # a finished trial always has its time; this only keeps mypy calm


def finish_order(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials that count as finished, in the order they finished (then by number)."""
    replaced = superseded(trials)
    done = [
        t
        for t in trials
        if t.state in _FINISHED
        and not t.user_attrs.get(INTERRUPTED_ATTR)
        and t.number not in replaced
    ]
    return sorted(done, key=lambda t: (t.datetime_complete or _NEVER, t.number))


def stop_reason(
    trials: list[FrozenTrial], stop: StopConfig, *, minimize: bool, metric: str
) -> str | None:
    """Why the sweep stops, in one line; None while no rule has fired."""
    if stop.target is None and stop.patience is None:
        return None
    up = not minimize
    best: tuple[float, int] | None = None  # value, trial number
    since = 0  # finished trials since the best one (or since the start)
    for t in finish_order(trials):
        value = t.values[0] if t.state == TrialState.COMPLETE and t.values else None
        target = stop.target
        if value is not None and target is not None and not better(target, value, maximize=up):
            sign = "<=" if minimize else ">="
            return (
                f"search.stop.target reached: trial {t.number} has {metric} = {value:.6g} "
                f"{sign} {stop.target:g}"
            )
        if value is not None and (best is None or better(value, best[0], maximize=up)):
            best, since = (value, t.number), 0
        else:
            since += 1
        if stop.patience is not None and since >= stop.patience:
            after = (
                "no trial completed"
                if best is None
                else f"best {metric} = {best[0]:.6g} (trial {best[1]})"
            )
            return (
                f"search.stop.patience reached: {since} finished trials in a row without a new "
                f"best; {after}"
            )
    return None


class Stopper:
    """search.stop for one study in one storage; call `settle` under the study's lock."""

    def __init__(
        self, storage: optuna.storages.BaseStorage, study_name: str, search: SearchConfig
    ) -> None:
        self._storage = storage
        self._name = study_name
        self._search = search
        self._study_id: int | None = None

    def settle(self, trials: list[FrozenTrial] | None = None) -> str | None:
        """Decide from the study's trials (read now if not given), record why; None: go on."""
        if self._study_id is None:
            self._study_id = self._storage.get_study_id_from_name(self._name)
        reason = None
        if self._search.stop.target is not None or self._search.stop.patience is not None:
            if trials is None:
                trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
            reason = reason_for(trials, self._search)
        if self._storage.get_study_user_attrs(self._study_id).get(STOP_ATTR) != reason:
            self._storage.set_study_user_attr(self._study_id, STOP_ATTR, reason)
        return reason


def settle_study(study: optuna.Study, search: SearchConfig) -> str | None:
    """`Stopper.settle` on an open study: the coordinator's check before it starts workers."""
    reason = reason_for(study.get_trials(deepcopy=False), search)
    if study.user_attrs.get(STOP_ATTR) != reason:
        study.set_user_attr(STOP_ATTR, reason)
    return reason


def reason_for(trials: list[FrozenTrial], search: SearchConfig) -> str | None:
    """`stop_reason` with the search's own rule, direction and metric."""
    minimize = search.direction == "minimize"
    return stop_reason(trials, search.stop, minimize=minimize, metric=search.metric)


def recorded(study: optuna.Study) -> str | None:
    """Why the study stopped, as its workers recorded it; None if it did not."""
    reason = study.user_attrs.get(STOP_ATTR)
    return reason if isinstance(reason, str) else None
