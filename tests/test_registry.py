"""The best trial's network as an MLflow model: logged when a sweep ends, registered with the
alias champion, and loaded in a fresh process it predicts what the trial's checkpoint does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_raw, write_config

import sweeps

NAME = "tiny-champion"


def checkpoint_predictions(workdir: Path, run_id: str, x: np.ndarray) -> np.ndarray:
    """The trial's best.ckpt, loaded by Lightning into a fresh network, on `x`."""
    import torch
    from mlflow import MlflowClient

    from models.lit_module import SequenceModule
    from sweeps.config.dataset import make_datamodule
    from sweeps.config.schema import validate
    from sweeps.train.trial import make_module

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    ckpt = client.download_artifacts(run_id, "best.ckpt", str(workdir))
    config_file = client.download_artifacts(run_id, "config.yaml", str(workdir))
    import yaml

    config = validate(yaml.safe_load(Path(config_file).read_text()))
    spec = make_datamodule(config, load=True).spec
    module = SequenceModule.load_from_checkpoint(ckpt, net=make_module(config, spec).net)
    with torch.no_grad():
        return module.net.eval()(torch.from_numpy(x)).numpy()  # type: ignore[no-any-return]


def fresh_process_predictions(workdir: Path, uri: str, x: np.ndarray) -> np.ndarray:
    np.save(workdir / "x.npy", x)
    code = (
        "import mlflow, numpy as np\n"
        "mlflow.set_tracking_uri('sqlite:///mlflow.db')\n"
        f"model = mlflow.pyfunc.load_model({uri!r})\n"
        "np.save('y.npy', np.asarray(model.predict(np.load('x.npy'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(workdir / "y.npy")


@pytest.mark.slow
def test_a_registered_champion_predicts_what_its_checkpoint_does(workdir: Path) -> None:
    from mlflow import MlflowClient

    from sweeps.config.dataset import make_datamodule
    from sweeps.config.schema import validate

    raw = tiny_raw(tracking={"register_as": NAME})
    raw["search"]["n_trials"] = 2
    raw["trainer"] = {"max_epochs": 2}
    result = sweeps.run(write_config(workdir, raw), echo=lambda line: None)
    assert result.best is not None and result.model is not None
    assert (result.model.name, result.model.version) == (NAME, "1")
    assert result.model.trial == result.best.number and result.model.run_id == result.best_run_id
    assert result.model_uri == f"models:/{NAME}@champion"

    test_x = make_datamodule(validate(raw), load=True).splits.test.x.numpy()
    served = fresh_process_predictions(workdir, f"models:/{NAME}@champion", test_x)
    assert result.best_run_id is not None
    expected = checkpoint_predictions(workdir, result.best_run_id, test_x)
    assert served.shape == expected.shape == (len(test_x), 1)
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    logged = client.get_logged_model(result.model.model_uri.removeprefix("models:/"))
    assert logged.source_run_id == result.best_run_id
    parent = client.get_run(result.parent_run_id).data.tags
    assert parent["best.model_uri"] == result.model.model_uri

    again = sweeps.best(write_config(workdir, raw), register=NAME)
    assert again.model is not None and again.model.version == "2"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"


def test_a_model_name_must_not_be_empty() -> None:
    with pytest.raises(sweeps.ConfigError, match="tracking.register_as"):
        from sweeps.config.schema import validate

        validate(tiny_raw(tracking={"register_as": ""}))


@pytest.mark.parametrize("outside", [None, "sqlite:////elsewhere/mlflow.db"])
def test_logging_a_model_leaves_the_tracking_uri_of_child_processes_as_it_found_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outside: str | None
) -> None:
    """MLflow's set_tracking_uri exports MLFLOW_TRACKING_URI: left behind, a sweep started later
    from the same process (a notebook, a benchmark) would log to the model's store."""
    from sweeps.runner.registry import ENV_URI, tracking

    if outside is None:
        monkeypatch.delenv(ENV_URI, raising=False)
    else:
        monkeypatch.setenv(ENV_URI, outside)
    with tracking(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        assert ENV_URI in os.environ
    assert os.environ.get(ENV_URI) == outside
