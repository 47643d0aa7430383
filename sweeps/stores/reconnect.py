"""Riding out a store that restarts: a call whose server does not answer is retried, with
backoff, for a bounded time, then fails with the same one line the preflight gives.

A PostgreSQL restart drops every connection; an MLflow server restart refuses requests for a
few seconds. Neither is a reason to fail the trial that happened to be writing. The time is
counted per outage, not per call: once an outage has outlasted the bound, every later call
fails at once instead of each waiting the whole bound again, until one call gets through.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sweeps.errors import UnavailableError, clip
from sweeps.secrets import redact

if TYPE_CHECKING:  # the preflight imports this module, and `sweep validate` no Optuna
    import optuna
    from optuna.trial import TrialState

T = TypeVar("T")
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 5.0  # backoff between tries: doubling, capped


def cause(err: BaseException) -> str:
    """The root of a wrapped connection error: '[Errno 111] Connection refused', not 300 chars."""
    text = str(err)
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+|Read timed out|timed out", text)
    if found:
        return found.group(0).strip()
    lines = text.strip().splitlines() or [type(err).__name__]
    return clip(lines[0], 120)


def storage_unreachable(url: str, err: BaseException) -> UnavailableError:
    """The preflight's line for an Optuna database that does not answer."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return UnavailableError(
        f"storage {redact(url)!r} cannot be reached: {first}; check --storage (or SWEEP_STORAGE) "
        "and that the database server runs"
    )


def tracking_unreachable(uri: str, err: BaseException) -> UnavailableError:
    """The preflight's line for an MLflow server that does not answer."""
    return UnavailableError(
        f"tracking URI {redact(uri)} does not answer ({cause(err)}); start the MLflow server or "
        "pass --tracking-uri URI (or MLFLOW_TRACKING_URI)"
    )


class Outage:
    """Retries calls while `transient` says their error is the server being away."""

    def __init__(
        self,
        wait_s: float,
        transient: Callable[[BaseException], bool],
        give_up: Callable[[BaseException], Exception],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wait_s = wait_s
        self._transient = transient
        self._give_up = give_up
        self._sleep, self._clock = sleep, clock
        self._since: float | None = None  # when the current outage began; None: no outage
        self._guard = threading.Lock()
        self.retries = 0  # calls that failed and were tried again, over this object's life

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, retried through an outage of up to `wait_s` seconds."""
        delay = FIRST_DELAY_S
        while True:
            try:
                result = fn(*args, **kwargs)
            except Exception as err:
                if not self._transient(err):
                    raise
                with self._guard:
                    self._since = self._clock() if self._since is None else self._since
                    left = self._since + self.wait_s - self._clock()
                if left <= 0:
                    raise self._give_up(err) from err
                self.retries += 1
                self._sleep(min(delay, left))
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            with self._guard:
                self._since = None
            return result


def _sql_transient(err: BaseException) -> bool:
    """A dropped or refused database connection, also as Optuna wraps it."""
    import sqlalchemy.exc

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            return True
        if isinstance(seen, sqlalchemy.exc.DisconnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def reconnecting(storage: optuna.storages.BaseStorage, url: str, wait_s: float) -> Outage | None:
    """Make every call on an RDB storage ride out a database restart of up to `wait_s` seconds.

    Wrap after `guard`, so a lock that cannot be taken while the server is away is retried too.
    Returns the Outage (which counts retries), or None for stores without a server.
    """
    import optuna

    if not isinstance(storage, optuna.storages.RDBStorage):
        return None
    outage = Outage(wait_s, _sql_transient, lambda err: storage_unreachable(url, err))
    # Every call a worker makes (BaseStorage's public methods), and the private twin through
    # which Optuna's cache creates trials.
    for name in [*_public_methods(optuna.storages.BaseStorage), "_create_new_trial"]:
        setattr(storage, name, _retried(outage, getattr(storage, name)))
    storage.set_trial_state_values = _finish_once(outage, storage)  # type: ignore[method-assign]
    return outage


def _public_methods(cls: type) -> list[str]:
    return [n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))]


def _retried(outage: Outage, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return outage.call(method, *args, **kwargs)

    return call


def _finish_once(outage: Outage, storage: optuna.storages.RDBStorage) -> Callable[..., bool]:
    """A finish retried after its commit went through but its answer was lost is refused as
    'already finished'; that is the trial in the very state asked for, so it counts as done."""
    import optuna

    inner = storage.set_trial_state_values  # already retried

    def set_trial_state_values(trial_id: int, state: TrialState, values: Any = None) -> bool:
        before = outage.retries
        try:
            return inner(trial_id, state, values)
        except optuna.exceptions.UpdateFinishedTrialError:
            if outage.retries == before or storage.get_trial(trial_id).state != state:
                raise
            return True

    return set_trial_state_values


# MLflow's HTTP client retries a refused request for minutes by default, inside one call. A
# sweep retries through its own Outage instead, so it tells MLflow not to, and caps each request
# (a stopped server answers nothing rather than refusing); the user's own settings win.
HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def _http_transient(err: BaseException) -> bool:
    """A request that got no answer, or a 5xx from a server that is restarting."""
    import requests

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, requests.exceptions.RequestException):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(err)
    return text.startswith("API request to ") and " failed with " in text


def patient_client(client: Any, uri: str, wait_s: float) -> Outage:
    """Make every call on an MlflowClient ride out a server restart of up to `wait_s` seconds.

    A batch of metrics retried after its answer was lost is stored once: MLflow keeps one row
    per (key, step, timestamp, value), and a retry sends the same rows.
    """
    import os

    for key, value in HTTP_SETTINGS.items():
        os.environ.setdefault(key, value)
    outage = Outage(wait_s, _http_transient, lambda err: tracking_unreachable(uri, err))
    for name in _public_methods(type(client)):
        setattr(client, name, _retried(outage, getattr(client, name)))
    return outage
