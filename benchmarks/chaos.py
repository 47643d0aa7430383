"""The chaos run: a sweep with several workers, K faults at seeded random times, then checks.

    python -m benchmarks.chaos --faults 50 --seed 1     (or: make chaos FAULTS=50 SEED=1)

It starts its own PostgreSQL cluster and `mlflow server` in a temporary folder (never the
machine's shared ones), runs the quickstart's data with short epochs, and injects faults drawn
from FAULTS: workers and the coordinator killed, PostgreSQL and MLflow restarted, the disk that
holds the checkpoints filled for a moment (a tmpfs, where root may mount one), a worker paused.
After every fault that stops the sweep it runs the same command again, as a user would. At the
end it checks both stores (benchmarks/chaos_checks.py) and prints one table, also written to
benchmarks/results/chaos-seed<S>.md under the stamp of benchmarks/stamp.py.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from benchmarks.chaos_checks import Verdict, check_runs, check_secret, check_study
from benchmarks.services import MlflowServer, PrivatePostgres
from benchmarks.stamp import ROOT, markdown, stamp

FAULTS = (
    "kill worker",
    "kill coordinator",
    "kill process group",
    "term coordinator",
    "postgres stop fast",
    "postgres stop immediate",
    "restart mlflow",
    "fill disk",
    "pause worker",
)
SECRET = "chaos-planted-secret"  # PostgreSQL trusts 127.0.0.1, so any password is accepted
HEARTBEAT_S = 4.0


def sweep_config(n_trials: int, tracking: str) -> dict[str, Any]:
    """The quickstart's data and space, shrunk so that a trial is a few short epochs."""
    raw = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    raw["name"] = "chaos"
    raw["data"].update(n_train=256, n_val=64, n_test=64)
    raw["trainer"] = {"max_epochs": 4, "diagnostics": False}
    raw["search"].update(n_trials=n_trials, heartbeat=HEARTBEAT_S)
    raw["search"]["pruner"] = {"name": "none"}
    raw["tracking"] = {"uri": tracking}
    raw["reconnect"] = 600  # an MLflow server restart takes long on a busy machine
    return dict(raw)


class Sweep:
    """`sweep run` as a user types it, rerun after each fault that stops it."""

    def __init__(self, folder: Path, storage: str, workers: int) -> None:
        self.folder, self.storage, self.workers = folder, storage, workers
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = open(self.folder / "outputs" / f"run-{self.runs}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["sweep", "run", "chaos.yaml", "--workers", str(self.workers)],
            cwd=self.folder,
            env={**os.environ, "SWEEP_STORAGE": self.storage},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to kill as a whole
        )

    def ended(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def workers_pids(self) -> list[int]:
        return [] if self.process is None else _children(self.process.pid)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _mount_small_disk(folder: Path) -> bool:
    """A 64 MB tmpfs for the checkpoints, to fill; False where it cannot be mounted."""
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


def _fill(folder: Path, hold_s: float) -> None:
    filler = folder / "filler"
    try:
        with open(filler, "wb") as out:
            while True:
                out.write(b"\0" * (1 << 20))
    except OSError:
        pass  # full
    time.sleep(hold_s)
    filler.unlink(missing_ok=True)


def inject(
    kind: str,
    sweep: Sweep,
    pg: PrivatePostgres,
    mlflow: MlflowServer,
    disk: Path | None,
    rng: random.Random,
) -> bool:
    """One fault; False when there was nothing to inject it into (no worker, no disk)."""
    process = sweep.process
    assert process is not None
    workers = sweep.workers_pids()
    if kind in ("kill worker", "pause worker") and not workers:
        return False
    if kind == "kill worker":
        os.kill(rng.choice(workers), signal.SIGKILL)
    elif kind == "kill coordinator":
        process.send_signal(signal.SIGKILL)
    elif kind == "kill process group":
        os.killpg(process.pid, signal.SIGKILL)
    elif kind == "term coordinator":
        process.send_signal(signal.SIGTERM)
    elif kind.startswith("postgres stop"):
        pg.stop(kind.rsplit(" ", 1)[1])
        time.sleep(rng.uniform(1, 5))
        pg.start()
    elif kind == "restart mlflow":
        mlflow.kill()
        time.sleep(rng.uniform(1, 5))
        mlflow.start()
    elif kind == "fill disk":
        if disk is None:
            return False
        _fill(disk, rng.uniform(1, 4))
    elif kind == "pause worker":
        pid = rng.choice(workers)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(3 * HEARTBEAT_S + rng.uniform(1, 4))
        os.kill(pid, signal.SIGCONT)
    return True


def plan(faults: int, rng: random.Random) -> list[str]:
    """`faults` kinds, every kind as evenly as the count allows, in seeded random order."""
    kinds = [FAULTS[i % len(FAULTS)] for i in range(faults)]
    rng.shuffle(kinds)
    return kinds


def _wait(sweep: Sweep, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sweep.ended() is None:
        time.sleep(0.2)


def _until_training(sweep: Sweep, storage: str, cap_s: float = 600) -> None:
    """Wait until a trial of the study is RUNNING (or the sweep ends, or `cap_s` passes)."""
    import optuna
    from optuna.trial import TrialState

    deadline = time.monotonic() + cap_s
    store = optuna.storages.RDBStorage(storage, engine_kwargs={"pool_pre_ping": True})
    while time.monotonic() < deadline and sweep.ended() is None:
        try:
            study = optuna.load_study(study_name="chaos", storage=store)
            if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return
        except Exception:  # noqa: BLE001 - no study yet, or the database is restarting
            pass
        time.sleep(1)


def run(faults: int, seed: int, workers: int, n_trials: int, keep: bool) -> tuple[str, bool]:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="sweeps-chaos-"))
    (folder / "outputs").mkdir()
    pg, mlflow = PrivatePostgres(), MlflowServer(folder / "mlflow-server")
    disk: Path | None = None
    started = time.monotonic()
    injected: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    try:
        pg.start()
        mlflow.start()
        storage = pg.url.replace("postgres@", f"postgres:{SECRET}@")
        (folder / "chaos.yaml").write_text(yaml.safe_dump(sweep_config(n_trials, mlflow.url)))
        checkpoints = folder / "sweep-checkpoints"
        disk = checkpoints if _mount_small_disk(checkpoints) else None
        sweep = Sweep(folder, storage, workers)
        sweep.start()
        for kind in plan(faults, rng):
            if sweep.ended() is not None:
                sweep.start()
            # Most faults meet a trial in training; one in four meets whatever phase is on.
            if rng.random() < 0.75:
                _until_training(sweep, pg.url)
            _wait(sweep, rng.uniform(1, 10))
            if sweep.ended() == 0:
                break  # the study is complete: nothing left to break
            if sweep.ended() is not None:
                sweep.start()
            if inject(kind, sweep, pg, mlflow, disk, rng):
                injected[kind] += 1
            else:
                skipped[kind] += 1
        places = [folder / "outputs", folder / "mlflow-server", pg.data]
        verdict = finish(sweep, pg.url, mlflow.url, n_trials, places)
    finally:
        mlflow.close()
        pg.close()
        if disk is not None:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    table = _table(injected, skipped, verdict, sweep.runs, time.monotonic() - started)
    return table, not verdict.problems


def finish(sweep: Sweep, storage: str, tracking: str, n_trials: int, places: list[Path]) -> Verdict:
    """Rerun until the sweep ends well (as a user would), then check both stores."""
    import optuna
    from mlflow import MlflowClient

    for _ in range(10):
        while sweep.ended() is None:
            time.sleep(1)
        if sweep.ended() == 0:
            study = optuna.load_study(study_name="chaos", storage=storage)
            if _settled(study, n_trials):
                break
        sweep.start()
    study = optuna.load_study(study_name="chaos", storage=storage)
    verdict = Verdict()
    finished = check_study(study, n_trials, verdict)
    check_runs(MlflowClient(tracking), "chaos", finished, "val_loss", verdict)
    check_secret(SECRET, places, study, verdict)
    return verdict


def _settled(study: Any, n_trials: int, wait_s: float = 600) -> bool:
    """All n_trials finished and none running, once workers a killed coordinator left behind
    have finished their trials; False if trials are missing."""
    from optuna.trial import TrialState

    deadline = time.monotonic() + wait_s
    while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if time.monotonic() > deadline:
            return False
        time.sleep(5)
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    return len(finished) >= n_trials


def _table(
    injected: Counter[str], skipped: Counter[str], verdict: Verdict, runs: int, seconds: float
) -> str:
    survived = sum(injected.values()) if not verdict.problems else 0
    lines = ["| fault | injected | not injectable |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {injected[k]} | {skipped[k]} |" for k in FAULTS]
    lines += [
        "",
        "| outcome | |",
        "| --- | ---: |",
        f"| faults injected | {sum(injected.values())} |",
        f"| faults survived (every check holds) | {survived} |",
        f"| `sweep run` invocations (reruns after a fault + 1) | {runs} |",
        f"| trials retried | {verdict.retried} |",
        f"| epochs lost | {verdict.epochs_lost} |",
        f"| wall time | {seconds:.0f} s |",
    ]
    lines += ["", *(f"- check failed: {p}" for p in verdict.problems)] if verdict.problems else []
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--trials", type=int, default=None, help="default: max(6, faults // 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    fields = stamp()
    n_trials = args.trials or max(6, args.faults // 2)
    table, ok = run(args.faults, args.seed, args.workers, n_trials, args.keep)
    fields.update(
        faults=str(args.faults),
        seed=str(args.seed),
        workers=str(args.workers),
        trials=str(n_trials),
    )
    text = f"# Chaos run\n\n{markdown(fields)}\n\n{table}\n"
    out = ROOT / "benchmarks" / "results" / f"chaos-seed{args.seed}.md"
    out.write_text(text)
    print(table)
    print(f"\nwritten to {out.relative_to(ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
