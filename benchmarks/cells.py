"""The cells' own cost on the CPU: models/fused.py's GRU and RNN against torch's, and the LSTM.

On a CPU torch's nn.LSTM runs oneDNN's fused kernel while nn.GRU and nn.RNN step cell by cell
under autograd, several times slower per step than the LSTM; a sweep that compares cells then
spends most of its time on GRUs. `RecurrentNet` (impl "fused", the default) trains
a GRU or RNN on a CPU through models/fused.py instead. Each side is one forward and backward
pass of a batch of the adding problem (32 sequences of 100 steps, hidden 32), CPU time on one
torch thread, in turn. A variable-length batch (as in configs/japanese_vowels.yaml) is packed
under impl "torch"; under "fused" it runs unpacked through models/padded.py, with the same
result, and the last rows measure that.

    python -m benchmarks.cells [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import torch

from benchmarks.measure import Row, alternate, timed
from models.options import NetOptions
from models.recurrent import RecurrentNet

BATCH, STEPS, HIDDEN = 32, 100, 32


def _pass(
    cell: str, impl: str, steps: int, repeats: int, varying: bool = False
) -> Callable[[], float]:
    """CPU seconds of `repeats` forward and backward passes of one net.

    `varying`: a batch shaped like configs/japanese_vowels.yaml's instead (12 channels, 7 to
    29 steps of `steps`, hidden 32, bidirectional), which impl torch packs.
    """
    torch.manual_seed(0)
    n_in = 12 if varying else 2
    net = RecurrentNet(
        n_in, 1, NetOptions(cell=cell, hidden_size=HIDDEN, impl=impl, bidirectional=varying)
    )
    x, y = torch.randn(BATCH, steps, n_in), torch.randn(BATCH, 1)
    lengths = torch.randint(max(1, steps // 4), steps + 1, (BATCH,)) if varying else None

    def run() -> None:
        for _ in range(repeats):
            net.zero_grad()
            (net(x, lengths) - y).pow(2).mean().backward()  # type: ignore[no-untyped-call]

    run()  # warm-up: oneDNN builds its primitives on the first call
    return lambda: timed(run, time.process_time) / repeats


def run(quick: bool = False) -> list[Row]:
    """Per batch: fused GRU and RNN against torch's, and the fused GRU against the LSTM."""
    steps, repeats, rounds = (10, 2, 2) if quick else (STEPS, 10, 7)
    vsteps = 10 if quick else 29
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = alternate(
            {
                "nn.GRU": _pass("gru", "torch", steps, repeats),
                "fused GRU": _pass("gru", "fused", steps, repeats),
                "LSTM": _pass("lstm", "fused", steps, repeats),
                "nn.RNN": _pass("rnn", "torch", steps, repeats),
                "fused RNN": _pass("rnn", "fused", steps, repeats),
                "packed LSTM": _pass("lstm", "torch", vsteps, repeats, varying=True),
                "unpacked LSTM": _pass("lstm", "fused", vsteps, repeats, varying=True),
                "packed GRU": _pass("gru", "torch", vsteps, repeats, varying=True),
                "unpacked GRU": _pass("gru", "fused", vsteps, repeats, varying=True),
            },
            rounds,
        )
    finally:
        torch.set_num_threads(threads)
    ms = {k: v * 1000 for k, v in got.items()}
    shape = f"{BATCH}x{steps} steps, hidden {HIDDEN}, forward and backward, CPU time"
    varied = f"{BATCH} of {vsteps // 4} to {vsteps} steps, 12 channels, hidden {HIDDEN}; as above"
    return [
        Row("GRU batch, CPU: models/fused.py against nn.GRU", "nn.GRU", ms["nn.GRU"],
            "fused GRU", ms["fused GRU"], "ms", note=shape),
        Row("RNN batch (tanh), CPU: models/fused.py against nn.RNN", "nn.RNN", ms["nn.RNN"],
            "fused RNN", ms["fused RNN"], "ms", note=shape),
        Row("GRU batch against LSTM batch, CPU (both as trials run them)", "LSTM", ms["LSTM"],
            "fused GRU", ms["fused GRU"], "ms", note=shape),
        Row("variable-length batch, bidirectional LSTM, CPU: models/padded.py against packing",
            "packed", ms["packed LSTM"], "unpacked", ms["unpacked LSTM"], "ms", note=varied),
        Row("variable-length batch, bidirectional GRU, CPU: models/padded.py against packing",
            "packed", ms["packed GRU"], "unpacked", ms["unpacked GRU"], "ms", note=varied),
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["cells", *sys.argv[1:]]))
