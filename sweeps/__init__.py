"""rnn-sweeps: hyperparameter sweeps of recurrent networks with Optuna and MLflow.

The stable Python surface is `__all__` below (docs/python.md):

    import sweeps
    result = sweeps.run("configs/quickstart.yaml", overrides={"trainer.max_epochs": 5})
    trials = sweeps.load("quickstart")  # a pandas DataFrame, with each trial's MLflow run id

Importing it is cheap: torch, Lightning, Optuna and MLflow load when a function needs them.
"""

from sweeps import api
from sweeps.api import *  # noqa: F403 - the API's surface is the package's
from sweeps.errors import ConfigError, UnavailableError

__all__ = api.__all__ + ["ConfigError", "UnavailableError"]
