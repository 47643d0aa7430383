"""Reference recurrent cells: RNN, LSTM, GRU and a peephole LSTM, written as their equations.

Each step is plain tensor algebra, so the gates and every hidden state can be looked at and
differentiated. Parameter names and layouts are torch's (`weight_ih_l0`, `bias_hh_l1_reverse`,
LSTM gates stacked (i, f, g, o), GRU gates (r, z, n)), so a fused `nn.LSTM`'s state_dict loads
into a `ReferenceRecurrent` unchanged and both compute the same function. The fused kernels stay
the fast path for training; these serve the diagnostics and `model.impl: reference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Gate blocks stacked in weight_ih / weight_hh, per cell.
GATES = {"rnn": 1, "lstm": 4, "gru": 3, "peephole": 4}
# The sigmoid gates the diagnostics summarise; the LSTM's g and the GRU's n are candidates.
GATE_NAMES = {"rnn": (), "lstm": ("i", "f", "o"), "gru": ("r", "z"), "peephole": ("i", "f", "o")}
# The gate whose value is the share of the old state kept per step: a memory time scale.
MEMORY_GATE = {"lstm": "f", "peephole": "f", "gru": "z"}
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


@dataclass
class Trace:
    """What a traced forward pass saw, per layer-direction key (`l0`, `l0r`, `l1`, ...)."""

    hidden: dict[str, list[Tensor]] = field(default_factory=dict)  # per step (batch, hidden)
    gates: dict[str, dict[str, list[Tensor]]] = field(default_factory=dict)


def rnn_step(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor, act: str) -> Tensor:
    """h' = act(W_ih x + b_ih + W_hh h + b_hh); `xw` holds the input half."""
    return ACTIVATIONS[act](xw + F.linear(h, w_hh, b_hh))


def lstm_step(
    xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor, peep: Tensor | None = None
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """One LSTM step (Hochreiter & Schmidhuber 1997, with a forget gate, Gers et al. 2000).

    With `peep` (3 * hidden: w_ci, w_cf, w_co) the gates also see the cell state, as in the
    peephole LSTM of Gers & Schmidhuber 2000: i and f see c_{t-1}, o sees c_t.
    """
    pre_i, pre_f, pre_g, pre_o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, dim=1)
    if peep is not None:
        w_ci, w_cf, w_co = peep.chunk(3)
        pre_i, pre_f = pre_i + w_ci * c, pre_f + w_cf * c
    i = torch.sigmoid(pre_i)  # input gate: how much of the candidate to write
    f = torch.sigmoid(pre_f)  # forget gate: how much of the old cell state to keep
    g = torch.tanh(pre_g)  # candidate cell state
    c_next = f * c + i * g
    if peep is not None:
        pre_o = pre_o + w_co * c_next
    o = torch.sigmoid(pre_o)  # output gate: how much of the cell state to show
    return o * torch.tanh(c_next), c_next, {"i": i, "f": f, "o": o}


def gru_step(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """One GRU step (Cho et al. 2014) in torch's form: r gates W_hn h + b_hn, not h."""
    x_r, x_z, x_n = xw.chunk(3, dim=1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)  # reset gate: how much of the old state the candidate sees
    z = torch.sigmoid(x_z + h_z)  # update gate: how much of the old state to keep
    n = torch.tanh(x_n + r * h_n)  # candidate state
    return (1 - z) * n + z * h, {"r": r, "z": z}


class ReferenceRecurrent(nn.Module):
    """A stacked, optionally bidirectional recurrent layer with `nn.RNN`'s batch-first interface.

    `forward(x, lengths)` returns `(out, h_n)` (`(out, (h_n, c_n))` for LSTMs) exactly as the
    fused module does on a packed sequence: padded steps give zero outputs and leave the state
    alone, and the backward direction starts at each sequence's true last step.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"model.cell must be one of {sorted(GATES)}, but got {cell!r}")
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(
                f"model.nonlinearity must be one of {sorted(ACTIVATIONS)}, but got {nonlinearity!r}"
            )
        self.cell, self.nonlinearity = cell, nonlinearity
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.directions = ("", "_reverse") if bidirectional else ("",)
        rows = GATES[cell] * hidden_size
        for layer in range(num_layers):
            size_in = input_size if layer == 0 else hidden_size * len(self.directions)
            for sfx in self.directions:
                shapes: dict[str, tuple[int, ...]] = {
                    "weight_ih": (rows, size_in),
                    "weight_hh": (rows, hidden_size),
                    "bias_ih": (rows,),
                    "bias_hh": (rows,),
                }
                if cell == "peephole":
                    shapes["weight_ch"] = (3 * hidden_size,)
                for name, shape in shapes.items():
                    self.register_parameter(
                        f"{name}_l{layer}{sfx}", nn.Parameter(torch.empty(shape))
                    )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's own initialisation: every weight uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, trace: Trace | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """(batch, seq_len, input) to outputs (batch, seq_len, dirs * hidden) and final states."""
        mask = None
        if lengths is not None:
            steps = torch.arange(x.shape[1], device=x.device)
            mask = (steps < lengths.to(x.device)[:, None]).to(x.dtype)  # (batch, seq_len)
        finals_h: list[Tensor] = []
        finals_c: list[Tensor] = []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for sfx in self.directions:
                key = f"l{layer}{'r' if sfx else ''}"
                out, h, c = self._direction(layer_in, mask, lengths, f"l{layer}{sfx}", key, trace)
                outs.append(out)
                finals_h.append(h)
                finals_c.append(c)
            layer_in = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)  # as torch: between
        h_n = torch.stack(finals_h)  # (layers * dirs, batch, hidden)
        if self.cell in ("lstm", "peephole"):
            return layer_in, (h_n, torch.stack(finals_c))
        return layer_in, h_n

    def _direction(
        self,
        x: Tensor,
        mask: Tensor | None,
        lengths: Tensor | None,
        suffix: str,
        key: str,
        trace: Trace | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        reverse = suffix.endswith("_reverse")
        order = _reversal(x, lengths) if reverse else None
        if order is not None:
            x = x.gather(1, order.unsqueeze(-1).expand_as(x))
        w_hh, b_hh = getattr(self, f"weight_hh_{suffix}"), getattr(self, f"bias_hh_{suffix}")
        peep = getattr(self, f"weight_ch_{suffix}") if self.cell == "peephole" else None
        xw = F.linear(x, getattr(self, f"weight_ih_{suffix}"), getattr(self, f"bias_ih_{suffix}"))
        batch = x.shape[0]
        h = c = x.new_zeros(batch, self.hidden_size)
        outs = []
        for t in range(x.shape[1]):
            gates: dict[str, Tensor] = {}
            if self.cell == "rnn":
                h_new, c_new = rnn_step(xw[:, t], h, w_hh, b_hh, self.nonlinearity), c
            elif self.cell == "gru":
                (h_new, gates), c_new = gru_step(xw[:, t], h, w_hh, b_hh), c
            else:
                h_new, c_new, gates = lstm_step(xw[:, t], h, c, w_hh, b_hh, peep)
            if mask is None:
                h, c, out = h_new, c_new, h_new
            else:  # padded steps keep the state and output zeros, as a packed sequence does
                m = mask[:, t : t + 1]  # (batch, 1)
                h, c, out = m * h_new + (1 - m) * h, m * c_new + (1 - m) * c, m * h_new
            outs.append(out)
            if trace is not None:
                trace.hidden.setdefault(key, []).append(h)
                for name, value in gates.items():
                    trace.gates.setdefault(key, {}).setdefault(name, []).append(value)
        out_seq = torch.stack(outs, dim=1)  # (batch, seq_len, hidden)
        if order is not None:
            out_seq = out_seq.gather(1, order.unsqueeze(-1).expand_as(out_seq))
        return out_seq, h, c


def _reversal(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Per-row time indices that reverse each sequence within its own length (an involution)."""
    batch, seq_len = x.shape[0], x.shape[1]
    steps = torch.arange(seq_len, device=x.device).expand(batch, seq_len)
    if lengths is None:
        return steps.flip(1)
    n = lengths.to(x.device)[:, None]
    return torch.where(steps < n, n - 1 - steps, steps)  # (batch, seq_len)


def parameter_count(
    cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1, directions: int = 1
) -> int:
    """Parameters of a recurrent stack, from the equations (checked against the modules)."""
    rows = GATES[cell] * hidden_size
    total = 0
    for layer in range(num_layers):
        size_in = input_size if layer == 0 else hidden_size * directions
        per_direction = rows * (size_in + hidden_size) + 2 * rows
        if cell == "peephole":
            per_direction += 3 * hidden_size
        total += directions * per_direction
    return total
