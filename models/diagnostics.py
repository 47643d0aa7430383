"""Why a recurrent network learns or not, measured on a fixed probe batch.

- gates: each sigmoid gate's mean and saturated share (within SATURATION of 0 or 1), per layer;
- memory: the time scale tau = -1 / ln(k) implied by the mean keep gate k of each unit (the
  LSTM's forget gate, the GRU's update gate), as the median over units, in steps;
- spectral radius of each recurrent weight block (W_hi, W_hf, ... or the RNN's W_hh): above 1
  the linearised recurrence can explode, well below 1 it forgets;
- the norm of dLoss/dh_t at every step t: the vanishing (or exploding) gradient as a curve, and
  the ratio of its first step to its last.
The fused kernels hide all of this, so the reference cells run the same weights (`ProbeTwin`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from models.cells import GATE_NAMES, GATES, MEMORY_GATE, ReferenceRecurrent, Trace
from models.lit_module import IGNORE_INDEX
from models.metrics import DIAG_PREFIX
from models.recurrent import RecurrentNet

SATURATION = 0.05  # a gate value below this, or above 1 minus this, counts as saturated
BLOCKS = {"rnn": ("",), "lstm": "ifgo", "peephole": "ifgo", "gru": "rzn"}


@dataclass
class Diagnosis:
    """One probe's numbers: flat `diag.*` metrics and, per layer, the gradient norm per step."""

    metrics: dict[str, float]
    grad_over_time: dict[str, list[float]]  # layer key (l0, l0r, l1, ...) -> one norm per step


class ProbeTwin:
    """A reference-cell copy of a net; `diagnose` copies the net's current weights in first.

    Built once per training run: copying weights at each probe is cheap, and building no new
    module keeps the global random stream, hence training itself, exactly as without probes.
    """

    def __init__(self, net: RecurrentNet) -> None:
        self.twin = copy.deepcopy(net)
        if not isinstance(net.rnn, ReferenceRecurrent):
            rnn = net.rnn
            with torch.random.fork_rng(devices=[]):  # constructing draws initial weights
                self.twin.rnn = ReferenceRecurrent(
                    net.cell,
                    rnn.input_size,  # type: ignore[arg-type]
                    net.hidden_size,
                    num_layers=net.num_layers,
                    bidirectional=net.bidirectional,
                    nonlinearity=getattr(rnn, "nonlinearity", "tanh"),
                ).to(next(net.parameters()).device)
            self.twin.impl = "reference"
        # Training mode would add dropout noise to the probe; autograd.grad below asks for
        # dLoss/dh_t only, so no weight gradient is computed or stored.
        self.twin.eval()

    def diagnose(self, net: RecurrentNet, batch: tuple[Tensor, ...], task: str) -> Diagnosis:
        """Gate, memory, spectral and gradient-over-time numbers for `net` on `batch`."""
        self.twin.load_state_dict(net.state_dict())
        x, y, *rest = batch
        lengths = rest[0] if rest else None
        trace = Trace()
        with torch.enable_grad():  # Lightning validates under no_grad
            out = self.twin(x, lengths, trace=trace)
            loss = probe_loss(task, out, y, lengths)
            keys = list(trace.hidden)
            steps = [h for key in keys for h in trace.hidden[key]]
            grads = torch.autograd.grad(loss, steps, allow_unused=True, materialize_grads=True)
        # One device-to-host copy for all steps: a float() per step synced a GPU T times.
        norms = torch.stack(grads).flatten(1).norm(dim=1).tolist()  # (layers * dirs * seq_len,)
        curves, start = {}, 0
        for key in keys:
            n = len(trace.hidden[key])
            curves[key] = norms[start : start + n]
            start += n
        metrics = gate_metrics(self.twin.cell, trace, _step_mask(x, lengths))
        metrics |= spectral_radii(self.twin)
        for key, curve in curves.items():
            metrics[f"{DIAG_PREFIX}{key}.grad_first_last"] = curve[0] / max(curve[-1], 1e-30)
        if "l0" in curves:
            metrics[f"{DIAG_PREFIX}grad_first_last"] = metrics[f"{DIAG_PREFIX}l0.grad_first_last"]
        return Diagnosis(metrics, curves)


def probe_loss(task: str, out: Tensor, y: Tensor, lengths: Tensor | None) -> Tensor:
    """The mean loss the module trains on: MSE, or cross-entropy over scored positions."""
    every_step = out.dim() == 3
    mask = _step_mask(out, lengths) if every_step else None
    if task == "regression":
        err = out - y
        if mask is None:
            return err.pow(2).mean()
        err = err * mask.unsqueeze(-1)
        return err.pow(2).sum() / (mask.sum() * err.shape[-1]).clamp(min=1)
    if mask is not None:
        y = y.masked_fill(~mask.bool(), IGNORE_INDEX)
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX)


def gate_metrics(cell: str, trace: Trace, mask: Tensor | None) -> dict[str, float]:
    """Per layer and gate: mean and saturated share; per layer: the memory time scale."""
    found: dict[str, Tensor] = {}  # read back in one copy: a float() each synced a GPU
    for key, gates in trace.gates.items():
        for name in GATE_NAMES[cell]:
            values = torch.stack(gates[name], dim=1).detach()  # (batch, seq_len, hidden)
            if mask is not None:
                values = values[mask]  # (real steps, hidden): padding is not behaviour
            values = values.reshape(-1, values.shape[-1])
            saturated = (values < SATURATION) | (values > 1 - SATURATION)
            found[f"{DIAG_PREFIX}{key}.{name}.mean"] = values.mean()
            found[f"{DIAG_PREFIX}{key}.{name}.sat"] = saturated.float().mean()
            if name == MEMORY_GATE.get(cell):
                found[f"{DIAG_PREFIX}{key}.timescale"] = _timescale(values.mean(0))
    if not found:
        return {}
    return dict(zip(found, torch.stack(list(found.values())).tolist(), strict=True))


def memory_timescale(keep: Tensor) -> float:
    """Median over units of -1/ln(k): the steps over which a unit keeps e^-1 of its state."""
    return float(_timescale(keep))


def _timescale(keep: Tensor) -> Tensor:
    keep = keep.clamp(1e-6, 1 - 1e-6)
    return (-1.0 / keep.log()).median()


def spectral_radii(net: RecurrentNet) -> dict[str, float]:
    """Largest |eigenvalue| of each recurrent block W_h* of every layer and direction."""
    assert isinstance(net.rnn, ReferenceRecurrent)
    names, squares = [], []
    hidden, blocks = net.hidden_size, BLOCKS[net.cell]
    for name, weight in net.rnn.named_parameters():
        if not name.startswith("weight_hh_"):
            continue
        layer = name.removeprefix("weight_hh_").replace("_reverse", "r")  # l0, l0r, l1, ...
        assert weight.shape[0] == GATES[net.cell] * hidden
        for i, block in enumerate(blocks):
            names.append(f"{DIAG_PREFIX}{layer}.rho{'.' + block if block else ''}")
            squares.append(weight[i * hidden : (i + 1) * hidden].detach())
    # All blocks in one copy to the host and one batched call: (blocks, hidden, hidden).
    stacked = torch.stack(squares).double().cpu()
    radii = torch.linalg.eigvals(stacked).abs().amax(dim=-1).tolist()
    return dict(zip(names, radii, strict=True))


def _step_mask(x: Tensor, lengths: Tensor | None) -> Tensor | None:
    if lengths is None:
        return None
    steps = torch.arange(x.shape[1], device=x.device)
    return steps < lengths.to(x.device)[:, None]  # (batch, seq_len)


def finite(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics MLflow can store: NaN and inf are dropped rather than failing the batch."""
    return {k: v for k, v in metrics.items() if math.isfinite(v)}
