"""Where a run came from: the code's commit and whether its tree was dirty, the installed
packages, the Python, torch and CUDA versions, and the data's fingerprint.

They are tags on the parent run and on every trial's and train run's run, under MLflow's own
names where it has them (`mlflow.source.git.commit`, `mlflow.source.git.branch`, shown on the
run page), `sweep.*` otherwise. A dirty tree's diff is the run's `provenance/git.diff`.
`sweep reproduce` compares them with the run it retrains (`differences`).
"""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
from importlib.metadata import distributions
from pathlib import Path
from typing import TYPE_CHECKING

from sweeps.secrets import redact

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from sweeps.config.schema import Config

COMMIT_TAG = "mlflow.source.git.commit"
BRANCH_TAG = "mlflow.source.git.branch"
REPO_TAG = "mlflow.source.git.repoURL"
DIRTY_TAG = "sweep.git.dirty"
DIFF_ARTIFACT = "provenance/git.diff"
DATA_PREFIX = "sweep."  # data.fingerprint, data.params, data.file0... under it
# The tags `differences` compares, each with the words it names it by.
COMPARED = {
    COMMIT_TAG: "git commit",
    DIRTY_TAG: "uncommitted changes",
    "sweep.env.packages": "installed packages (hash)",
    "sweep.env.python": "Python",
    "sweep.env.torch": "torch",
    "sweep.env.cuda": "CUDA",
    "sweep.data.fingerprint": "data fingerprint",
}
SOURCE = Path(__file__).resolve().parents[2]  # the checkout the code runs from, if it is one


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(SOURCE), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def code_state() -> tuple[dict[str, str], str | None]:
    """The git tags of the code, and its diff against the commit when the tree is dirty.

    Outside a git checkout (an installed wheel) there are no git tags.
    """
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {}, None
    tags = {COMMIT_TAG: commit.strip()}
    branch = (_git("rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    if branch and branch != "HEAD":
        tags[BRANCH_TAG] = branch
    origin = (_git("remote", "get-url", "origin") or "").strip()
    if origin:
        tags[REPO_TAG] = redact(origin)
    changed = (_git("status", "--porcelain", "--untracked-files=normal") or "").strip()
    tags[DIRTY_TAG] = "true" if changed else "false"
    if not changed:
        return tags, None
    diff = _git("diff", "HEAD") or ""
    untracked = [line[3:] for line in changed.splitlines() if line.startswith("??")]
    header = "".join(f"# untracked: {name}\n" for name in untracked)
    return tags, header + diff


@functools.cache
def environment() -> dict[str, str]:
    """A hash of every installed distribution and version; Python, torch and CUDA versions."""
    installed = sorted(
        f"{dist.metadata['Name']}=={dist.version}".lower()
        for dist in distributions()
        if dist.metadata["Name"]
    )
    packages = hashlib.sha256("\n".join(sorted(set(installed))).encode()).hexdigest()[:16]
    import torch  # every run trains with it: it is already imported

    return {
        "sweep.env.packages": packages,
        "sweep.env.python": platform.python_version(),
        "sweep.env.torch": str(torch.__version__),
        "sweep.env.cuda": str(torch.version.cuda or "none"),
    }


def provenance_tags(config: Config) -> dict[str, str]:
    """Every provenance tag of a run of `config`."""
    from sweeps.config.dataset import data_fingerprint

    data = {DATA_PREFIX + k: v for k, v in data_fingerprint(config).items()}
    return {**code_state()[0], **environment(), **data}


def log_provenance(client: MlflowClient, run_id: str, config: Config) -> None:
    """Tag the run with its provenance, and log the diff of a dirty tree as an artifact."""
    from mlflow.entities import RunTag

    tags = provenance_tags(config)
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    diff = code_state()[1]
    if diff is not None:
        client.log_text(run_id, diff, DIFF_ARTIFACT)


def differences(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """One line per provenance tag that differs between a logged run's tags and now."""
    if not any(tag in then for tag in COMPARED):
        return ["it has no provenance tags: code, packages and data cannot be compared"]
    lines = []
    for tag, words in COMPARED.items():
        before, after = then.get(tag), now.get(tag)
        if before != after:
            lines.append(f"{words}: {before or 'not recorded'} then, {after or 'unknown'} now")
    if now.get(DIRTY_TAG) == "true" and then.get(DIRTY_TAG) == "true":
        lines.append(f"uncommitted changes then and now; the run's are in {DIFF_ARTIFACT}")
    return lines
