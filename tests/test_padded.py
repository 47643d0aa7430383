"""models/padded.py: a variable-length batch run unpacked must give exactly what packing gives."""

from __future__ import annotations

import itertools

import pytest
import torch
from rnn_layers import LAYERS, assert_same_results
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import models.recurrent
from models import RecurrentNet
from models.options import NetOptions
from models.padded import padded_fits, padded_forward

LENGTHS = torch.tensor([7, 1, 4, 7, 2])  # the longest fills the batch, one has a single step


def packed(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """The reference: pack, run, unpack, as RecurrentNet does with impl torch."""
    seq = pack_padded_sequence(x, lengths, batch_first=rnn.batch_first, enforce_sorted=False)
    out, state = rnn(seq)
    h_n = state[0] if isinstance(state, tuple) else state
    steps = x.shape[1] if rnn.batch_first else x.shape[0]
    padded, _ = pad_packed_sequence(out, batch_first=rnn.batch_first, total_length=steps)
    return padded, h_n


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional", "grad"),
    itertools.product(LAYERS, (1, 2), (False, True), (True, False)),
)
def test_outputs_final_states_and_gradients_match_packing(
    kind: str, layers: int, bidirectional: bool, grad: bool
) -> None:
    torch.manual_seed(0)
    rnn = LAYERS[kind](3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    rnn = rnn.double()
    # Padding filled with noise, not zeros: it must not reach any result.
    x = torch.randn(5, 7, 3, dtype=torch.float64, requires_grad=True)
    with torch.set_grad_enabled(grad):  # without autograd the GRU and RNN take torch's kernels
        want, got = packed(rnn, x, LENGTHS), padded_forward(rnn, x, LENGTHS)
    grads = assert_same_results(got, want, [x, *rnn.parameters()])
    if not grad:
        return
    assert grads[0][1, 1:].abs().max() == 0  # nothing flows into the padding


def test_time_major_input_and_dropout_between_layers() -> None:
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).double().eval()
    x = torch.randn(7, 5, 3, dtype=torch.float64)  # (T, B, in)
    want_out, want_h = packed(lstm, x, LENGTHS)
    got_out, got_h = padded_forward(lstm, x, LENGTHS)
    torch.testing.assert_close(got_out, want_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(got_h, want_h, rtol=0, atol=1e-12)
    lstm.train()
    torch.manual_seed(2)
    first = padded_forward(lstm, x, LENGTHS)[0]
    torch.manual_seed(3)
    assert not torch.equal(first, padded_forward(lstm, x, LENGTHS)[0])  # noise between layers


@pytest.mark.parametrize("bad", [[7, 0, 4, 7, 2], [8, 1, 4, 7, 2], [7, 1, 4]])
def test_lengths_out_of_range_are_refused(bad: list[int]) -> None:
    lstm = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match="lengths must be 5 values in 1..7"):
        padded_forward(lstm, torch.randn(5, 7, 3), torch.tensor(bad))


def test_fits_only_torch_layers_on_the_cpu_in_full_precision() -> None:
    x = torch.randn(5, 7, 3)
    for make in LAYERS.values():
        assert padded_fits(make(3, 4), x)
    assert not padded_fits(nn.LSTM(3, 4, proj_size=2), x)
    assert not padded_fits(nn.GRU(3, 4, bias=False), x)
    assert not padded_fits(nn.LSTM(3, 4), x.to(torch.bfloat16))
    assert not padded_fits(nn.Linear(3, 4), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not padded_fits(nn.LSTM(3, 4), x)


@pytest.mark.parametrize(("cell", "every_step"), itertools.product(("lstm", "gru", "rnn"), (0, 1)))
def test_recurrent_net_gives_the_packed_result_without_packing(
    monkeypatch: pytest.MonkeyPatch, cell: str, every_step: int
) -> None:
    def build(impl: str) -> RecurrentNet:
        torch.manual_seed(4)
        options = NetOptions(cell=cell, hidden_size=6, bidirectional=True, impl=impl)
        return RecurrentNet(3, 2, options, every_step=bool(every_step))

    fused, plain = build("fused"), build("torch")
    x = torch.randn(5, 7, 3)
    want = plain(x, LENGTHS)
    packs: list[int] = []
    real_pack = models.recurrent.pack_padded_sequence

    def counted(*args: object, **kwargs: object) -> object:
        packs.append(1)
        return real_pack(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(models.recurrent, "pack_padded_sequence", counted)
    got = fused(x, LENGTHS)
    assert packs == []  # impl fused: unpacked
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    plain(x, LENGTHS)
    assert packs == [1]  # impl torch: packed, as before
