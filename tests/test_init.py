"""model.init: the effective biases (b_ih + b_hh) and weights each initialisation gives, for every
cell, impl, layer count and direction, and the rules that refuse a cell an init it cannot take."""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import pytest
import torch
from conftest import tiny_raw

from models.cells import Trace
from models.diagnostics import ProbeTwin
from models.init import effective_bias
from models.options import NetOptions
from models.recurrent import RecurrentNet
from sweeps.config.loader import with_values
from sweeps.config.schema import validate
from sweeps.errors import ConfigError
from sweeps.search.space import check_space

HIDDEN, STEPS = 6, 40
IMPLS = ("fused", "torch", "reference")
SHAPES = list(product((1, 2), (False, True)))  # (num_layers, bidirectional)
KEEP = {"lstm": 1, "peephole": 1, "gru": 1}  # LSTM (i, f, g, o), GRU (r, z, n)
BLOCKS = {"lstm": 4, "peephole": 4, "gru": 3, "rnn": 1}


def _net(cell: str, impl: str, layers: int, bidir: bool, **options: Any) -> RecurrentNet:
    opts = NetOptions(
        cell=cell, hidden_size=HIDDEN, impl=impl, num_layers=layers, bidirectional=bidir, **options
    )
    return RecurrentNet(2, 1, opts, steps=STEPS)


def _suffixes(layers: int, bidir: bool) -> list[str]:
    return [f"_l{k}{d}" for k in range(layers) for d in (("", "_reverse") if bidir else ("",))]


def _block(bias: torch.Tensor, index: int) -> torch.Tensor:
    return bias[index * HIDDEN : (index + 1) * HIDDEN]


@pytest.mark.parametrize(("layers", "bidir"), SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", ["lstm", "peephole", "gru"])
@pytest.mark.parametrize("value", [1.0, -0.5, 2.5])
def test_forget_bias_is_the_effective_keep_bias(
    cell: str, impl: str, layers: int, bidir: bool, value: float
) -> None:
    net = _net(cell, impl, layers, bidir, init="forget_bias", forget_bias=value)
    for suffix in _suffixes(layers, bidir):
        bias = effective_bias(net.rnn, suffix)
        torch.testing.assert_close(_block(bias, KEEP[cell]), torch.full((HIDDEN,), value))
        others = [_block(bias, i) for i in range(BLOCKS[cell]) if i != KEEP[cell]]
        bound = 2 / math.sqrt(HIDDEN)  # torch's draw, two uniforms in +-1/sqrt(H) added
        assert all(float(b.abs().max()) <= bound for b in others)
        assert all(float(b.std()) > 0 for b in others)  # still drawn, not overwritten


@pytest.mark.parametrize(("layers", "bidir"), SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", ["lstm", "peephole", "gru"])
def test_chrono_biases_follow_the_formula(cell: str, impl: str, layers: int, bidir: bool) -> None:
    torch.manual_seed(0)
    net = _net(cell, impl, layers, bidir, init="chrono")
    seen = []
    for suffix in _suffixes(layers, bidir):
        bias = effective_bias(net.rnn, suffix)
        keep = _block(bias, KEEP[cell])
        # log u with u uniform in [1, T_max - 1], T_max the data's length
        assert float(keep.min()) >= 0.0 and float(keep.max()) <= math.log(STEPS - 1) + 1e-6
        assert float(keep.std()) > 0.1  # spread over time scales, not one value
        if cell == "gru":  # no separate input gate: r and n keep torch's draw
            assert float(_block(bias, 0).abs().max()) <= 2 / math.sqrt(HIDDEN)
        else:  # the input gate gets the keep gate's negative
            torch.testing.assert_close(_block(bias, 0), -keep)
        seen.append(keep)
    if len(seen) > 1:  # every layer and direction draws its own
        assert not torch.allclose(seen[0], seen[1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_tmax_overrides_the_data_length(cell: str) -> None:
    torch.manual_seed(1)
    net = RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=200, init="chrono", chrono_tmax=5))
    keep = _block_sized(effective_bias(net.rnn, "_l0"), 1, 200)
    assert float(keep.max()) <= math.log(4) + 1e-6
    assert float(keep.max()) > math.log(3.5)  # 200 draws reach near the top of [1, 4]


def _block_sized(bias: torch.Tensor, index: int, hidden: int) -> torch.Tensor:
    return bias[index * hidden : (index + 1) * hidden]


def test_chrono_without_a_length_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="model.chrono_tmax"):
        RecurrentNet(2, 1, NetOptions(cell="lstm", init="chrono"))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", ["lstm", "peephole"])
def test_an_lstm_left_to_its_default_starts_chrono_over_the_data(cell: str, impl: str) -> None:
    torch.manual_seed(2)
    net = RecurrentNet(2, 1, NetOptions(cell=cell, hidden_size=200, impl=impl), steps=STEPS)
    assert net.initialised == f"chrono, T_max {STEPS}"
    bias = effective_bias(net.rnn, "_l0")
    keep = _block_sized(bias, 1, 200)
    assert math.log(STEPS - 2) < float(keep.max()) <= math.log(STEPS - 1) + 1e-6
    assert float(keep.min()) < math.log(2)  # 200 draws reach near the bottom of [1, T - 1]
    torch.testing.assert_close(_block_sized(bias, 0, 200), -keep)


def test_an_lstm_built_without_its_length_starts_with_a_forget_bias() -> None:
    net = RecurrentNet(2, 1, NetOptions(cell="lstm", hidden_size=HIDDEN))
    assert net.initialised == "forget_bias 1.0"
    keep = _block(effective_bias(net.rnn, "_l0"), KEEP["lstm"])
    torch.testing.assert_close(keep, torch.ones(HIDDEN))
    # told T_max by model.chrono_tmax instead, it gets its default again
    told = RecurrentNet(2, 1, NetOptions(cell="lstm", hidden_size=HIDDEN, chrono_tmax=9))
    assert told.initialised == "chrono, T_max 9"


@pytest.mark.parametrize(
    ("options", "initialised"),
    [
        ({"cell": "gru"}, "torch"),
        ({"cell": "rnn"}, "torch"),
        ({"cell": "rnn", "nonlinearity": "relu", "init": "identity"}, "identity"),
        ({"cell": "lstm", "init": "torch"}, "torch"),
        ({"cell": "gru", "init": "forget_bias", "forget_bias": 2.0}, "forget_bias 2.0"),
        ({"cell": "gru", "init": "chrono"}, f"chrono, T_max {STEPS}"),
    ],
)
def test_a_net_says_which_init_it_got(options: dict[str, Any], initialised: str) -> None:
    net = RecurrentNet(2, 1, NetOptions(hidden_size=HIDDEN, **options), steps=STEPS)
    assert net.initialised == initialised


@pytest.mark.parametrize(("layers", "bidir"), SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
def test_identity_is_the_irnn(impl: str, layers: int, bidir: bool) -> None:
    net = _net("rnn", impl, layers, bidir, init="identity", nonlinearity="relu")
    for suffix in _suffixes(layers, bidir):
        torch.testing.assert_close(getattr(net.rnn, f"weight_hh{suffix}"), torch.eye(HIDDEN))
        assert not getattr(net.rnn, f"bias_ih{suffix}").any()
        assert not getattr(net.rnn, f"bias_hh{suffix}").any()
        assert getattr(net.rnn, f"weight_ih{suffix}").abs().sum() > 0  # input weights drawn


@pytest.mark.parametrize(("layers", "bidir"), SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_torch_init_leaves_torch_draw(cell: str, impl: str, layers: int, bidir: bool) -> None:
    net = _net(cell, impl, layers, bidir, init="torch")
    for suffix in _suffixes(layers, bidir):
        bias = effective_bias(net.rnn, suffix)
        assert float(bias.abs().max()) <= 2 / math.sqrt(HIDDEN)
        keep = _block(bias, 1 if cell != "rnn" else 0)
        assert float(keep.std()) > 0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("cell", "gate"), [("lstm", "f"), ("gru", "z")])
def test_the_gates_see_the_effective_bias(impl: str, cell: str, gate: str) -> None:
    """At the first step, from a zero state and zero input, the keep gate is sigmoid(bias)."""
    net = _net(cell, impl, 1, False, init="forget_bias", forget_bias=2.0)
    twin = ProbeTwin(net).twin
    twin.load_state_dict(net.state_dict())
    trace = Trace()
    twin(torch.zeros(3, 4, 2), trace=trace)
    first = trace.gates["l0"][gate][0]
    torch.testing.assert_close(first, torch.full_like(first, torch.sigmoid(torch.tensor(2.0))))


@pytest.mark.parametrize("init", ["torch", "forget_bias", "chrono"])
def test_match_params_sizes_are_unchanged_by_init(init: str) -> None:
    sizes = {
        RecurrentNet(
            2, 1, NetOptions(cell="lstm", match_params=3000, init=init), steps=50
        ).hidden_size
        for _ in range(2)
    }
    plain = RecurrentNet(2, 1, NetOptions(cell="lstm", match_params=3000)).hidden_size
    assert sizes == {plain}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cell": "lstm", "init": "identity"}, "model.init 'identity' is the IRNN"),
        ({"cell": "rnn", "init": "identity"}, "nonlinearity 'relu'"),
        ({"cell": "rnn", "init": "chrono"}, "model.init 'chrono' sets a keep gate's bias"),
        ({"cell": "rnn", "init": "forget_bias"}, "which cell 'rnn' lacks"),
        ({"cell": "lstm", "init": "xavier"}, "model.init must be one of"),
        ({"cell": "lstm", "init": "torch", "forget_bias": 2.0}, "model.forget_bias applies"),
        ({"cell": "gru", "forget_bias": 2.0}, "model.forget_bias applies only"),
        ({"cell": "lstm", "forget_bias": 2.0}, "but model.init is 'chrono'"),
        ({"cell": "lstm", "init": "forget_bias", "chrono_tmax": 9}, "model.chrono_tmax applies"),
        ({"cell": "lstm", "init": "chrono", "chrono_tmax": 1}, "model.chrono_tmax must be"),
        ({"cell": "lstm", "init": "forget_bias", "forget_bias": math.inf}, "finite"),
    ],
)
def test_bad_init_names_the_field(options: dict[str, Any], message: str) -> None:
    raw = tiny_raw()
    raw["model"] = options
    with pytest.raises(ConfigError, match=message) as info:
        validate(raw)
    assert "\n" not in str(info.value)


def test_init_is_searchable() -> None:
    raw = tiny_raw()
    raw["model"] = {"cell": "lstm"}
    raw["search"]["space"] = {
        "model.init": {"type": "categorical", "choices": ["torch", "forget_bias", "chrono"]},
        "model.forget_bias": {
            "type": "float",
            "low": 0.5,
            "high": 3.0,
            "when": {"model.init": ["forget_bias"]},
        },
    }
    config = validate(raw)
    check_space(config)
    trial = with_values(config, {"model.init": "forget_bias", "model.forget_bias": 2.0})
    assert (trial.model.initialisation, trial.model.forget_bias) == ("forget_bias", 2.0)
    assert validate(raw).model.initialisation == "chrono"  # the LSTM's default
