"""Variable-length batches on the CPU without packing: what packing gives, on the fast kernels.

A padded batch with its true lengths is normally packed (`pack_padded_sequence`), so that no
padding reaches a sequence's result: the forward direction stops at each sequence's own last
step and the backward direction starts there. On a CPU a packed batch runs step by step in
torch's generic loop, where an unpacked one takes oneDNN's fused LSTM kernel or
models/fused.py's GRU and RNN (`tests/test_padded.py` checks the results; `make bench
CASES=cells` measures both ways on a Japanese-vowels-sized batch).

`padded_forward` runs the padded batch unpacked, one layer and direction at a time, and
gets the packed result exactly:
- the forward direction is causal, so padding after a sequence's end never reaches its steps
  up to that end; the final state is read at each sequence's own last step;
- the backward direction runs on each sequence reversed within its length (padding stays at
  the end), and its outputs are put back in order the same way;
- outputs past each length are zeroed, as unpacking pads them.
The padded steps are computed and thrown away, which the faster kernels more than pay for where
lengths vary as in the benchmark's batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from models.fused import direction_function, fits, run_layers

# torch's one-layer, one-direction kernels (what nn.LSTM/GRU/RNN call), by module and mode
_KERNELS: dict[str, Callable[..., tuple[Tensor, ...]]] = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def padded_fits(rnn: nn.Module, x: Tensor) -> bool:
    """Whether `padded_forward` can stand in for packing this torch RNN's input."""
    return (
        isinstance(rnn, (nn.LSTM, nn.GRU, nn.RNN))
        and rnn.mode in _KERNELS
        and rnn.bias
        and rnn.proj_size == 0
        and x.device.type == "cpu"  # on a GPU cuDNN runs packed batches itself
        and not torch.is_autocast_enabled("cpu")
        and x.dtype in (torch.float32, torch.float64)
    )


def padded_forward(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """What packing `x` by `lengths`, running `rnn` from zero states and unpacking returns:
    the outputs (zero past each length) and h_n (layers * directions, batch, hidden)."""
    seq = x.transpose(0, 1) if rnn.batch_first else x  # (T, B, in)
    steps, batch = seq.shape[:2]
    lengths = lengths.to("cpu", dtype=torch.long)
    if lengths.shape != (batch,) or int(lengths.min()) < 1 or int(lengths.max()) > steps:
        raise ValueError(
            f"lengths must be {batch} values in 1..{steps}, but got {lengths.tolist()}"
        )
    t = torch.arange(steps)[:, None]
    valid = t < lengths  # (T, B)
    # Each sequence reversed within its length; padding maps to itself. Its own inverse.
    flip_index = torch.where(valid, lengths - 1 - t, t)
    last = (lengths - 1)[None, :, None].expand(1, batch, rnn.hidden_size)

    def flipped(s: Tensor) -> Tensor:
        return s.gather(0, flip_index[..., None].expand_as(s))

    h0 = seq.new_zeros(batch, rnn.hidden_size)

    def one(seq: Tensor, weights: list[Tensor], backward: bool) -> tuple[Tensor, Tensor]:
        if backward:
            out = flipped(_one_direction(rnn, flipped(seq), h0, weights))
            return out, out[0]  # the backward direction ends at step 0
        out = _one_direction(rnn, seq, h0, weights)
        return out, out.gather(0, last)[0]  # at each sequence's own last step

    seq, finals = run_layers(rnn, seq, one)
    seq = seq * valid[..., None].to(seq.dtype)  # zeros past each length, as unpacking gives
    out = seq.transpose(0, 1) if rnn.batch_first else seq
    return out, finals


def _one_direction(rnn: nn.RNNBase, seq: Tensor, h0: Tensor, weights: list[Tensor]) -> Tensor:
    """One layer, one direction over (T, B, in) from zero states: its outputs (T, B, H)."""
    if fits(rnn, seq):  # models/fused.py's GRU and RNN, with autograd on
        return direction_function(rnn)(seq, h0, *weights)[0]  # type: ignore[arg-type]
    hx: Tensor | tuple[Tensor, Tensor] = h0[None]
    if rnn.mode == "LSTM":
        hx = (h0[None], h0[None])
    # (input, hx, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    return _KERNELS[rnn.mode](seq, hx, weights, True, 1, 0.0, rnn.training, False, False)[0]
