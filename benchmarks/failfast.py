"""How `sweep run` fails fast: each failure situation as a real process, in one table.

For every situation: the exit code, the wall seconds (from process start; for Ctrl-C, from the
signal), how many lines reached stderr, and the last of them. Not a ratio, so not a `make bench`
case: run it when the failure paths change, and read the table.

    python -m benchmarks.failfast
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

# A trial that always fails: the worker's `train` replaced in the sweep's own process.
BOOM = (
    "import sys, sweeps.runner.worker as w\n"
    "def boom(*a, **k): raise RuntimeError('boom')\n"
    "w.train = boom\n"
    "from sweeps.cli.app import app\n"
    "sys.argv[0] = 'sweep'\n"
    "app()\n"
)


def tiny(trials: int = 1, **trainer: Any) -> dict[str, Any]:
    """A seconds-long adding-problem sweep."""
    return {
        "name": "failfast",
        "data": {"name": "adding", "seq_len": 10, "n_train": 128, "n_val": 64, "n_test": 64},
        "model": {"cell": "lstm", "hidden_size": 8},
        "trainer": {"max_epochs": 1, **trainer},
        "search": {"metric": "val_loss", "n_trials": trials, "pruner": {"name": "none"}},
    }


def sweep(folder: Path, raw: dict[str, Any], *args: str, boom: bool = False) -> list[str]:
    """The command line of a sweep run of `raw`, written into `folder`."""
    config = folder / "x.yaml"
    config.write_text(yaml.safe_dump(raw))
    head = [sys.executable, "-c", BOOM] if boom else ["sweep"]
    return [*head, "run", str(config), *args]


def timed(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    return done.returncode, time.perf_counter() - start, done.stderr


class CannotMount(OSError):
    """Running as root without the right to mount: no folder is read-only to root then."""


@contextmanager
def read_only() -> Iterator[Path]:
    """A folder nothing can be written to, even by root: a read-only tmpfs where allowed.

    tests/test_failfast.py uses it too, and skips when it raises CannotMount.
    """
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "ro"
        folder.mkdir()
        if os.geteuid() != 0:
            folder.chmod(0o555)
            yield folder
            folder.chmod(0o755)
            return
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)])
        if mounted.returncode != 0:
            raise CannotMount("running as root without the right to mount a read-only folder")
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_only_cwd(folder: Path) -> tuple[int, float, str]:
    with read_only() as ro:
        return timed(sweep(folder, tiny()), ro)


def read_only_tracking(folder: Path) -> tuple[int, float, str]:
    with read_only() as ro:
        return timed(sweep(folder, tiny(), "--tracking-uri", f"sqlite:///{ro}/mlflow.db"), folder)


def unreachable_server(folder: Path) -> tuple[int, float, str]:
    uri = f"http://127.0.0.1:{free_port()}"
    return timed(sweep(folder, tiny(), "--tracking-uri", uri), folder)


def corrupt_db(folder: Path) -> tuple[int, float, str]:
    (folder / "mlflow.db").write_bytes(os.urandom(8192))
    return timed(sweep(folder, tiny()), folder)


def parent_gone(folder: Path) -> tuple[int, float, str]:
    """Exit 0 expected: a new parent run, said on stdout (returned as the line shown)."""
    timed(sweep(folder, tiny(1)), folder)
    (folder / "mlflow.db").unlink()  # the tracking store replaced; the study stays
    start = time.perf_counter()
    done = subprocess.run(sweep(folder, tiny(2)), cwd=folder, capture_output=True, text=True)
    said = [line for line in done.stdout.splitlines() if "no parent run" in line]
    return done.returncode, time.perf_counter() - start, done.stderr + "\n".join(said)


def three_failures(folder: Path) -> tuple[int, float, str]:
    return timed(sweep(folder, tiny(5), boom=True), folder)


def one_failure(folder: Path) -> tuple[int, float, str]:
    return timed(sweep(folder, tiny(1), boom=True), folder)


def no_gpu(folder: Path) -> tuple[int, float, str]:
    return timed(sweep(folder, tiny(accelerator="gpu")), folder)


def ctrl_c(folder: Path) -> tuple[int, float, str]:
    raw = tiny(1, max_epochs=200)
    raw["data"]["n_train"] = 4096
    proc = subprocess.Popen(sweep(folder, raw), cwd=folder, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    while not list(folder.glob("sweep-checkpoints/*/trial-0/*.ckpt")):  # mid-trial
        time.sleep(0.2)
    start = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, time.perf_counter() - start, err


SITUATIONS: dict[str, Callable[[Path], tuple[int, float, str]]] = {
    "read-only working folder": read_only_cwd,
    "tracking URI whose folder cannot be written": read_only_tracking,
    "`--tracking-uri http://127.0.0.1:PORT`, nothing listening": unreachable_server,
    "corrupt `mlflow.db`": corrupt_db,
    "resuming a study whose tracking store was replaced": parent_gone,
    "every trial fails (5 trials)": three_failures,
    "every trial fails (1 trial)": one_failure,
    "`trainer.accelerator: gpu` on a machine without one": no_gpu,
    "Ctrl-C mid-trial (seconds from the signal)": ctrl_c,
}


def main() -> int:
    print("| situation | exit | seconds | stderr lines | last stderr line |")
    print("| --- | --- | --- | --- | --- |")
    for name, situation in SITUATIONS.items():
        with tempfile.TemporaryDirectory(prefix="failfast-") as folder:
            code, seconds, err = situation(Path(folder))
        lines = [line for line in err.strip().splitlines() if line]
        last = (lines[-1] if lines else err.strip())[:160].replace("|", "\\|")
        traceback = " (a Traceback!)" if "Traceback" in err else ""
        print(f"| {name} | {code} | {seconds:.1f} | {len(lines)}{traceback} | {last} |",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
