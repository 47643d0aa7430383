"""Which embedded Optuna store for N local workers: SQLite or the journal file, measured.

N processes share one study and each runs trials the way a sweep worker does: ask, report an
intermediate value per epoch, set a few user attributes, tell. We count errors (such as
"database is locked"), check that no write was lost (every trial finished, every report
present) and time it. Run: python benchmarks/storage.py [workers] [trials per worker]
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
import time
import traceback
from pathlib import Path

import optuna

EPOCHS = 10


def make(kind: str, folder: Path) -> optuna.storages.BaseStorage:
    if kind == "sqlite":
        return optuna.storages.RDBStorage(f"sqlite:///{folder / 'optuna.db'}")
    backend = optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))
    return optuna.storages.JournalStorage(backend)


def worker(kind: str, folder: str, n: int, errors: mp.Queue) -> None:  # type: ignore[type-arg]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="s", storage=make(kind, Path(folder)))
    for _ in range(n):
        try:
            trial = study.ask()
            x = trial.suggest_float("x", -1, 1)
            trial.set_user_attr("worker.beat", time.time())
            for epoch in range(EPOCHS):
                trial.report(x * x + epoch, epoch)
                trial.set_user_attr("worker.beat", time.time())
            study.tell(trial, x * x)
        except Exception:  # noqa: BLE001 - counted and shown, the measurement goes on
            errors.put(traceback.format_exc().strip().splitlines()[-1])


def measure(kind: str, workers: int, per_worker: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        optuna.create_study(study_name="s", storage=make(kind, Path(folder)))
        errors: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        procs = [
            mp.Process(target=worker, args=(kind, folder, per_worker, errors))
            for _ in range(workers)
        ]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        seconds = time.perf_counter() - start
        found: list[str] = []
        while not errors.empty():
            found.append(errors.get())
        study = optuna.load_study(study_name="s", storage=make(kind, Path(folder)))
        done = [t for t in study.trials if t.state.is_finished()]
        lost = workers * per_worker - len(found) - len(done)
        lost += sum(EPOCHS - len(t.intermediate_values) for t in done)
        for line in sorted(set(found))[:3]:
            print(f"  {kind}: {line}")
        return seconds, len(found), lost


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    per_worker = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    print(f"{workers} processes x {per_worker} trials x {EPOCHS} reports, one study")
    for kind in ("sqlite", "journal", "sqlite", "journal"):
        seconds, errors, lost = measure(kind, workers, per_worker)
        rate = workers * per_worker / seconds
        print(f"{kind:8s} {seconds:6.1f}s  {rate:7.1f} trials/s  errors {errors}  lost {lost}")


if __name__ == "__main__":
    main()
