"""models/fused.py: the CPU GRU and RNN with their backward written out must be torch's, faster."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from rnn_layers import LAYERS as RNN_LAYERS
from rnn_layers import assert_same_results
from torch import nn

from models import RecurrentNet
from models.fused import GRUFunction, RNNFunction, fits, fused_forward
from models.options import NetOptions

LAYERS = {k: v for k, v in RNN_LAYERS.items() if k != "lstm"}  # oneDNN runs the LSTM


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional", "batch_first"),
    itertools.product(LAYERS, (1, 2), (False, True), (True, False)),
)
def test_outputs_and_gradients_match_torch(
    kind: str, layers: int, bidirectional: bool, batch_first: bool
) -> None:
    torch.manual_seed(0)
    make = LAYERS[kind]
    rnn = make(3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    rnn = rnn.double()
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    assert_same_results(fused_forward(rnn, x), rnn(x), [x, *rnn.parameters()])


@pytest.mark.parametrize("kind", LAYERS)
def test_gradcheck_with_an_initial_state_and_only_the_last_state_used(kind: str) -> None:
    torch.manual_seed(1)
    rnn = LAYERS[kind](2, 4).double()
    x = torch.randn(6, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    params = tuple(rnn.parameters())
    extra = () if kind == "gru" else (kind == "rnn_relu",)
    function = GRUFunction if kind == "gru" else RNNFunction

    def last_state(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return function.apply(x, h0, *weights, *extra)[1]  # type: ignore[no-any-return]

    def every_step(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return function.apply(x, h0, *weights, *extra)[0]  # type: ignore[no-any-return]

    assert torch.autograd.gradcheck(last_state, (x, h0, *params))
    assert torch.autograd.gradcheck(every_step, (x, h0, *params))


@pytest.mark.parametrize("kind", LAYERS)
def test_a_second_derivative_raises_instead_of_being_wrong(kind: str) -> None:
    rnn = LAYERS[kind](2, 3).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    _, h = fused_forward(rnn, x)
    (grad,) = torch.autograd.grad(h.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad|once_differentiable"):
        grad.sum().backward()


def test_fits_only_where_it_is_the_faster_path() -> None:
    gru, lstm = nn.GRU(2, 3), nn.LSTM(2, 3)
    x = torch.randn(4, 5, 2)
    assert fits(gru, x)
    assert fits(nn.RNN(2, 3), x) and fits(nn.RNN(2, 3, nonlinearity="relu"), x)
    assert not fits(lstm, x)  # the LSTM has oneDNN's fused kernel on a CPU
    assert not fits(nn.GRU(2, 3, bias=False), x)
    assert not fits(nn.RNN(2, 3, bias=False), x)
    assert not fits(gru, x.to(torch.bfloat16))
    with torch.no_grad():  # validation: nn.GRU's C++ loop without autograd is faster
        assert not fits(gru, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fits(gru, x)


def _net(cell: str, impl: str) -> RecurrentNet:
    torch.manual_seed(2)
    return RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=8, num_layers=2, impl=impl))


def _train(net: RecurrentNet, steps: int) -> list[float]:
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(3)
    losses = []
    for _ in range(steps):
        x, y = torch.randn(16, 12, 2, generator=gen), torch.randn(16, 1, generator=gen)
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize(("cell", "function"), [("gru", GRUFunction), ("rnn", RNNFunction)])
def test_recurrent_net_trains_the_same_through_either_implementation(
    monkeypatch: pytest.MonkeyPatch, cell: str, function: type[torch.autograd.Function]
) -> None:
    fused, plain = _net(cell, "fused"), _net(cell, "torch")
    plain.load_state_dict(fused.state_dict())
    calls: list[int] = []
    apply = function.apply

    def counted(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        return apply(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(function, "apply", counted)
    x = torch.randn(16, 12, 2)
    plain(x)
    assert calls == []  # impl torch: nn.GRU / nn.RNN
    fused(x)
    assert len(calls) == 2  # impl fused: once per layer
    with torch.no_grad():
        fused(x)
    assert len(calls) == 2  # without autograd: torch's layer
    losses_fused, losses_plain = _train(fused, 20), _train(plain, 20)
    # float32: the two sum in different orders, so the same to rounding, not bit for bit
    assert losses_fused == pytest.approx(losses_plain, rel=1e-4)
    for p, q in zip(fused.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", LAYERS)
def test_dropout_between_layers_applies_only_in_training(kind: str) -> None:
    rnn = LAYERS[kind](2, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 3, 2)
    rnn.eval()
    with torch.enable_grad():
        torch.testing.assert_close(fused_forward(rnn, x)[0], rnn(x)[0], rtol=1e-5, atol=1e-6)
    rnn.train()
    torch.manual_seed(0)
    first = fused_forward(rnn, x)[0]
    torch.manual_seed(1)
    assert not torch.equal(first, fused_forward(copy.deepcopy(rnn), x)[0])  # noise differs
