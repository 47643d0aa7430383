"""`sweep train`: one run of one config, tracked like a trial but outside any study."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sweeps.config.loader import load_config
from sweeps.config.schema import Config
from sweeps.errors import ConfigError
from sweeps.runner.preflight import check_accelerator, check_tracking
from sweeps.track.tracking import Tracker, absolute_uri
from sweeps.train.trial import TrainResult, train

if TYPE_CHECKING:
    from mlflow.entities import Run


def logged_run(uri: str, run_id: str) -> tuple[Config, float | None, Run]:
    """A logged run's config (now tracked at `uri`), the best value it reached, and the run."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(absolute_uri(uri))
    try:
        run = client.get_run(run_id)
        with tempfile.TemporaryDirectory() as folder:
            path = client.download_artifacts(run_id, "config.yaml", folder)
            config = load_config(path, {"tracking.uri": uri})
    except MlflowException as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"run {run_id!r} at {uri} has no usable config.yaml: {first}") from None
    metrics = run.data.metrics  # runs logged before the metric's own name held it: best_value
    return config, metrics.get(config.search.metric, metrics.get("best_value")), run


def train_once(config: Config, reproduces: Run | None = None) -> tuple[TrainResult, str]:
    """Train, test the best checkpoint, and log it all to one MLflow run; returns its id."""
    check_accelerator(config)
    check_tracking(config.tracking.uri)
    tracker = Tracker(config.tracking.uri, config.name)
    run = tracker.start_single(config, reproduces)
    public = {k: v for k, v in config.public().items() if k not in ("search", "tracking")}
    run.log_params(_flatten(public))
    try:
        with tempfile.TemporaryDirectory(prefix="sweep-train-") as workdir:
            result = train(config, Path(workdir), run=run, test=True, plot=True)
            if result.checkpoint is not None:
                run.log_artifact(result.checkpoint)
    except KeyboardInterrupt:
        run.finish(state="INTERRUPTED", status="KILLED", reason="interrupted by a signal")
        raise
    except Exception as err:
        run.finish(state="FAIL", status="FAILED", reason=f"{type(err).__name__}: {err}")
        raise
    run.log_summary({**result.test_metrics, **result.summary(config.search.metric)}, {})
    run.finish(state="COMPLETE", status="FINISHED")
    return result, run.run_id


def _flatten(tree: dict[str, object], prefix: str = "") -> dict[str, object]:
    """Nested sections to dotted keys, the names the search space uses."""
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
