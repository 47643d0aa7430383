"""The recurrent network itself: an embedding or raw features, a torch RNN, dropout and a head."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from models.cells import ReferenceRecurrent, Trace, parameter_count
from models.fused import fits, fused_forward
from models.init import initialise
from models.options import NET, NetOptions
from models.padded import padded_fits, padded_forward

# torch's kernels. Cells torch lacks (the peephole LSTM) exist only as a reference. With impl
# "fused", on the CPU a GRU or RNN trains through models/fused.py and a variable-length batch
# runs unpacked through models/padded.py; with "torch" through torch's layers, packed.
CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A stacked RNN/LSTM/GRU mapping sequences to last-step or every-step outputs.

    Float features go straight into the recurrent layer (input_size=n_inputs): an extra input
    projection would add parameters and a hyperparameter without helping the small feature
    counts these datasets have, and it would hide the cell's own input weights from diagnostics.
    Token ids go through `nn.Embedding(vocab_size, embedding_dim)` first.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        options: NetOptions = NET,
        *,
        vocab_size: int | None = None,
        every_step: bool = False,
        steps: int | None = None,
    ) -> None:
        """`steps`: the data's sequence length, T_max of `model.init: chrono` by default."""
        super().__init__()
        _check_data_sizes(n_inputs, n_outputs, vocab_size)
        cell, hidden_size, num_layers = options.cell, options.hidden_size, options.num_layers
        bidirectional, dropout = options.bidirectional, options.dropout
        self.options = options
        self.cell = cell
        # A cell torch lacks has nothing fused to choose: it runs as the reference.
        self.impl = options.impl if cell in CELLS else "reference"
        self.n_outputs = n_outputs
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.every_step = every_step
        self.num_directions = 2 if bidirectional else 1

        self.embedding: nn.Embedding | None = None
        input_size = n_inputs
        if vocab_size is not None:
            self.embedding = nn.Embedding(vocab_size, options.embedding_dim)
            input_size = options.embedding_dim
        if options.match_params is not None:
            hidden_size = self.hidden_size = matched_hidden_size(
                options.match_params,
                cell,
                input_size,
                n_outputs,
                num_layers=num_layers,
                directions=self.num_directions,
                fixed=vocab_size * options.embedding_dim if vocab_size is not None else 0,
            )

        rnn_kwargs: dict[str, Any] = {}
        if cell == "rnn":
            rnn_kwargs["nonlinearity"] = options.nonlinearity
        # torch applies `dropout` only between stacked layers and warns when num_layers == 1.
        torch_layer = self.impl != "reference"
        layer = CELLS[cell] if torch_layer else partial(ReferenceRecurrent, cell)
        if torch_layer:
            rnn_kwargs["batch_first"] = True  # the reference is batch-first by construction
        self.rnn: nn.Module = layer(
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **rnn_kwargs,
        )
        # Always regularise the top layer's output too, so one-layer models feel `dropout`.
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * self.num_directions, n_outputs)
        # What the recurrent weights got (model.init resolved), for the run to record.
        self.initialised = initialise(self.rnn, options, hidden_size, steps)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, trace: Trace | None = None
    ) -> Tensor:
        """Map (batch, seq_len[, n_inputs]) to (batch, n_outputs) or (batch, seq_len, n_outputs).

        With a `trace` (reference cells only), every step's hidden state and gates are kept.
        """
        seq_len = x.shape[1]
        inputs = self.embedding(x) if self.embedding is not None else x  # (batch, seq_len, in)
        if isinstance(self.rnn, ReferenceRecurrent):
            out, state = self.rnn(inputs, lengths, trace)
        elif trace is not None:
            raise ValueError(
                "a trace needs the reference cells: build the net with impl='reference'"
            )
        elif lengths is None:
            if self.impl == "fused" and fits(self.rnn, inputs):
                out, state = fused_forward(self.rnn, inputs)  # type: ignore[arg-type]
            else:
                out, state = self._torch_rnn(inputs)
        elif self.impl == "fused" and padded_fits(self.rnn, inputs):
            out, state = padded_forward(self.rnn, inputs, lengths)  # type: ignore[arg-type]
        else:
            # Packing keeps padding out of both directions; lengths must live on the CPU.
            packed = pack_padded_sequence(
                inputs, lengths.to("cpu", dtype=torch.long), batch_first=True, enforce_sorted=False
            )
            packed_out, state = self._torch_rnn(packed)
            out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=seq_len)
        if self.every_step:
            features = out  # (batch, seq_len, directions * hidden)
        else:
            features = self._last_step(state)  # (batch, directions * hidden)
        return self.head(self.dropout(features))  # type: ignore[no-any-return]

    def _torch_rnn(self, inputs: Tensor | PackedSequence) -> tuple[Any, Any]:
        # torch's LSTM on a CPU has no 16-bit kernel: under autocast, oneDNN refuses to build
        # one. There it runs in float32, as autocast runs any op it has no lower precision for.
        if (
            isinstance(self.rnn, nn.LSTM)
            and inputs.data.device.type == "cpu"
            and torch.is_autocast_enabled("cpu")
        ):
            with torch.autocast("cpu", enabled=False):
                return self.rnn(inputs.float())  # type: ignore[no-any-return]
        return self.rnn(inputs)  # type: ignore[no-any-return]

    def _last_step(self, state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        # h_n holds, per direction, the state at its own true last step: t = length-1 going
        # forward, t = 0 going backward. That is exactly the summary we want, padding-free.
        h_n = state[0] if isinstance(state, tuple) else state  # (layers * dirs, batch, hidden)
        top = h_n[-self.num_directions :]  # (dirs, batch, hidden)
        return top.transpose(0, 1).reshape(top.shape[1], -1)  # (batch, dirs * hidden)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def matched_hidden_size(
    n_params: int,
    cell: str,
    input_size: int,
    n_outputs: int,
    *,
    num_layers: int = 1,
    directions: int = 1,
    fixed: int = 0,
) -> int:
    """The hidden_size whose network comes closest to `n_params` parameters (model.match_params).

    So that "LSTM beat RNN" compares cells, not sizes: an LSTM has four weight blocks per
    unit where an RNN has one, so at equal width it has about four times the weights.
    """

    def total(hidden: int) -> int:
        head = hidden * directions * n_outputs + n_outputs
        rec = parameter_count(
            cell, input_size, hidden, num_layers=num_layers, directions=directions
        )
        return fixed + rec + head

    if n_params < total(1):
        raise ValueError(
            f"model.match_params must be >= {total(1)} (a {cell} with hidden_size 1 for this "
            f"data), but got {n_params}"
        )
    hidden = 1
    while total(hidden + 1) <= n_params:
        hidden += 1
    above = hidden + 1  # the first size past the target may be the closer one
    return above if total(above) - n_params < n_params - total(hidden) else hidden


def _check_data_sizes(n_inputs: int, n_outputs: int, vocab_size: int | None) -> None:
    # These come from the dataset, not the user: a bad one is a wiring bug.
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1 (set by the dataset), but got {vocab_size}")
    if vocab_size is None and n_inputs < 1:
        raise ValueError(f"n_inputs must be >= 1 (set by the dataset), but got {n_inputs}")
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1 (set by the dataset), but got {n_outputs}")
