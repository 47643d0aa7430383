"""What tests/test_fused.py and tests/test_padded.py share: torch's layers, and one check."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

# the torch layers the CPU fast paths stand in for, with their options
LAYERS = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn_tanh": partial(nn.RNN, nonlinearity="tanh"),
    "rnn_relu": partial(nn.RNN, nonlinearity="relu"),
}


def assert_same_results(
    got: tuple[Tensor, Tensor], want: tuple[Tensor, Tensor], inputs: list[Tensor]
) -> tuple[Tensor, ...]:
    """(outputs, h_n) equal to 1e-12, and so the gradients of a loss on both with respect to
    `inputs` (when `want` carries a graph); returns those gradients."""
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12)
    if not want[0].requires_grad:
        return ()

    # A loss on both the every-step outputs and the final states, so both paths back carry.
    def loss(out: Tensor, h: Tensor) -> Tensor:
        return out.sin().sum() + h.cos().sum()

    want_grads = torch.autograd.grad(loss(*want), inputs)
    got_grads = torch.autograd.grad(loss(*got), inputs)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12)
    return got_grads
