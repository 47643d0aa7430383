"""The Python API: the functions the `sweep` command calls, for notebooks and scripts.

Each CLI command parses its arguments, calls one function here and prints what it returns;
`sweeps/__init__.py` re-exports the stable surface. Errors raise ConfigError (bad input; the
CLI exits 2) or UnavailableError (unusable here; exit 1) with the CLI's one-line message, and
Ctrl-C raises KeyboardInterrupt with the study saved. Nothing here calls sys.exit. Heavy
packages are imported inside the functions: importing the API costs nothing.
"""

from sweeps.api.reading import best, load, report, status
from sweeps.api.results import (
    BestResult,
    Leaders,
    ModelVersion,
    StudyStatus,
    SweepResult,
    TrainOutcome,
    Trial,
    Validation,
)
from sweeps.api.serving import dashboard, datasets, describe_dataset, fetch_corpus, proxy, ui
from sweeps.api.sweeping import fit, reproduce, run, validate

__all__ = [
    "BestResult",
    "Leaders",
    "ModelVersion",
    "StudyStatus",
    "SweepResult",
    "TrainOutcome",
    "Trial",
    "Validation",
    "best",
    "dashboard",
    "datasets",
    "describe_dataset",
    "fetch_corpus",
    "fit",
    "load",
    "proxy",
    "report",
    "reproduce",
    "run",
    "status",
    "ui",
    "validate",
]
