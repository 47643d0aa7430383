"""MLflow records of a sweep: one parent run per study, one child run per trial.

We own this code rather than use optuna_integration.MLflowCallback, which is deprecated and logs
no per-epoch curves. The client API is used throughout (no global active run), so a trial's run
can be created before training and closed from wherever the trial ends.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from sweeps.keys import EXPERIMENT_KIND, KIND_TAG, PARENT_ATTR, RUN_ATTR
from sweeps.secrets import redact
from sweeps.stores import blank_store
from sweeps.stores.reconnect import patient_client
from sweeps.stores.storage import file_lock
from sweeps.track.provenance import log_provenance

if TYPE_CHECKING:
    from mlflow.entities import Run
    from optuna.trial import FrozenTrial

    from sweeps.config.schema import Config

# MLflow announces "Creating initial MLflow database tables..." at INFO for a new store, two
# lines of every first sweep in a folder that no user needs to act on.
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def curve_name(metric: str) -> str:
    """The per-epoch curve of the searched metric; its own name holds the best value."""
    return f"{metric}_curve"


PACKAGES = ("rnn-sweeps", "torch", "pytorch-lightning", "optuna", "mlflow")


def absolute_uri(uri: str) -> str:
    """A SQLite URI with an absolute path: MLflow caches stores by URI string, not by file."""
    if not uri.startswith("sqlite:///"):
        return uri
    return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())


def _artifact_root(uri: str) -> str | None:
    """Artifacts beside a SQLite store (like `mlflow server`'s ./mlartifacts); servers choose."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return (db.resolve().parent / "mlartifacts").as_uri()


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def best_tags(best: FrozenTrial) -> list[RunTag]:
    """The parent run's tags that name the best trial, its run and its params."""
    return [
        RunTag("best.trial_number", str(best.number)),
        RunTag("best.run_id", str(best.user_attrs.get(RUN_ATTR, ""))),
        *[RunTag(f"best.{k}", str(v)) for k, v in best.params.items()],
    ]


class Tracker:
    """One MLflow experiment; creating it creates and migrates the store once, up front."""

    def __init__(self, uri: str, experiment: str, *, reconnect_s: float = 0.0) -> None:
        """`reconnect_s`: how long a call waits through an MLflow server's restart (0: fail at
        once, as a command that only reads should)."""
        self.uri = uri = absolute_uri(uri)
        self.reconnect_s = reconnect_s
        if uri.startswith("sqlite:///"):
            # Two processes migrating a new mlflow.db at once fail with "table already exists".
            db = Path(uri.removeprefix("sqlite:///"))
            with file_lock(db.with_name(db.name + ".lock")):
                blank_store.prepare(db, "mlflow")  # a copy of the blank if new; WAL mode
                self._open(experiment)
        else:
            self._open(experiment)
        self.lost_parent: str | None = None  # a parent run id the store no longer had

    def _open(self, experiment: str) -> None:
        from mlflow.exceptions import MlflowException

        self.client = MlflowClient(tracking_uri=self.uri)
        if self.reconnect_s > 0 and self.uri.startswith(("http://", "https://")):
            patient_client(self.client, self.uri, self.reconnect_s)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            try:
                self.experiment_id = self.client.create_experiment(
                    experiment, artifact_location=_artifact_root(self.uri), tags=EXPERIMENT_KIND
                )
                return
            except MlflowException:  # another process on another machine created it first
                found = self.client.get_experiment_by_name(experiment)
                if found is None:
                    raise
        self.experiment_id = found.experiment_id
        for key, value in EXPERIMENT_KIND.items():
            if found.tags.get(key) != value:
                self.client.set_experiment_tag(self.experiment_id, key, value)

    def open_parent(self, study: optuna.Study, config: Config, storage: str) -> str:
        """The study's parent run: found again on a rerun, created (and linked) the first time.

        Call it under the study's lock: it reads, then may write, the study's PARENT_ATTR. A
        tracking store that lost the parent (replaced, or another server) gets a new one. A
        parent found again keeps its status and times: `resume_parent` reopens it only when
        trials are about to run, so a rerun of a finished study leaves its times alone.
        """
        from mlflow.exceptions import MlflowException

        run_id = study.user_attrs.get(PARENT_ATTR)
        if run_id is not None:
            try:
                self.client.get_run(str(run_id))
                return str(run_id)
            except MlflowException:
                self.lost_parent = str(run_id)
        tags = {
            "sweep.study": study.study_name,
            "sweep.storage": redact(storage),
            "sweep.config_hash": config.digest(),
            "sweep.data": config.data.name,
            KIND_TAG: "sweep",
            **{f"version.{k}": v for k, v in package_versions().items()},
        }
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=study.study_name)
        run_id = run.info.run_id
        self.client.log_text(run_id, config.to_yaml(), "config.yaml")
        log_provenance(self.client, run_id, config)
        study.set_user_attr(PARENT_ATTR, run_id)
        return str(run_id)

    def resume_parent(self, run_id: str) -> None:
        """Trials are about to run: the parent runs again. It keeps its start time; its end
        time moves to this sweep's end, so its duration spans every session, pauses included."""
        if self.client.get_run(run_id).info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")

    def parent_finished(self, run_id: str) -> bool:
        """Whether the parent run was already ended as FINISHED (a rerun must not end it again)."""
        return bool(self.client.get_run(run_id).info.status == "FINISHED")

    def close_parent(
        self, run_id: str, study: optuna.Study, *, status: str, end_ms: int | None = None
    ) -> None:
        """Tag the best trial and its params so far, and end the parent run (at `end_ms`, unix
        milliseconds, or now).

        The best value itself is logged once per finished trial by the leaderboard, so a
        resume that runs nothing adds nothing.
        """
        # COMPLETE only: a pruned trial carries its last value, but best_trial ignores it and
        # raised "no trials are completed yet" when every trial was pruned.
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if completed and len(study.directions) == 1:
            best = study.best_trial
            self.client.log_batch(run_id, tags=best_tags(best))
        self.client.set_terminated(run_id, status=status, end_time=end_ms)

    def close_reaped(self, trial: FrozenTrial, reason: str) -> None:
        """A dead worker's trial: its run never ended, so end it KILLED with the reason."""
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id is not None:
            TrialRun(self.client, str(run_id)).finish(state="FAIL", status="KILLED", reason=reason)

    def start_trial(
        self,
        parent_id: str,
        trial: optuna.Trial,
        params: dict[str, Any],
        config: Config,
        resume_run: str | None = None,
    ) -> TrialRun:
        """The trial's child run, made before training with its params and resolved config.

        A retried trial continues the run of the trial it retries, so its curves continue.
        """
        tags = {
            "mlflow.parentRunId": parent_id,
            "optuna.trial_number": str(trial.number),
            "optuna.study": trial.study.study_name,
            "optuna.state": "RUNNING",
            "sweep.config_hash": config.digest(),
            KIND_TAG: "trial",
        }
        if resume_run is not None and self._reopen(resume_run, tags):
            trial.set_user_attr(RUN_ATTR, resume_run)
            return TrialRun(self.client, resume_run, config.search.metric)
        run = self.client.create_run(
            self.experiment_id, tags=tags, run_name=f"trial-{trial.number}"
        )
        child = TrialRun(self.client, run.info.run_id, config.search.metric)
        child.log_params(params)
        self.client.log_text(child.run_id, config.to_yaml(), "config.yaml")
        log_provenance(self.client, child.run_id, config)
        trial.set_user_attr(RUN_ATTR, child.run_id)
        return child

    def _reopen(self, run_id: str, tags: dict[str, str]) -> bool:
        """Set a stopped trial's run RUNNING again, for its retry; False if the store lost it."""
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return False
        self.client.update_run(run_id, status="RUNNING")
        if "optuna.reason" in run.data.tags:
            self.client.delete_tag(run_id, "optuna.reason")  # why it stopped, last time
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        return True

    def start_single(self, config: Config, reproduces: Run | None = None) -> TrialRun:
        """A run for `sweep train`, or `sweep reproduce` of a logged run: no study."""
        tags = {KIND_TAG: "train", "sweep.config_hash": config.digest()}
        name = f"train-{config.digest()[:6]}"
        if reproduces is not None:  # named after what it reproduces: trial-13, train-ef3b4e
            tags |= {KIND_TAG: "reproduce", "sweep.reproduces": reproduces.info.run_id}
            name = f"reproduce-{reproduces.info.run_name}"
            if "optuna.study" in reproduces.data.tags:
                name += f"-of-{reproduces.data.tags['optuna.study']}"
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=name)
        child = TrialRun(self.client, run.info.run_id, config.search.metric)
        self.client.log_text(child.run_id, config.to_yaml(), "config.yaml")
        log_provenance(self.client, child.run_id, config)
        return child


EpochRecord = tuple[int, dict[str, float], int]  # epoch, its metrics, when validated (unix ms)


def _metric(key: str, value: float, step: int) -> Metric:
    return Metric(key, value, int(time.time() * 1000), step)


class TrialRun:
    """One run's logging surface, as the training loop and the objective see it."""

    def __init__(self, client: MlflowClient, run_id: str, metric: str | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.metric = metric  # the searched metric: its curve is logged as curve_name(metric)

    def log_params(self, params: dict[str, Any]) -> None:
        if params:
            self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def log_epoch(self, metrics: dict[str, float], *, epoch: int) -> None:
        self.log_epochs([(epoch, metrics, int(time.time() * 1000))])

    def log_epochs(self, epochs: list[EpochRecord]) -> None:
        """Several epochs' metrics in one batch call: (epoch, metrics, unix ms) each, the epoch
        as the MLflow step and the time as its timestamp."""
        self.client.log_batch(
            self.run_id,
            metrics=[
                Metric(curve_name(k) if k == self.metric else k, v, at_ms, epoch)
                for epoch, metrics, at_ms in epochs
                for k, v in metrics.items()
            ],
        )

    def log_summary(self, metrics: dict[str, float], tags: dict[str, str]) -> None:
        self.client.log_batch(
            self.run_id,
            metrics=[_metric(k, v, 0) for k, v in metrics.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )

    def log_artifact(self, path: str | Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def finish(self, *, state: str, status: str, reason: str | None = None) -> None:
        """Tag the Optuna state (and why), then end the run: FINISHED, KILLED or FAILED."""
        tags = [RunTag("optuna.state", state)]
        if reason:
            tags.append(RunTag("optuna.reason", reason[:4000]))
        self.client.log_batch(self.run_id, tags=tags)
        self.client.set_terminated(self.run_id, status=status)
