"""A GRU and a vanilla RNN for the CPU with their backward passes written out (impl "fused").

On a CPU, torch's nn.GRU and nn.RNN have no fused kernel (its LSTM runs oneDNN's): they step
cell by cell, and autograd then replays every small op of every time step backwards, some 25 a
step for the GRU. The functions here compute the same forward in a few ops a step (7 for the
GRU, 2 for the RNN) and the gradient in 3: every per-step factor of the gradient that does not
depend on the incoming gradient is computed for all steps at once, and the weight gradients are
matrix products over all steps after the loop. The gain shrinks as the sizes grow, where the
matrix products, the same on both sides, weigh more; `make bench CASES=cells` measures it.
Outputs and gradients match torch's to float rounding (tests/test_fused.py: 1e-12 in double
precision, and gradcheck).

The modules stay torch's nn.GRU and nn.RNN, so parameters, checkpoints and diagnostics are
torch's own; only their forward is replaced, and only where this is faster: on the CPU, for
unpacked input, with autograd on.

torch orders a GRU's gates (reset r, update z, new n) and computes, per step,
    r = sigmoid(x W_ir + b_ir + h W_hr + b_hr),  z = sigmoid(x W_iz + b_iz + h W_hz + b_hz),
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h;
and a vanilla RNN h' = f(x W_ih + b_ih + h W_hh + b_hh), with f tanh or relu.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


class GRUFunction(torch.autograd.Function):
    """One direction of one GRU layer over a whole sequence: (T, B, in) -> (T, B, H), h_T."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
    ) -> tuple[Tensor, Tensor]:
        steps, batch, _ = x.shape
        hidden = h0.shape[1]
        # The input's share of every gate at every step: one matrix product, not T. The
        # hidden side's bias joins it for r and z, where the two are simply added.
        x_flat = x.reshape(steps * batch, -1)  # a copy when x is a batch-first transpose
        gi = torch.addmm(b_ih, x_flat, w_ih.t()).view(steps, batch, -1)
        gi_rz, gi_n = torch.split(gi, [2 * hidden, hidden], 2)
        b_hh_rz, b_hh_n = torch.split(b_hh, [2 * hidden, hidden])
        pre_rz = (gi_rz + b_hh_rz).unbind(0)
        gi_ns = gi_n.unbind(0)
        w_rz, w_n = torch.split(w_hh.t(), [2 * hidden, hidden], 1)
        h = h0
        hs, rzs, ns, ghns = [h0], [], [], []
        for t in range(steps):
            rz = torch.addmm(pre_rz[t], h, w_rz).sigmoid_()
            gh_n = torch.addmm(b_hh_n, h, w_n)
            r, z = rz.chunk(2, 1)
            n = torch.addcmul(gi_ns[t], r, gh_n).tanh_()
            h = torch.lerp(n, h, z)  # n + z * (h - n)
            hs.append(h)
            rzs.append(rz)
            ns.append(n)
            ghns.append(gh_n)
        states = torch.stack(hs)  # (T + 1, B, H): h_0 .. h_T
        gates = torch.stack(rzs), torch.stack(ns), torch.stack(ghns)
        ctx.save_for_backward(x_flat, w_ih, w_hh, states, *gates)
        ctx.set_materialize_grads(False)
        return states[1:], h

    @staticmethod
    @once_differentiable  # a second derivative through it raises, rather than being wrong
    def backward(
        ctx: Any, d_out: Tensor | None, d_last: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        x_flat, w_ih, w_hh, states, rz, n, gh_n = ctx.saved_tensors
        steps, batch, hidden = n.shape
        r, z = rz.chunk(2, 2)
        h_prev = states[:-1]
        # With g = dLoss/dh_t (the step's output), the step's gradients are g times these:
        a_n = (1 - z) * (1 - n * n)  # the new gate's pre-activation (input side and bias)
        coef = torch.cat((a_n * gh_n * r * (1 - r), (h_prev - n) * z * (1 - z), a_n * r), 2).view(
            steps, batch, 3, hidden
        )  # the hidden side's pre-activations (r, z, n)
        g = d_last if d_last is not None else h_prev.new_zeros(batch, hidden)
        coefs, zs = coef.unbind(0), z.unbind(0)
        d_outs = d_out.unbind(0) if d_out is not None else None
        gs: list[Tensor] = [g] * steps
        d_ghs: list[Tensor] = [g] * steps
        for t in range(steps - 1, -1, -1):
            if d_outs is not None:
                g = g + d_outs[t]
            d_gh = (coefs[t] * g.unsqueeze(1)).view(batch, 3 * hidden)
            gs[t], d_ghs[t] = g, d_gh
            g = torch.addmm(g * zs[t], d_gh, w_hh)  # to h_{t-1}: directly, and through gh
        d_gh_all = torch.stack(d_ghs).view(steps * batch, 3 * hidden)
        d_gi_all = torch.cat(
            (d_gh_all.view(steps, batch, -1)[..., : 2 * hidden], torch.stack(gs) * a_n), 2
        ).view(steps * batch, 3 * hidden)
        need = ctx.needs_input_grad
        d_x = (d_gi_all @ w_ih).view(steps, batch, -1) if need[0] else None
        d_w_ih = d_gi_all.t() @ x_flat if need[2] else None
        d_w_hh = d_gh_all.t() @ h_prev.reshape(steps * batch, hidden) if need[3] else None
        d_b_ih = d_gi_all.sum(0) if need[4] else None
        d_b_hh = d_gh_all.sum(0) if need[5] else None
        return d_x, g if need[1] else None, d_w_ih, d_w_hh, d_b_ih, d_b_hh


class RNNFunction(torch.autograd.Function):
    """One direction of one vanilla RNN layer: (T, B, in) -> (T, B, H), h_T; f tanh or relu."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        h0: Tensor,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor,
        b_hh: Tensor,
        relu: bool,
    ) -> tuple[Tensor, Tensor]:
        steps, batch, _ = x.shape
        x_flat = x.reshape(steps * batch, -1)
        pre = torch.addmm(b_ih + b_hh, x_flat, w_ih.t()).view(steps, batch, -1).unbind(0)
        w = w_hh.t()
        h = h0
        hs = [h0]
        for t in range(steps):
            h = torch.addmm(pre[t], h, w)
            h = h.clamp_min_(0) if relu else h.tanh_()
            hs.append(h)
        states = torch.stack(hs)  # (T + 1, B, H): h_0 .. h_T
        ctx.save_for_backward(x_flat, w_ih, w_hh, states)
        ctx.relu = relu
        ctx.set_materialize_grads(False)
        return states[1:], h

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, d_out: Tensor | None, d_last: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        x_flat, w_ih, w_hh, states = ctx.saved_tensors
        out = states[1:]
        steps, batch, hidden = out.shape
        # f' from f's own output: 1 - h^2 for tanh, the step (h > 0) for relu
        slopes = ((out > 0).to(out.dtype) if ctx.relu else 1 - out * out).unbind(0)
        g = d_last if d_last is not None else out.new_zeros(batch, hidden)
        d_outs = d_out.unbind(0) if d_out is not None else None
        d_pres: list[Tensor] = [g] * steps
        for t in range(steps - 1, -1, -1):
            if d_outs is not None:
                g = g + d_outs[t]
            d_pres[t] = d_pre = g * slopes[t]
            g = d_pre @ w_hh  # to h_{t-1}
        d_pre_all = torch.stack(d_pres).view(steps * batch, hidden)
        need = ctx.needs_input_grad
        d_x = (d_pre_all @ w_ih).view(steps, batch, -1) if need[0] else None
        d_w_ih = d_pre_all.t() @ x_flat if need[2] else None
        d_w_hh = d_pre_all.t() @ states[:-1].reshape(steps * batch, hidden) if need[3] else None
        d_b = d_pre_all.sum(0) if need[4] or need[5] else None
        return d_x, g if need[1] else None, d_w_ih, d_w_hh, d_b, d_b, None


def fits(rnn: nn.Module, x: Tensor) -> bool:
    """Whether `fused_forward` can stand in for this nn.GRU or nn.RNN on this input."""
    return (
        isinstance(rnn, (nn.GRU, nn.RNN))
        and rnn.bias
        and rnn.proj_size == 0
        and x.device.type == "cpu"
        and torch.is_grad_enabled()  # without autograd, torch's C++ loop is the faster
        and not torch.is_autocast_enabled("cpu")  # its ops would mix dtypes step by step
        and x.dtype in (torch.float32, torch.float64)
    )


def fused_forward(rnn: nn.GRU | nn.RNN, x: Tensor) -> tuple[Tensor, Tensor]:
    """What `rnn(x)` returns, from zero initial states, computed with GRUFunction/RNNFunction."""
    layer_fn = direction_function(rnn)
    seq = x.transpose(0, 1) if rnn.batch_first else x  # (T, B, in)
    h0 = seq.new_zeros(seq.shape[1], rnn.hidden_size)

    def one(seq: Tensor, weights: list[Tensor], backward: bool) -> tuple[Tensor, Tensor]:
        inputs = seq.flip(0) if backward else seq
        out, last = layer_fn(inputs, h0, *weights)
        return (out.flip(0) if backward else out), last

    seq, finals = run_layers(rnn, seq, one)
    return (seq.transpose(0, 1) if rnn.batch_first else seq), finals


def direction_function(rnn: nn.GRU | nn.RNN) -> Callable[..., tuple[Tensor, Tensor]]:
    """GRUFunction or RNNFunction (with the module's nonlinearity) as one call:
    (x (T, B, in), h0, weight_ih, weight_hh, bias_ih, bias_hh) -> (outputs, h_T)."""
    if isinstance(rnn, nn.GRU):
        return GRUFunction.apply
    relu = rnn.nonlinearity == "relu"
    return lambda x, h0, *weights: RNNFunction.apply(x, h0, *weights, relu)  # type: ignore[no-untyped-call]


OneDirection = Callable[[Tensor, list[Tensor], bool], tuple[Tensor, Tensor]]


def run_layers(rnn: nn.RNNBase, seq: Tensor, one: OneDirection) -> tuple[Tensor, Tensor]:
    """`rnn`'s layers and directions over time-major `seq`, with its dropout between layers.

    `one(seq, weights, backward)` runs one direction of one layer, given its weights
    (weight_ih, weight_hh, bias_ih, bias_hh), and returns its outputs in time order and its
    final state. Returns the top layer's outputs (T, B, directions * H) and the final states
    (layers * directions, B, H), ordered as torch orders h_n.
    """
    directions = 2 if rnn.bidirectional else 1
    finals = []
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            out, last = one(seq, [getattr(rnn, f"{name}{suffix}") for name in WEIGHTS], bool(d))
            outs.append(out)
            finals.append(last)
        seq = outs[0] if directions == 1 else torch.cat(outs, 2)
        if rnn.dropout and rnn.training and layer < rnn.num_layers - 1:
            seq = F.dropout(seq, rnn.dropout, training=True)
    return seq, torch.stack(finals)


WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
