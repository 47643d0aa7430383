"""How a recurrent layer's weights start (`model.init`), for every impl, layer and direction.

torch keeps two bias vectors per gate, `bias_ih` and `bias_hh`, and adds them: the bias a gate
sees is their sum. Each initialisation here sets that sum, the effective bias, by writing the
value into `bias_ih` and zero into `bias_hh` on the gate's slice; setting both to the value would
double it. The torch modules, models/fused.py, models/padded.py and the reference cells all use
these parameters under torch's names and gate order (LSTM i, f, g, o; GRU r, z, n), so one
function serves every impl.

- `torch`: torch's own draw, every weight and bias uniform in +-1/sqrt(hidden_size); the keep
  gate then starts near sigmoid(0) = 0.5 and the memory halves each step.
- `forget_bias`: the keep gate's effective bias set to `model.forget_bias` (Gers et al. 2000;
  Jozefowicz et al. 2015 found 1 closed most of the LSTM's gap to the GRU): the LSTM's forget
  gate, the GRU's update gate z, which keeps the old state in torch's h' = (1 - z) n + z h.
- `chrono` (Tallec & Ollivier 2018): the keep gate's effective bias log u per unit, u drawn
  uniform in [1, T_max - 1], so the units' memory time scales 1 + u spread over [2, T_max]; the
  LSTM's input gate gets the negative, so a unit that keeps long writes little. The GRU has no
  separate input gate: 1 - z is its write share, so z's bias is the only one set.
- `identity` (Le, Jaitly & Hinton 2015, the IRNN): a ReLU RNN with W_hh the identity and zero
  biases, so the state is carried unchanged until training says otherwise; W_ih stays torch's.
"""

from __future__ import annotations

import torch
from torch import nn

from models.options import NetOptions

# The gate slice (in units of hidden_size) whose value keeps the old state, and the LSTM's
# input gate, which chrono sets to the keep gate's negative.
KEEP_SLICE = {"lstm": 1, "peephole": 1, "gru": 1}  # LSTM (i, f, g, o): f; GRU (r, z, n): z
INPUT_SLICE = {"lstm": 0, "peephole": 0}


def initialise(rnn: nn.Module, options: NetOptions, hidden_size: int, steps: int | None) -> str:
    """Apply `options.init_for(steps)` to `rnn` (torch's layer or the reference) in place.

    `steps`: the data's sequence length, chrono's T_max unless `model.chrono_tmax` is set.
    Returns what was applied, as a run records it: "chrono, T_max 100", "forget_bias 1.0",
    "torch" or "identity".
    """
    init = options.init_for(steps)
    if init == "torch":
        return init
    t_max = chrono_tmax(options, steps) if init == "chrono" else 0
    with torch.no_grad():
        for suffix in _directions(rnn):
            params = {name: getattr(rnn, f"{name}{suffix}") for name in _NAMES}
            if init == "identity":
                nn.init.eye_(params["weight_hh"])
                params["bias_ih"].zero_()
                params["bias_hh"].zero_()
                continue
            keep = _rows(KEEP_SLICE[options.cell], hidden_size)
            if init == "forget_bias":
                _set_bias(params, keep, torch.full((hidden_size,), options.forget_bias))
            else:
                bias = chrono_bias(hidden_size, t_max)
                _set_bias(params, keep, bias)
                if options.cell in INPUT_SLICE:
                    _set_bias(params, _rows(INPUT_SLICE[options.cell], hidden_size), -bias)
    if init == "forget_bias":
        return f"forget_bias {options.forget_bias}"
    return f"chrono, T_max {t_max}" if init == "chrono" else init


def chrono_tmax(options: NetOptions, steps: int | None) -> int:
    """T_max: model.chrono_tmax, else the data's sequence length (at least 2)."""
    if options.chrono_tmax is not None:
        return options.chrono_tmax
    if steps is None:
        raise ValueError(
            "model.init 'chrono' needs T_max: set model.chrono_tmax, or build the net with the "
            "data's sequence length"
        )
    return max(steps, 2)


def chrono_bias(hidden_size: int, t_max: int) -> torch.Tensor:
    """log u per unit, u uniform in [1, T_max - 1], from torch's global random stream."""
    u = torch.empty(hidden_size).uniform_(1.0, max(t_max - 1.0, 1.0))
    return u.log()


def effective_bias(rnn: nn.Module, suffix: str) -> torch.Tensor:
    """bias_ih + bias_hh of one layer-direction (`_l0`, `_l1_reverse`, ...): what gates see."""
    total: torch.Tensor = getattr(rnn, f"bias_ih{suffix}") + getattr(rnn, f"bias_hh{suffix}")
    return total.detach()


_NAMES = ("weight_hh", "bias_ih", "bias_hh")


def _directions(rnn: nn.Module) -> list[str]:
    """The parameter suffixes of every layer and direction: `_l0`, `_l0_reverse`, `_l1`, ..."""
    return [
        name.removeprefix("weight_hh")
        for name, _ in rnn.named_parameters()
        if name.startswith("weight_hh")
    ]


def _rows(block: int, hidden_size: int) -> slice:
    return slice(block * hidden_size, (block + 1) * hidden_size)


def _set_bias(params: dict[str, torch.Tensor], rows: slice, value: torch.Tensor) -> None:
    params["bias_ih"][rows] = value
    params["bias_hh"][rows] = 0.0
