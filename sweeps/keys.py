"""The names under which a sweep stores its facts in Optuna and MLflow, each defined once.

Trial and study user attributes are read back by other processes, other machines and later
versions of the tool: the reaper, `sweep status`, the report and the leaderboard all read what
the worker wrote. One module of names keeps writer and readers on the same spelling, and keeps
modules that only share a name from importing each other.
"""

from __future__ import annotations

import re

from sweeps.errors import ConfigError, clip

# A study's name names files (the journal, its lock, sweep-checkpoints/<name>/) and an MLflow
# experiment, so it is one plain word: no path separator, no leading dot or dash.
STUDY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def check_study_name(name: str, field: str = "name") -> str:
    """The study name, if it follows STUDY_NAME; else a ConfigError naming `field`."""
    if not STUDY_NAME.fullmatch(name):
        raise ConfigError(
            f"{field} must be letters, digits, '_', '.' or '-', starting with a letter, digit "
            f"or '_' (it names files and an MLflow experiment), but got {clip(name)}"
        )
    return name


# Trial user attributes: what a trial ran and where it is recorded.
CONFIG_ATTR = "config"  # the full resolved config the trial ran
BASELINE_ATTR = "baseline"  # the searched metric's baseline on the trial's data
# The init the trial's network got, model.init resolved ("chrono, T_max 100"): a left-out
# model.init means the default of the version that ran it. Also the trial run's MLflow tag.
INIT_ATTR = "model.init.used"
RUN_ATTR = "mlflow_run_id"  # the trial's MLflow run

# Trial user attributes: who owns a RUNNING trial (sweeps/runner/reaper.py reads them).
HOST_ATTR = "worker.host"
PID_ATTR = "worker.pid"
START_ATTR = "worker.start"  # the process's start time, which tells a reused PID apart
BEAT_ATTR = "worker.beat"  # the last heartbeat
SESSION_ATTR = "worker.session"  # the `sweep run` invocation that ran the trial
GPU_ATTR = "worker.gpu"  # the GPU the trial trains on (sweeps/runner/placement.py)

# Trial user attributes: interruptions and retries.
INTERRUPTED_ATTR = "interrupted"  # stopped by a signal, not by its config
RETRY_OF = "retry_of"  # the trial number a retry replaces
CHAIN_ATTR = "chain"  # how many times these params were retried
REAPED_ATTR = "reaped"  # why the reaper failed the trial
RESUME_RUN_ATTR = "resume_run"  # the MLflow run a retried trial continues
RESUMED_ATTR = "resumed_from"  # the epoch a retried trial continued from (0: from scratch)

# Study user attributes.
PARENT_ATTR = "mlflow_parent_run_id"  # the study's parent run
STOP_ATTR = "stopped"  # why search.stop ended the sweep (None: it did not)

# MLflow tags.
NOTE_TAG = "mlflow.note.content"  # markdown that MLflow's UI shows as a description
KIND_TAG = "sweep.kind"  # sweep (the parent), trial, train or reproduce
# MLflow 3's UI opens an experiment without this tag in its GenAI mode (traces, no runs).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
