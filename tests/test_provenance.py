"""Every run records where it came from (code, packages, data), and `sweep reproduce` says what
differs from the run it retrains before it trains."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import tiny_raw, write_config

from sweeps.config.dataset import data_fingerprint
from sweeps.config.schema import validate
from sweeps.track import provenance
from sweeps.track.provenance import COMMIT_TAG, DIFF_ARTIFACT, DIRTY_TAG, differences


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean one-commit git checkout standing in for the code's own."""
    repo = tmp_path / "code"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "model.py").write_text("width = 8\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(provenance, "SOURCE", repo)
    provenance.code_state.cache_clear()
    yield repo
    provenance.code_state.cache_clear()


def dirty(repo: Path) -> None:
    (repo / "model.py").write_text("width = 16\n")
    (repo / "notes.txt").write_text("new\n")
    provenance.code_state.cache_clear()


def test_a_clean_checkout_records_commit_and_branch_and_no_diff(checkout: Path) -> None:
    tags, diff = provenance.code_state()
    assert tags[COMMIT_TAG] == _git(checkout, "rev-parse", "HEAD")
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags[DIRTY_TAG] == "false"
    assert diff is None


def test_a_dirty_checkout_records_its_diff_and_untracked_files(checkout: Path) -> None:
    dirty(checkout)
    tags, diff = provenance.code_state()
    assert tags[DIRTY_TAG] == "true"
    assert diff is not None
    assert "-width = 8\n+width = 16" in diff and "# untracked: notes.txt" in diff


def test_outside_a_checkout_there_are_no_git_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provenance, "SOURCE", tmp_path)
    provenance.code_state.cache_clear()
    try:
        assert provenance.code_state() == ({}, None)
    finally:
        provenance.code_state.cache_clear()


def test_the_data_fingerprint_follows_the_generator_and_the_file_content(tmp_path: Path) -> None:
    base = validate(tiny_raw())
    same = data_fingerprint(validate(tiny_raw()))["data.fingerprint"]
    assert data_fingerprint(base)["data.fingerprint"] == same
    reseeded = validate({**tiny_raw(), "seed": 1})
    assert data_fingerprint(reseeded)["data.fingerprint"] != same
    text = tmp_path / "corpus.txt"
    text.write_text("to be or not to be " * 200)
    raw = tiny_raw(data={"name": "text", "path": str(text), "seq_len": 16})
    first = data_fingerprint(validate(raw))
    assert first["data.file0"].startswith(f"{text} sha256:")
    text.write_text("that is the question " * 200)
    assert data_fingerprint(validate(raw))["data.fingerprint"] != first["data.fingerprint"]


def test_differences_name_what_changed_and_a_tree_dirty_then_and_now() -> None:
    then = {COMMIT_TAG: "aaa", DIRTY_TAG: "true", "sweep.env.torch": "2.13.0"}
    now = {COMMIT_TAG: "bbb", DIRTY_TAG: "true", "sweep.env.torch": "2.13.0"}
    lines = differences(then, now)
    assert lines[0] == "git commit: aaa then, bbb now"
    assert lines[-1] == f"uncommitted changes then and now; the run's are in {DIFF_ARTIFACT}"
    assert not any("torch" in line for line in lines)
    assert differences({}, now) == [
        "it has no provenance tags: code, packages and data cannot be compared"
    ]


@pytest.mark.slow
def test_parent_and_trial_runs_carry_provenance_and_reproduce_reports_a_dirty_tree(
    workdir: Path, checkout: Path
) -> None:
    from mlflow import MlflowClient

    import sweeps

    raw = tiny_raw()
    raw["search"]["n_trials"] = 1
    raw["trainer"] = {"max_epochs": 1}
    result = sweeps.run(write_config(workdir, raw), echo=lambda line: None)
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    assert result.best_run_id is not None
    for run_id in (result.parent_run_id, result.best_run_id):
        tags = client.get_run(run_id).data.tags
        assert tags[COMMIT_TAG] == _git(checkout, "rev-parse", "HEAD"), run_id
        assert tags[DIRTY_TAG] == "false"
        assert tags["sweep.env.python"] and tags["sweep.env.cuda"]
        assert tags["sweep.env.packages"] and tags["sweep.data.fingerprint"]
    dirty(checkout)
    said: list[str] = []
    outcome = sweeps.reproduce(
        result.best_run_id, tracking_uri="sqlite:///mlflow.db", echo=said.append
    )
    assert said[:2] == [
        f"not the same conditions as run {result.best_run_id}:",
        "  uncommitted changes: false then, true now",
    ]
    assert outcome.differences == ["uncommitted changes: false then, true now"]
    again = client.get_run(outcome.run_id).data.tags
    assert again[DIRTY_TAG] == "true"
    diff = client.download_artifacts(outcome.run_id, DIFF_ARTIFACT, str(workdir))
    assert "+width = 16" in Path(diff).read_text()
