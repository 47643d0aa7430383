"""Who owns a RUNNING trial, and what happens to a trial whose owner is gone.

Each trial records the host and PID of the process running it, and that process writes a
heartbeat (a time stamp) every `search.heartbeat` seconds. A coordinator fails at once any
RUNNING trial whose process on this host has died, and a trial of another host once its
heartbeat is three intervals old. Failing is Optuna's compare-and-set (`Study.tell` refuses a
finished trial), so when two coordinators reap the same trial, one wins and only it retries.

Optuna's own heartbeat exists only for RDB storages (not the journal file or the gRPC proxy),
and it knows no PIDs, so a dead local worker would wait out the grace; hence this module.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import (
    BEAT_ATTR,
    CHAIN_ATTR,
    HOST_ATTR,
    INTERRUPTED_ATTR,
    PID_ATTR,
    REAPED_ATTR,
    RESUME_RUN_ATTR,
    RETRY_OF,
    RUN_ATTR,
    SESSION_ATTR,
    START_ATTR,
)
from sweeps.output import Echo

if TYPE_CHECKING:
    from sweeps.config.schema import Config

GRACE_BEATS = 3  # another host's trial is dead after this many missed heartbeats

CloseRun = Callable[[FrozenTrial, str], None]


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused PID apart)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]  # a zombie has died already


def alive(pid: int, start: str | None) -> bool:
    """Whether the process that ran a trial on this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _proc_start(pid)
    if Path("/proc").is_dir() and now is None:
        return False
    return start is None or now is None or now == start


def claim(trial: optuna.Trial, session: str) -> None:
    """Record this process as the trial's owner, with a first heartbeat."""
    pid = os.getpid()
    # The host goes last: a reaper that sees it on its own host reads the pid next.
    trial.set_user_attr(PID_ATTR, pid)
    trial.set_user_attr(START_ATTR, _proc_start(pid))
    trial.set_user_attr(HOST_ATTR, socket.gethostname())
    trial.set_user_attr(SESSION_ATTR, session)
    trial.set_user_attr(BEAT_ATTR, time.time())


@contextmanager
def beating(trial: optuna.Trial, interval: float) -> Iterator[None]:
    """A heartbeat thread for the block; it stops before the trial is told its result."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                trial.set_user_attr(BEAT_ATTR, time.time())
            except Exception:  # noqa: BLE001 - a missed beat only delays a reap elsewhere
                continue

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def owner_gone(trial: FrozenTrial, heartbeat: float, now: float | None = None) -> str | None:
    """Why a RUNNING trial has no live owner, or None if it may still be running."""
    now = time.time() if now is None else now
    attrs = trial.user_attrs
    # Without a pid the claim is under way (or its process died during it): judge by beats.
    if attrs.get(HOST_ATTR) == socket.gethostname() and PID_ATTR in attrs:
        if alive(int(attrs[PID_ATTR]), attrs.get(START_ATTR)):
            return None
        return f"its process {attrs[PID_ATTR]} on this host is gone (killed or crashed)"
    grace = GRACE_BEATS * heartbeat
    beat = attrs.get(BEAT_ATTR)
    if beat is None:  # never claimed: the process died between creating and claiming it
        started = trial.datetime_start or datetime.now()
        beat = started.timestamp()
    if now - float(beat) <= grace:
        return None
    host = attrs.get(HOST_ATTR, "an unknown host")
    return f"its worker on {host} sent no heartbeat for {now - float(beat):.0f}s (grace {grace:g}s)"


def retry(study: optuna.Study, trial: FrozenTrial, *, reaped: bool) -> None:
    """Queue the trial's params again; the retry resumes from its checkpoint and MLflow run."""
    attrs = trial.user_attrs
    user_attrs = {
        RETRY_OF: trial.number,
        CHAIN_ATTR: attrs.get(CHAIN_ATTR, trial.number),
        REAPED_ATTR: attrs.get(REAPED_ATTR, 0) + (1 if reaped else 0),
    }
    if RUN_ATTR in attrs:
        user_attrs[RESUME_RUN_ATTR] = attrs[RUN_ATTR]
    study.enqueue_trial(dict(trial.params), user_attrs=user_attrs)


def reap(study: optuna.Study, heartbeat: float, close_run: CloseRun, report: Echo) -> list[int]:
    """Fail each RUNNING trial no live process owns, close its run, retry it once."""
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = owner_gone(trial, heartbeat)
        if reason is None:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another coordinator reaped it first, or its owner just finished it
        close_run(trial, reason)
        again = trial.user_attrs.get(REAPED_ATTR, 0) < 1
        if again:
            retry(study, trial, reaped=True)
        report(f"trial {trial.number:3d} REAPED    {reason}{'; retried' if again else ''}")
        reaped.append(trial.number)
    return reaped


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue once more, with the same params, each trial a signal stopped and not yet retried."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    again = [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and t.user_attrs.get(INTERRUPTED_ATTR)
        and t.number not in retried
    ]
    for t in again:
        retry(study, t, reaped=False)
    return [t.number for t in again]


def reap_for_status(
    study: optuna.Study, config: Config | None, storage: str | None, report: Echo
) -> None:
    """`sweep status` tidies too: no trial stays RUNNING after its process is gone.

    Here, not in the coordinator, so that reading a study imports no torch.
    """
    from sweeps.config.schema import TrackingConfig
    from sweeps.config.search import SearchConfig
    from sweeps.stores.storage import DEFAULT_STORAGE, lock_for

    url = storage or (config.storage if config else None) or DEFAULT_STORAGE
    search = config.search if config else SearchConfig()
    uri = config.tracking.uri if config else TrackingConfig().uri

    def close(trial: optuna.trial.FrozenTrial, reason: str) -> None:
        # MLflow is imported only for a dead trial: its import would double `sweep status`'s
        # time (`make bench CASES=cli`).
        from mlflow import MlflowClient

        from sweeps.track.tracking import TrialRun, absolute_uri

        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id is None:
            return
        try:
            run = TrialRun(MlflowClient(absolute_uri(uri)), str(run_id))
            run.finish(state="FAIL", status="KILLED", reason=reason)
        except Exception as err:  # noqa: BLE001 - the study is fixed even if MLflow is elsewhere
            report(f"warning: MLflow run {run_id} could not be closed here ({err})")

    with lock_for(url, study.study_name)():
        reap(study, search.heartbeat, close, report)
