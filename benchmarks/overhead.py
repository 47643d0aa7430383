"""Platform overhead against a plain PyTorch loop on the same model, data and epochs.

Both sides train the same LSTM on the same adding-problem tensors, with gradient clipping and
a validation pass per epoch. The platform side is a real trial: the Lightning Trainer, the
pruning and checkpoint callbacks, and per-epoch MLflow logging to SQLite.

- Per step: each side runs at two training-set sizes with the epochs fixed; the time difference
  over the step difference is the cost of one more step, free of setup and per-epoch work. On
  the near-zero model (hidden 4, 5 steps) compute is almost nil, so this is the per-step Python
  work that dominates on a GPU.
- Whole trial: the bench LSTM for 5 epochs, everything included.
- Fixed cost: the platform's intercept minus the plain loop's, on the near-zero model.

On the CPU, per-step figures are CPU time (one torch thread each side), which hardly moves when
other processes load the machine. `python -m benchmarks.overhead --device cuda` runs the same
on a GPU (wall time, synchronised), as benchmarks/gpu_check.sh does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.measure import Row, alternate, timed
from datamodules.synthetic import AddingDataModule
from models.options import NetOptions
from models.recurrent import RecurrentNet
from sweeps.config.schema import validate
from sweeps.track.tracking import Tracker
from sweeps.train.trial import train

BATCH, N_VAL = 64, 256
Clock = Callable[[], float]
ACCELERATORS = {"cpu": "cpu", "cuda": "gpu"}  # torch device -> trainer.accelerator


@dataclass(frozen=True)
class Shape:
    hidden: int
    seq_len: int

    def raw(
        self, n_train: int, n_val: int, epochs: int, device: str, diagnostics: bool = True
    ) -> dict[str, Any]:
        """The platform's config for this shape."""
        return {
            "name": "bench",
            "data": {
                "name": "adding",
                "seq_len": self.seq_len,
                "batch_size": BATCH,
                "n_train": n_train,
                "n_val": n_val,
                "n_test": 64,
            },
            "model": {"cell": "lstm", "hidden_size": self.hidden},
            "optimizer": {"name": "adam", "lr": 0.003, "grad_clip": 1.0},
            "trainer": {
                "max_epochs": epochs,
                "accelerator": ACCELERATORS[device],
                "diagnostics": diagnostics,
            },
            "search": {"metric": "val_loss"},
        }


NEAR_ZERO = Shape(hidden=4, seq_len=5)
BENCH_LSTM = Shape(hidden=64, seq_len=50)


def plain_loop(
    shape: Shape, n_train: int, n_val: int, epochs: int, device: str = "cpu", wall: bool = False
) -> Clock:
    """The baseline: a hand-written loop over the very same tensors; returns its timed run."""
    torch.manual_seed(0)
    dm = AddingDataModule(
        seq_len=shape.seq_len, batch_size=BATCH, n_train=n_train, n_val=n_val, n_test=64
    )
    dm.setup("fit")
    net = RecurrentNet(2, 1, NetOptions(cell="lstm", hidden_size=shape.hidden)).to(device)
    # fused, as the platform steps it (models/optim.py): the ratios measure the platform's
    # work around the step, not torch's choice of Adam kernel
    opt = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
    loss_fn = nn.MSELoss()

    def loop() -> None:
        for _ in range(epochs):
            net.train()
            for x, y in dm.train_dataloader():
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                opt.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            net.eval()
            with torch.no_grad():
                total = sum(
                    float(loss_fn(net(x.to(device)), y.to(device))) * len(x)
                    for x, y in dm.val_dataloader()
                )
            _ = total / n_val
        _sync(device)

    return lambda: timed(loop, _clock(device, wall))


def platform_trial(
    tracker: Tracker,
    shape: Shape,
    n_train: int,
    n_val: int,
    epochs: int,
    device: str = "cpu",
    wall: bool = False,
    diagnostics: bool = True,
) -> Clock:
    """The platform: one MLflow-tracked trial of the same config; returns its timed run."""
    config = validate(shape.raw(n_train, n_val, epochs, device, diagnostics))

    def trial() -> None:
        run = tracker.start_single(config)
        with tempfile.TemporaryDirectory() as workdir:
            train(config, Path(workdir), run=run)
        run.finish(state="COMPLETE", status="FINISHED")
        _sync(device)

    return lambda: timed(trial, _clock(device, wall))


def per_step(
    tracker: Tracker, shape: Shape, steps: tuple[int, int], repeats: int, device: str = "cpu"
) -> tuple[dict[str, float], dict[str, float]]:
    """(plain, platform) seconds per extra step and their intercepts, over 2 epochs.

    Each run's median over `repeats` rounds: identical runs vary from one to the next, and a
    median of many is steadier than the least of a few.
    """
    lo, hi = (s * BATCH for s in steps)
    runs: dict[str, Clock] = {
        "plain_lo": lambda: plain_loop(shape, lo, N_VAL, 2, device)(),
        "plat_lo": lambda: platform_trial(tracker, shape, lo, N_VAL, 2, device)(),
        "plain_hi": lambda: plain_loop(shape, hi, N_VAL, 2, device)(),
        "plat_hi": lambda: platform_trial(tracker, shape, hi, N_VAL, 2, device)(),
    }
    for warm_up in runs.values():  # imports, data caches, first Trainer: untimed
        warm_up()
    mid = alternate(runs, repeats)
    n = 2 * (steps[1] - steps[0])
    slopes = {side: (mid[f"{side}_hi"] - mid[f"{side}_lo"]) / n for side in ("plain", "plat")}
    icepts = {side: mid[f"{side}_lo"] - slopes[side] * 2 * steps[0] for side in slopes}
    return slopes, icepts


def run(quick: bool = False, device: str = "cpu") -> list[Row]:
    """Per-step overhead (near-zero and bench LSTM), whole-trial ratio and fixed cost."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both sides on one thread: less noise from the other core
    try:
        with tempfile.TemporaryDirectory() as folder:
            tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench")  # made once, untimed
            return _rows(tracker, quick, device)
    finally:
        torch.set_num_threads(threads)


def _rows(tracker: Tracker, quick: bool, device: str) -> list[Row]:
    repeats = 1 if quick else 11
    # The bench LSTM's overhead is a small part of its step, so its slope needs a wide range.
    zero_steps, bench_steps = ((2, 4), (2, 3)) if quick else ((16, 96), (8, 72))
    zero, zero_icept = per_step(tracker, NEAR_ZERO, zero_steps, repeats, device)
    bench, _ = per_step(tracker, BENCH_LSTM, bench_steps, repeats, device)
    epochs, n_train = (1, 128) if quick else (5, 4000)
    whole = alternate(
        {
            "plain": plain_loop(BENCH_LSTM, n_train, 1000, epochs, device, wall=True),
            "plat": platform_trial(tracker, BENCH_LSTM, n_train, 1000, epochs, device, wall=True),
            "plat_nodiag": platform_trial(
                tracker, BENCH_LSTM, n_train, 1000, epochs, device, wall=True, diagnostics=False
            ),
        },
        1 if quick else 7,  # whole trials vary from run to run: a median of several
    )
    fixed = zero_icept["plat"] - zero_icept["plain"]
    goal = 1.10 if device == "cpu" else 1.25  # on a GPU, 1.25x the plain loop
    ms, on, clock = 1000.0, f" on {device}", "CPU" if device == "cpu" else "wall"
    return [
        Row(f"per step, near-zero LSTM (hidden 4, 5 steps){on}", "plain loop",
            zero["plain"] * ms, "trial", zero["plat"] * ms, "ms/step", goal=1.5),
        Row(f"per step, bench LSTM (hidden 64, 50 steps){on}", "plain loop",
            bench["plain"] * ms, "trial", bench["plat"] * ms, "ms/step", goal=goal),
        Row(f"whole {epochs}-epoch bench LSTM trial{on}, wall time", "plain loop", whole["plain"],
            "tracked trial", whole["plat"], "s", goal=goal),
        Row(f"whole {epochs}-epoch bench LSTM trial{on}: diagnostics on vs off", "trial, off",
            whole["plat_nodiag"], "trial, on", whole["plat"], "s", note="reported, not judged"),
        Row(f"per-trial fixed cost (setup, 2 epochs' logging){on}", "plain bench trial",
            whole["plain"], "fixed cost", fixed, "s", note=f"share; {clock} time"),
    ]  # fmt: skip


def profile(device: str, top: int, steps: int = 96, shape: Shape = NEAR_ZERO) -> None:
    """cProfile of one platform trial (the near-zero model by default): where the time goes.

    One warm-up trial first, so imports and first-use costs stay out of the profile. On a GPU,
    time that piles up in a call that waits for the device marks a synchronisation.
    """
    import cProfile
    import pstats

    torch.set_num_threads(1)  # as run() does: two threads on a busy CPU collapse
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench")
        trial = platform_trial(tracker, shape, steps * BATCH, N_VAL, 2, device, wall=True)
        trial()
        profiler = cProfile.Profile()
        seconds = profiler.runcall(trial)
    print(f"profile: {shape}, {2 * steps} steps on {device}, {seconds:.2f} s wall")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _clock(device: str, wall: bool) -> Clock:
    # CPU time on the CPU unless asked for wall time; on a GPU the work is asynchronous, so
    # wall time up to a sync.
    return time.process_time if device == "cpu" and not wall else time.perf_counter


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    """This case alone, on the CPU or a GPU: the table, exit 1 if a goal was missed."""
    from benchmarks.stamp import stamp, text
    from benchmarks.table import render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=sorted(ACCELERATORS), default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test only")
    parser.add_argument(
        "--profile", type=int, metavar="N", default=0,
        help="first print the N functions that take most of a trial's own time, per model",
    )  # fmt: skip
    args = parser.parse_args(argv)
    print(text(stamp()))
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    if args.profile:
        for shape in (NEAR_ZERO, BENCH_LSTM):
            profile(args.device, args.profile, shape=shape)
    rows = run(args.quick, args.device)
    print(render(rows))
    return 1 if any(r.met is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
