"""The best trial's network as an MLflow model: logged, and registered when asked.

MLflow 3's logged-model API with the `pytorch` flavour, saved as a `torch.export` program
(`pt2`, MLflow's default: loading it unpickles nothing), with an input example and a tensor
signature taken from the datamodule's test split, and, for text, the vocabulary in the
model's metadata. The model is linked to the trial's run (`source_run_id`), so the run page
shows it. Registering makes it a new version of the registered model and moves the alias
`champion` to it; `models:/NAME@champion` then loads the newest best.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.errors import ConfigError
from sweeps.keys import CONFIG_ATTR, RUN_ATTR

ENV_URI = "MLFLOW_TRACKING_URI"  # MLflow reads it, and set_tracking_uri writes it

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from optuna.trial import FrozenTrial
    from torch import nn

    from datamodules.base import DataSpec, SequenceDataModule
    from sweeps.config.schema import TrackingConfig
    from sweeps.output import Echo

ALIAS = "champion"
MODEL_NAME = "model"  # the logged model's name under the trial's run
EXAMPLE_ROWS = 2  # the input example: more than one row, so the batch size stays free
MODEL_URI_TAG = "best.model_uri"  # on the parent run


@dataclass(frozen=True)
class LoggedBest:
    model_uri: str  # models:/m-...
    trial: int
    run_id: str
    name: str | None = None
    version: str | None = None

    @property
    def alias_uri(self) -> str | None:
        return f"models:/{self.name}@{ALIAS}" if self.name else None


def best_trial(study: optuna.Study) -> FrozenTrial:
    """The trial whose network is logged: the best (with several objectives, the front's
    best on the first one), with a run and a stored config."""
    from optuna.trial import TrialState

    from sweeps.search.ranking import ranked
    from sweeps.search.study import no_completed_trial

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ConfigError(no_completed_trial(study))
    best = ranked(study)[0]
    if RUN_ATTR not in best.user_attrs or CONFIG_ATTR not in best.user_attrs:
        raise ConfigError(f"the best trial of {study.study_name!r} has no MLflow run or config")
    return best


def log_best(study: optuna.Study, tracking_uri: str, register_as: str | None = None) -> LoggedBest:
    """Log the best trial's network as an MLflow model; register it when `register_as`."""
    import mlflow
    from mlflow import MlflowClient

    from sweeps.config.schema import validate
    from sweeps.track.tracking import absolute_uri

    trial = best_trial(study)
    run_id = str(trial.user_attrs[RUN_ATTR])
    config = validate(trial.user_attrs[CONFIG_ATTR])
    uri = absolute_uri(tracking_uri)
    client = MlflowClient(uri)
    with tempfile.TemporaryDirectory(prefix="sweep-model-") as folder:
        try:
            ckpt = client.download_artifacts(run_id, "best.ckpt", folder)
        except Exception as err:  # noqa: BLE001 - MlflowException or OSError: one line
            raise ConfigError(
                f"trial {trial.number}'s run {run_id} has no best.ckpt to log as a model ({err})"
            ) from None
        net, datamodule = network(config, Path(ckpt))
    spec = datamodule.spec
    example = input_example(datamodule)
    with tracking(uri), warnings.catch_warnings():
        # torch's own RNN layers keep their weights in a plain list that export reads, and
        # torch warns about that list: not this code's to change, and harmless to the program.
        warnings.filterwarnings("ignore", "The tensor attributes self.rnn._flat_weights")
        info = mlflow.pytorch.log_model(
            net,
            name=MODEL_NAME,
            run_id=run_id,
            input_example=example,
            signature=signature(spec),
            serialization_format="pt2",
            metadata=metadata(datamodule, trial),
            pip_requirements=requirements(),
            registered_model_name=register_as,
            await_registration_for=60,
        )
    version = None
    if register_as is not None:
        version = str(info.registered_model_version)
        client.set_registered_model_alias(register_as, ALIAS, version)
    return LoggedBest(info.model_uri, trial.number, run_id, register_as, version)


def network(config: Any, ckpt: Path) -> tuple[nn.Module, SequenceDataModule]:
    """The trial's network with the checkpoint's weights, in eval mode, through torch's own
    layers (what `torch.export` traces); and its datamodule, built."""
    import torch

    from sweeps.config.dataset import make_datamodule
    from sweeps.train.trial import make_module

    datamodule = make_datamodule(config, load=True)
    if datamodule.spec.variable_length:
        raise ConfigError(
            f"data {config.data.name!r} has variable-length sequences: the logged model would "
            "need their lengths as a second input, which it does not take"
        )
    module = make_module(config, datamodule.spec, steps=datamodule.splits.train.x.shape[1])
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    module.load_state_dict(state)
    net = module.net.eval()
    if getattr(net, "impl", None) == "fused":
        net.impl = "torch"  # the same weights through torch's layers, which export
    return net, datamodule


def input_example(datamodule: SequenceDataModule) -> Any:
    return datamodule.splits.test.x[:EXAMPLE_ROWS].numpy()


def signature(spec: DataSpec) -> ModelSignature:
    """Tensor shapes: (batch, steps[, features]) in; (batch[, steps], outputs) out. Unnamed:
    a named tensor reaches the flavour as a dict, which it refuses."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    if spec.tokens:
        inputs = TensorSpec(np.dtype(np.int64), (-1, -1))
    else:
        inputs = TensorSpec(np.dtype(np.float32), (-1, -1, spec.n_inputs))
    shape = (-1, -1, spec.n_outputs) if spec.every_step else (-1, spec.n_outputs)
    outputs = TensorSpec(np.dtype(np.float32), shape)
    return ModelSignature(inputs=Schema([inputs]), outputs=Schema([outputs]))


def metadata(datamodule: SequenceDataModule, trial: FrozenTrial) -> dict[str, Any]:
    """What a user of the model needs beside the tensors: the task, the output units, and
    for text the vocabulary (token id i is vocabulary[i - 1]; id 0 is any unknown char)."""
    spec = datamodule.spec
    out: dict[str, Any] = {
        "task": str(spec.task),
        "every_step": spec.every_step,
        "trial": trial.number,
        "study_params": {k: str(v) for k, v in trial.params.items()},
    }
    if spec.target_std is not None:
        out["target_mean"], out["target_std"] = list(spec.target_mean or ()), list(spec.target_std)
    chars = getattr(datamodule, "chars", None)
    if spec.tokens and isinstance(chars, str):
        out["vocabulary"] = chars
        out["unknown_id"] = 0
    return out


def requirements() -> list[str]:
    """What serving the exported program needs: torch (without a local label such as +cpu)
    and MLflow. Given, so MLflow does not load the model again to infer them."""
    from importlib.metadata import version

    return [f"torch=={version('torch').split('+')[0]}", f"mlflow=={version('mlflow')}"]


@contextmanager
def tracking(uri: str) -> Iterator[None]:
    """MLflow's fluent logging, pointed at `uri` for the block and restored after."""
    import mlflow

    # set_tracking_uri also exports MLFLOW_TRACKING_URI to child processes: the variable gets
    # back exactly what it held, or every sweep the process starts later logs to this store.
    exported = os.environ.get(ENV_URI)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)
        if exported is None:
            os.environ.pop(ENV_URI, None)
        else:
            os.environ[ENV_URI] = exported


MODEL_TRIAL_TAG = "best.model_trial"  # on the parent run: the trial whose model is logged
MODEL_NAME_TAG = "best.model_name"  # ... the registered model it is a version of
MODEL_VERSION_TAG = "best.model_version"


def publish(
    client: MlflowClient,
    parent_id: str,
    study: optuna.Study,
    tracking_config: TrackingConfig,
    report: Echo,
) -> LoggedBest | None:
    """At the end of a sweep: log (and register) the best trial's model, once per best trial.

    Nothing while a trial still runs elsewhere (its coordinator publishes when it ends). A
    failure warns: the sweep's results stand without the model. Call it under the study's lock.
    """
    from optuna.trial import TrialState

    if not tracking_config.log_model and tracking_config.register_as is None:
        return None
    if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        return None
    try:
        trial = best_trial(study)
    except ConfigError:
        return None  # no completed trial: nothing to log
    tags = client.get_run(parent_id).data.tags
    name = tracking_config.register_as
    if tags.get(MODEL_TRIAL_TAG) == str(trial.number) and tags.get(MODEL_NAME_TAG) == name:
        return recorded(tags, trial)
    try:
        logged = log_best(study, client.tracking_uri, name)
    except Exception as err:  # noqa: BLE001 - the sweep's results stand without the model
        first = (str(err).strip().splitlines() or [""])[0][:300]
        report(f"warning: the best trial's model could not be logged ({first})")
        return None
    mark(client, parent_id, logged)
    return logged


def mark(client: MlflowClient, parent_id: str, logged: LoggedBest) -> None:
    """The parent run's tags that name its logged (and registered) model."""
    from mlflow.entities import RunTag

    tags = {MODEL_URI_TAG: logged.model_uri, MODEL_TRIAL_TAG: str(logged.trial)}
    if logged.name is not None:
        tags |= {MODEL_NAME_TAG: logged.name, MODEL_VERSION_TAG: str(logged.version)}
    client.log_batch(parent_id, tags=[RunTag(k, v) for k, v in tags.items()])


def recorded(tags: dict[str, str], trial: FrozenTrial) -> LoggedBest:
    return LoggedBest(
        tags[MODEL_URI_TAG],
        trial.number,
        str(trial.user_attrs[RUN_ATTR]),
        tags.get(MODEL_NAME_TAG),
        tags.get(MODEL_VERSION_TAG),
    )
