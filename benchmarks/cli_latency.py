"""Wall time of the read-only commands, as whole processes: `--help`, validate, status, best.

Each round runs every command once, in the same order, so machine noise hits all of them; the
table gives medians and the ratio to two baselines measured in the same rounds: a bare Python
start, and `import pytorch_lightning` (what a read-only command must not pay).
Goals: validate, status and best under 1.5 s; --help under 0.3 s (median, 2 cores).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "quickstart.yaml"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
GOALS = {"--help": 0.3, "validate": 1.5, "status": 1.5, "best": 1.5}


def _study(folder: Path) -> str:
    """A quickstart study with a few finished trials, as `sweep status` would find it."""
    import optuna

    from sweeps.config import load_config

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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        storage = _study(folder)
        sweep = [sys.executable, "-m", "sweeps"]
        commands = {
            "python (baseline)": [sys.executable, "-c", "pass"],
            "import lightning (baseline)": [sys.executable, "-c", "import pytorch_lightning"],
            "--help": [*sweep, "--help"],
            "validate": [*sweep, "validate", str(CONFIG)],
            "status": [*sweep, "status", str(CONFIG), "--storage", storage],
            "best": [*sweep, "best", str(CONFIG), "--storage", storage],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(ROUNDS):
            for name, argv in commands.items():
                times[name].append(_seconds(argv, folder))
    lightning = statistics.median(times["import lightning (baseline)"])
    print(f"{'command':28s} {'median s':>9s} {'vs lightning':>13s}  goal   ({ROUNDS} rounds)")
    for name, values in times.items():
        median = statistics.median(values)
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"< {goal} s {'met' if median < goal else 'NOT met'}"
        print(f"{name:28s} {median:9.2f} {median / lightning:13.2f}  {verdict}")


if __name__ == "__main__":
    main()
