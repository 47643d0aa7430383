"""The API's side of the model registry: a sweep's best network as an MLflow model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeps.api.results import ModelVersion

if TYPE_CHECKING:
    import optuna

    from sweeps.runner.registry import LoggedBest


def model_version(logged: LoggedBest | None) -> ModelVersion | None:
    if logged is None:
        return None
    return ModelVersion(
        model_uri=logged.model_uri,
        trial=logged.trial,
        run_id=logged.run_id,
        name=logged.name,
        version=logged.version,
        alias_uri=logged.alias_uri,
    )


def register_best(study: optuna.Study, tracking_uri: str, name: str) -> ModelVersion:
    """Log the best trial's network as a new version of registered model `name`, alias
    `champion`; the study's parent run is tagged with it."""
    from mlflow import MlflowClient

    from sweeps.keys import PARENT_ATTR
    from sweeps.runner.registry import log_best, mark
    from sweeps.track.tracking import absolute_uri

    logged = log_best(study, tracking_uri, name)
    parent = study.user_attrs.get(PARENT_ATTR)
    if parent is not None:
        mark(MlflowClient(absolute_uri(tracking_uri)), str(parent), logged)
    found = model_version(logged)
    assert found is not None
    return found
