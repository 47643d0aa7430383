"""models/gru.py: the CPU GRU with its backward written out must be nn.GRU, faster."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch import nn

from models import RecurrentNet
from models.gru import GRUFunction, fits, gru_forward


@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first"),
    itertools.product((1, 2), (False, True), (True, False)),
)
def test_outputs_and_gradients_match_nn_gru(
    layers: int, bidirectional: bool, batch_first: bool
) -> None:
    torch.manual_seed(0)
    gru = nn.GRU(3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    gru = gru.double()
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    want_out, want_h = gru(x)
    got_out, got_h = gru_forward(gru, x)
    torch.testing.assert_close(got_out, want_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(got_h, want_h, rtol=0, atol=1e-12)

    # A loss on both the every-step outputs and the final states, so both paths back carry.
    def loss(out: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return out.sin().sum() + h.cos().sum()

    inputs = [x, *gru.parameters()]
    want = torch.autograd.grad(loss(want_out, want_h), inputs)
    got = torch.autograd.grad(loss(got_out, got_h), inputs)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12)


def test_gradcheck_with_an_initial_state_and_only_the_last_state_used() -> None:
    torch.manual_seed(1)
    gru = nn.GRU(2, 4).double()
    x = torch.randn(6, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    params = tuple(gru.parameters())

    def last_state(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return GRUFunction.apply(x, h0, *weights)[1]  # type: ignore[no-any-return]

    def every_step(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return GRUFunction.apply(x, h0, *weights)[0]  # type: ignore[no-any-return]

    assert torch.autograd.gradcheck(last_state, (x, h0, *params))
    assert torch.autograd.gradcheck(every_step, (x, h0, *params))


def test_a_second_derivative_raises_instead_of_being_wrong() -> None:
    gru = nn.GRU(2, 3).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    _, h = gru_forward(gru, x)
    (grad,) = torch.autograd.grad(h.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad|once_differentiable"):
        grad.sum().backward()


def test_fits_only_where_it_is_the_faster_path() -> None:
    gru, lstm = nn.GRU(2, 3), nn.LSTM(2, 3)
    x = torch.randn(4, 5, 2)
    assert fits(gru, x)
    assert not fits(lstm, x)  # the LSTM has oneDNN's fused kernel on a CPU
    assert not fits(nn.GRU(2, 3, bias=False), x)
    assert not fits(gru, x.to(torch.bfloat16))
    with torch.no_grad():  # validation: nn.GRU's C++ loop without autograd is faster
        assert not fits(gru, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fits(gru, x)


def _net(impl: str) -> RecurrentNet:
    torch.manual_seed(2)
    return RecurrentNet(2, 1, cell="gru", hidden_size=8, num_layers=2, impl=impl)


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


def test_recurrent_net_trains_a_gru_the_same_through_either_implementation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fused, plain = _net("fused"), _net("torch")
    plain.load_state_dict(fused.state_dict())
    calls: list[int] = []
    apply = GRUFunction.apply

    def counted(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        return apply(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(GRUFunction, "apply", counted)
    x = torch.randn(16, 12, 2)
    plain(x)
    assert calls == []  # impl torch: nn.GRU
    fused(x)
    assert len(calls) == 2  # impl fused: GRUFunction, once per layer
    with torch.no_grad():
        fused(x)
    assert len(calls) == 2  # without autograd: nn.GRU
    losses_fused, losses_plain = _train(fused, 20), _train(plain, 20)
    # float32: the two sum in different orders, so the same to rounding, not bit for bit
    assert losses_fused == pytest.approx(losses_plain, rel=1e-4)
    for p, q in zip(fused.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_dropout_between_layers_applies_only_in_training() -> None:
    gru = nn.GRU(2, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 3, 2)
    gru.eval()
    with torch.enable_grad():
        torch.testing.assert_close(gru_forward(gru, x)[0], gru(x)[0], rtol=1e-5, atol=1e-6)
    gru.train()
    torch.manual_seed(0)
    first = gru_forward(gru, x)[0]
    torch.manual_seed(1)
    assert not torch.equal(first, gru_forward(copy.deepcopy(gru), x)[0])  # noise differs
