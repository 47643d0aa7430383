"""Wall time of the read-only commands, as whole processes: `--help`, validate, status, best.

Each round runs every command once, in the same order, so machine noise hits all of them. The
goals are absolute (median, 2 cores): validate, status and best under 1.5 s, `--help`
under 0.3 s. So each row's baseline is that budget and its ratio the share of it used; beside
it, measured in the same rounds, a bare Python start (what no command can beat) and
`import pytorch_lightning` (what a read-only command must not pay), so a reader sees how loaded
the machine was.

    python -m benchmarks.cli_latency [--quick]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Row

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "quickstart.yaml"
BUDGETS = {"--help": 0.3, "validate": 1.5, "status": 1.5, "best": 1.5}  # seconds


def _study(folder: Path) -> str:
    """A quickstart study with a few finished trials, as `sweep status` would find it."""
    import optuna

    from sweeps.config.loader import load_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{folder / 'optuna.db'}"
    config = load_config(CONFIG, check_data=False)
    study = optuna.create_study(study_name=config.name, storage=storage)
    for value in (0.3, 0.2, 0.1):
        trial = study.ask()
        trial.suggest_categorical("model.cell", ["rnn", "lstm", "gru"])
        trial.set_user_attr("config", config.public())
        study.tell(trial, value)
    return storage


def _seconds(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-300:]}")
    return took


def medians(rounds: int) -> dict[str, float]:
    """Median wall seconds of each command and of the two baselines, over `rounds` rounds."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        storage = _study(folder)
        sweep = [sys.executable, "-m", "sweeps"]
        commands = {
            "python": [sys.executable, "-c", "pass"],
            "lightning": [sys.executable, "-c", "import pytorch_lightning"],
            "--help": [*sweep, "--help"],
            "validate": [*sweep, "validate", str(CONFIG)],
            "status": [*sweep, "status", str(CONFIG), "--storage", storage],
            "best": [*sweep, "best", str(CONFIG), "--storage", storage],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, argv in commands.items():
                times[name].append(_seconds(argv, folder))
    return {name: statistics.median(values) for name, values in times.items()}


def run(quick: bool = False) -> list[Row]:
    """One row per command: its median wall time as a share of the issue's budget."""
    rounds = 1 if quick else 7
    med = medians(rounds)
    same = f"python start {med['python']:.2f} s, lightning import {med['lightning']:.2f} s"
    return [
        Row(f"`sweep {name}` wall time, median of {rounds}", "budget", budget,
            "command", med[name], "s", goal=1.0, note=f"share of budget; {same}")
        for name, budget in BUDGETS.items()
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["cli", *sys.argv[1:]]))
