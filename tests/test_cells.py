"""The reference cells compute exactly what torch's fused kernels compute, forward and backward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_raw
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.cells import ReferenceRecurrent, parameter_count
from models.options import NetOptions
from models.recurrent import CELLS, RecurrentNet, count_parameters, matched_hidden_size
from sweeps.config.schema import validate
from sweeps.train.trial import train

BATCH, SEQ, FEATURES, HIDDEN = 3, 7, 4, 5
LENGTHS = torch.tensor([7, 3, 5])
TOL = {"atol": 1e-5, "rtol": 1e-4}


def _pair(cell: str, **kwargs: Any) -> tuple[nn.RNNBase, ReferenceRecurrent]:
    torch.manual_seed(0)
    fused = CELLS[cell](FEATURES, HIDDEN, batch_first=True, **kwargs)
    ref = ReferenceRecurrent(cell, FEATURES, HIDDEN, **kwargs)
    ref.load_state_dict(fused.state_dict())  # strict: same names, same shapes
    return fused, ref


def _run_fused(fused: nn.RNNBase, x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Any]:
    if lengths is None:
        return fused(x)  # type: ignore[no-any-return]
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = fused(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0], state


def _flat(state: Tensor | tuple[Tensor, Tensor]) -> list[Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_reference_equals_fused_forward_and_backward(
    cell: str, num_layers: int, bidirectional: bool, lengths: Tensor | None
) -> None:
    fused, ref = _pair(cell, num_layers=num_layers, bidirectional=bidirectional)
    x = torch.randn(BATCH, SEQ, FEATURES)
    x_f, x_r = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_f, state_f = _run_fused(fused, x_f, lengths)
    out_r, state_r = ref(x_r, lengths)
    torch.testing.assert_close(out_r, out_f, **TOL)
    for s_r, s_f in zip(_flat(state_r), _flat(state_f), strict=True):
        torch.testing.assert_close(s_r, s_f, **TOL)
    # A loss that touches every output and every final state, so every path is differentiated.
    weights = torch.randn_like(out_f)
    loss_f = (out_f * weights).sum() + sum(s.pow(2).sum() for s in _flat(state_f))
    loss_r = (out_r * weights).sum() + sum(s.pow(2).sum() for s in _flat(state_r))
    loss_f.backward()
    loss_r.backward()
    torch.testing.assert_close(x_r.grad, x_f.grad, **TOL)
    grads_f = {n: p.grad for n, p in fused.named_parameters()}
    for name, param in ref.named_parameters():
        torch.testing.assert_close(param.grad, grads_f[name], **TOL, msg=name)


def test_relu_rnn_matches_too() -> None:
    fused, ref = _pair("rnn", nonlinearity="relu")
    x = torch.randn(BATCH, SEQ, FEATURES)
    torch.testing.assert_close(ref(x)[0], fused(x)[0], **TOL)


def test_peephole_with_zero_peepholes_is_the_lstm() -> None:
    fused, _ = _pair("lstm")
    peep = ReferenceRecurrent("peephole", FEATURES, HIDDEN)
    missing = peep.load_state_dict(fused.state_dict(), strict=False).missing_keys
    assert missing == ["weight_ch_l0"]
    x = torch.randn(BATCH, SEQ, FEATURES)
    with torch.no_grad():
        peep.weight_ch_l0.zero_()
        torch.testing.assert_close(peep(x)[0], fused(x)[0], **TOL)
        peep.weight_ch_l0.fill_(0.5)
        assert not torch.allclose(peep(x)[0], fused(x)[0], atol=1e-3)  # the peepholes are used


def test_peephole_weights_get_gradients_and_the_cell_state_flows() -> None:
    peep = ReferenceRecurrent("peephole", FEATURES, HIDDEN)
    out, (h_n, c_n) = peep(torch.randn(BATCH, SEQ, FEATURES))
    assert out.shape == (BATCH, SEQ, HIDDEN) and c_n.shape == (1, BATCH, HIDDEN)
    out.sum().backward()
    assert peep.weight_ch_l0.grad is not None and peep.weight_ch_l0.grad.abs().sum() > 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_impl_switch_builds_the_reference_with_the_same_function(cell: str) -> None:
    torch.manual_seed(0)
    ref = RecurrentNet(FEATURES, 2, NetOptions(cell=cell, hidden_size=HIDDEN, impl="reference"))
    assert isinstance(ref.rnn, ReferenceRecurrent)
    if cell == "peephole":
        assert RecurrentNet(FEATURES, 2, NetOptions(cell=cell, impl="fused")).impl == "reference"
        return
    fused = RecurrentNet(FEATURES, 2, NetOptions(cell=cell, hidden_size=HIDDEN, impl="fused"))
    assert isinstance(fused.rnn, nn.RNNBase)
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(BATCH, SEQ, FEATURES)
    torch.testing.assert_close(ref(x, LENGTHS), fused(x, LENGTHS), **TOL)


def test_unknown_impl_names_the_field() -> None:
    with pytest.raises(ValueError, match="model.impl"):
        RecurrentNet(FEATURES, 1, NetOptions(impl="cuda"))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_parameter_count_is_the_modules_count(
    cell: str, num_layers: int, bidirectional: bool
) -> None:
    module = ReferenceRecurrent(
        cell, FEATURES, HIDDEN, num_layers=num_layers, bidirectional=bidirectional
    )
    dirs = 2 if bidirectional else 1
    expected = parameter_count(cell, FEATURES, HIDDEN, num_layers=num_layers, directions=dirs)
    assert count_parameters(module) == expected


@pytest.mark.parametrize("target", [500, 3000, 20000])
def test_match_params_sizes_every_cell_to_about_n(target: int) -> None:
    sizes = {}
    for cell in ("rnn", "lstm", "gru", "peephole"):
        net = RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=999, match_params=target))
        n = count_parameters(net)
        sizes[cell] = net.hidden_size
        # The closest size: one unit more or less would be further from the target.
        for other in (net.hidden_size - 1, net.hidden_size + 1):
            alt = count_parameters(
                RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=max(other, 1)))
            )
            assert abs(n - target) <= abs(alt - target), (cell, n, alt)
        assert abs(n - target) / target < 0.15, (cell, n)
    assert sizes["rnn"] > sizes["gru"] > sizes["lstm"]  # fewer blocks per unit, more units


def test_match_params_below_the_smallest_network_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"model.match_params must be >= \d+"):
        matched_hidden_size(5, "lstm", 2, 1)


@pytest.mark.parametrize("model", [{"cell": "peephole"}, {"cell": "gru", "impl": "reference"}])
def test_config_trains_reference_and_variant(tmp_path: Path, model: dict[str, Any]) -> None:

    raw = tiny_raw(model={"hidden_size": 8, "match_params": 300, **model})
    raw["trainer"] = {"max_epochs": 1}
    result = train(validate(raw), tmp_path)
    assert result.best_value < 1.0 and abs(result.n_parameters - 300) < 60
