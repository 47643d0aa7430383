"""What a chaos run checks at the end, through Optuna's and MLflow's own APIs.

Each check returns the problems it found (empty: it holds), so the run reports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import optuna
from mlflow import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import RESUMED_ATTR, RETRY_OF, RUN_ATTR
from sweeps.track.tracking import curve_name

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    retried: int = 0  # trials that ran again after a fault
    epochs_lost: int = 0  # epochs an interrupted trial had reported and its retry ran again


def check_study(study: optuna.Study, n_trials: int, verdict: Verdict) -> list[FrozenTrial]:
    """Exactly n_trials COMPLETE or PRUNED, nothing RUNNING; retries and epochs lost counted."""
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    if len(finished) != n_trials:
        verdict.problems.append(f"{len(finished)} trials COMPLETE or PRUNED, not {n_trials}")
    running = [t.number for t in trials if t.state == TrialState.RUNNING]
    if running:
        verdict.problems.append(f"trials {running} are still RUNNING in Optuna")
    by_number = {t.number: t for t in trials}
    for trial in trials:
        original = trial.user_attrs.get(RETRY_OF)
        if original is None or int(original) not in by_number:
            continue
        verdict.retried += 1
        reported = len(by_number[int(original)].intermediate_values)
        resumed = int(trial.user_attrs.get(RESUMED_ATTR, 0))
        if trial.state in FINISHED:
            verdict.epochs_lost += max(0, reported - resumed)
    return finished


def check_runs(
    client: MlflowClient,
    experiment: str,
    finished: list[FrozenTrial],
    metric: str,
    verdict: Verdict,
) -> None:
    """One MLflow run per finished trial, nothing RUNNING, each curve without gaps or repeats."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        verdict.problems.append(f"no MLflow experiment {experiment!r}")
        return
    runs = client.search_runs([found.experiment_id], max_results=5000)
    running = [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    if running:
        verdict.problems.append(f"MLflow runs {running} are still RUNNING")
    ids = [t.user_attrs.get(RUN_ATTR) for t in finished]
    if None in ids or len(set(ids)) != len(ids):
        verdict.problems.append("finished trials do not each have their own MLflow run")
    for trial in finished:
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id is None:
            continue
        steps = sorted(m.step for m in client.get_metric_history(run_id, curve_name(metric)))
        epochs = sorted(trial.intermediate_values)
        if steps != list(range(len(steps))) or len(steps) != len(epochs):
            verdict.problems.append(
                f"trial {trial.number}: curve steps {steps} for {len(epochs)} epochs "
                "(missing or repeated steps)"
            )


def check_secret(secret: str, places: list[Path], study: optuna.Study, verdict: Verdict) -> None:
    """The planted password appears in no output, no store file and no study attribute."""
    for path in places:
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            try:
                if secret.encode() in file.read_bytes():
                    verdict.problems.append(f"the password appears in {file}")
            except OSError:
                continue
    attrs = [study.user_attrs, *(t.user_attrs for t in study.get_trials(deepcopy=False))]
    if any(secret in repr(a) for a in attrs):
        verdict.problems.append("the password appears in the study's attributes")
