"""The end of a sweep's parent run: the report and figures attached, then closed at its time.

Whichever coordinator finishes last closes it; one that finds a trial still running elsewhere
leaves that to the trial's coordinator.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.output import Echo
from sweeps.stores.storage import StudyLock
from sweeps.track.tracking import Tracker


def close_parent(
    tracker: Tracker,
    parent_id: str,
    study: optuna.Study,
    lock: StudyLock,
    *,
    status: str,
    report: Echo,
    end: int | None = None,
) -> None:
    """End the parent run (at `end`, unix ms, or now), unless a trial still runs elsewhere:
    its coordinator closes it."""
    with lock():
        if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return
        if status != "KILLED":  # stopping: no new work after a signal
            _attach_report(tracker, parent_id, study, report)
            _attach_plots(tracker, study, report)
        tracker.close_parent(parent_id, study, status=status, end_ms=end)


def last_end_ms(trials: list[FrozenTrial]) -> int | None:
    """When the study's last trial ended, in unix ms: the end of a sweep that is done."""
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return int(max(ends).timestamp() * 1000) if ends else None


def _attach_report(tracker: Tracker, parent_id: str, study: optuna.Study, report: Echo) -> None:
    """The offline report on the parent run; a failure to write it must not fail the sweep."""
    from sweeps.track.report import attach

    try:
        attach(tracker.client, parent_id, study)
    except Exception as err:  # noqa: BLE001
        report(f"warning: report.html could not be attached to the parent run ({err})")


def _attach_plots(tracker: Tracker, study: optuna.Study, report: Echo) -> None:
    """The gradient-over-time figure of each cell's best trial, drawn once per sweep."""
    from sweeps.train.diagnosis import plot_best

    try:
        plot_best(tracker.client, study)
    except Exception as err:  # noqa: BLE001
        report(f"warning: the diagnostics figures could not be drawn ({err})")
