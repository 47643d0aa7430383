"""Where and on what a measurement was taken: the stamp at the top of every results file.

A figure means little without the machine, the code and the library versions behind it, so
`make bench` (and `make classic`) open their results with this stamp. It reads versions from
the installed packages' metadata and imports none of them.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = {  # shown name: distribution name
    "torch": "torch",
    "Lightning": "pytorch-lightning",
    "Optuna": "optuna",
    "MLflow": "mlflow",
}


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows elsewhere."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, or "unknown" where the system has none."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def commit() -> str:
    """The checked-out commit, and "(dirty)" when tracked files differ from it."""
    head = _git("rev-parse", "--short=12", "HEAD")
    if head is None:
        return "unknown (not a git checkout)"
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return f"{head} (dirty)" if changed else f"{head} (clean)"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def stamp() -> dict[str, str]:
    """Date, commit, machine and library versions, in the order a results file shows them."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = {
        "date": now,
        "commit": commit(),
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "load average at the start": load_average(),
        "Python": platform.python_version(),
    }
    out.update({shown: _version(dist) for shown, dist in LIBRARIES.items()})
    return out


def text(fields: dict[str, str]) -> str:
    """The stamp as `key: value` lines, for a terminal."""
    return "\n".join(f"{key}: {value}" for key, value in fields.items())


def markdown(fields: dict[str, str]) -> str:
    """The stamp (and any further fields) as a two-column Markdown table."""
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in fields.items()]
    return "\n".join(lines)
