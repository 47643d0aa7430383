"""Network and optimizer options: each name, default and rule once, importable without torch.

The constructors in `models/` take these as keyword arguments with these defaults and check them
here; the config schema takes its defaults from here and runs the same checks, so a value that
`sweep validate` accepts is one the constructors accept. Errors are `ValueError`s naming the config
field; the sweeps layer turns them into its user-error type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CELL_NAMES = ("gru", "lstm", "peephole", "rnn")  # the keys of models.cells.GATES
IMPLS = ("fused", "torch", "reference")
NONLINEARITIES = ("tanh", "relu")
# model.init: how the recurrent weights start (models/init.py). torch: torch's own uniform
# draw; forget_bias: the keep gate's effective bias (b_ih + b_hh on the LSTM's forget slice, the
# GRU's update slice) set to model.forget_bias; chrono: keep-gate biases log U[1, T_max - 1]
# (Tallec & Ollivier 2018); identity: the IRNN (Le et al. 2015), a ReLU RNN with W_hh = I.
INITS = ("torch", "forget_bias", "chrono", "identity")
GATED = ("lstm", "peephole", "gru")  # the cells with a keep gate, models.cells.MEMORY_GATE
# model.init left out: each cell's default (docs/classic.md gives the evidence). An LSTM starts
# with chrono, T_max the data's sequence length, which every net the platform builds knows; a
# net built in code without it (no `steps`, no model.chrono_tmax) gets NO_LENGTH_INIT instead.
DEFAULT_INIT = {"lstm": "chrono", "peephole": "chrono", "gru": "torch", "rnn": "torch"}
NO_LENGTH_INIT = "forget_bias"  # with model.forget_bias: the keep gate's memory without a T_max
FORGET_BIAS = 1.0
OPTIMIZER_NAMES = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULER_NAMES = ("none", "cosine", "step", "plateau")


def _choice(field: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."
        raise ValueError(f"{field} must be one of {sorted(choices)}, but got {shown}")


def _finite(field: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, but got {value}")


@dataclass(frozen=True, kw_only=True)
class NetOptions:
    """The `model.*` options of `RecurrentNet`, with their defaults; checked on creation."""

    cell: str = "lstm"
    hidden_size: int = 32
    # fused: the fastest kernels (torch's, and models/fused.py for a GRU or RNN training on a CPU);
    # torch: torch's nn.RNN/LSTM/GRU only; reference: models/cells.py, gates as equations.
    impl: str = "fused"
    match_params: int | None = None  # set hidden_size to give about N parameters
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    nonlinearity: str = "tanh"
    embedding_dim: int = 16
    init: str | None = None  # None: the cell's default, DEFAULT_INIT
    forget_bias: float = FORGET_BIAS  # with init forget_bias: the keep gate's effective bias
    chrono_tmax: int | None = None  # with init chrono: T_max; None: the data's sequence length

    @property
    def initialisation(self) -> str:
        """model.init, or the cell's default when it is left out."""
        return self.init if self.init is not None else DEFAULT_INIT[self.cell]

    def init_for(self, steps: int | None) -> str:
        """The init a net reading `steps` per sequence gets (None: a length it was not told).

        model.init as set; left out, the cell's default, unless that is chrono and no T_max is
        known: then NO_LENGTH_INIT. A chrono that was asked for and has no T_max is an error
        (models/init.py).
        """
        init = self.initialisation
        if self.init is None and init == "chrono" and steps is None and self.chrono_tmax is None:
            return NO_LENGTH_INIT
        return init

    def __post_init__(self) -> None:
        _choice("model.cell", self.cell, CELL_NAMES)
        _choice("model.nonlinearity", self.nonlinearity, NONLINEARITIES)
        _choice("model.impl", self.impl, IMPLS)
        if self.match_params is not None and self.match_params < 1:
            raise ValueError(f"model.match_params must be >= 1, but got {self.match_params}")
        if self.nonlinearity != "tanh" and self.cell != "rnn":
            raise ValueError(
                f"model.nonlinearity={self.nonlinearity!r} applies only to cell 'rnn', but cell "
                f"is {self.cell!r}; leave model.nonlinearity out or set it to 'tanh'"
            )
        for name in ("hidden_size", "num_layers", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be >= 1, but got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), but got {self.dropout}")
        self._check_init()

    def _check_init(self) -> None:
        if self.init is not None:
            _choice("model.init", self.init, INITS)
        init = self.initialisation
        if init == "identity" and (self.cell, self.nonlinearity) != ("rnn", "relu"):
            raise ValueError(
                f"model.init 'identity' is the IRNN: it needs cell 'rnn' with nonlinearity "
                f"'relu', but got cell {self.cell!r} with {self.nonlinearity!r}"
            )
        if init in ("forget_bias", "chrono") and self.cell not in GATED:
            raise ValueError(
                f"model.init {init!r} sets a keep gate's bias, which cell {self.cell!r} lacks: "
                f"use it with {list(GATED)}, or set model.init to 'torch' or 'identity'"
            )
        _finite("model.forget_bias", self.forget_bias)
        if self.forget_bias != FORGET_BIAS and init != "forget_bias":
            raise ValueError(
                f"model.forget_bias applies only with model.init 'forget_bias', but model.init "
                f"is {init!r}; leave model.forget_bias out or set model.init: forget_bias"
            )
        if self.chrono_tmax is not None and init != "chrono":
            raise ValueError(
                f"model.chrono_tmax applies only with model.init 'chrono', but model.init is "
                f"{init!r}; leave model.chrono_tmax out or set model.init: chrono"
            )
        if self.chrono_tmax is not None and self.chrono_tmax < 2:
            raise ValueError(f"model.chrono_tmax must be >= 2, but got {self.chrono_tmax}")


@dataclass(frozen=True, kw_only=True)
class OptimizerOptions:
    """The `optimizer.*` options of `SequenceModule` (and the trainer's clip), with defaults."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd's alone: rmsprop's torch default of 0 is kept
    grad_clip: float | None = 1.0  # clip the gradient norm: the exploding-gradient guard
    scheduler: str = "none"
    step_size: int = 10  # step: epochs between decays; plateau: epochs of patience
    gamma: float = 0.5  # the decay factor: < 1, or the "decay" would grow the rate

    def __post_init__(self) -> None:
        _choice("optimizer.name", self.name, OPTIMIZER_NAMES)
        _choice("optimizer.scheduler", self.scheduler, SCHEDULER_NAMES)
        for name in ("lr", "weight_decay", "momentum", "gamma"):
            _finite(f"optimizer.{name}", getattr(self, name))
        if not self.lr > 0:
            raise ValueError(f"optimizer.lr must be > 0, but got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"optimizer.weight_decay must be >= 0, but got {self.weight_decay}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"optimizer.momentum must be in [0, 1), but got {self.momentum}")
        if self.grad_clip is not None and not (
            math.isfinite(self.grad_clip) and self.grad_clip > 0
        ):
            raise ValueError(
                f"optimizer.grad_clip must be > 0 and finite (or null for no clipping), "
                f"but got {self.grad_clip}"
            )
        if self.step_size < 1:
            raise ValueError(f"optimizer.step_size must be >= 1, but got {self.step_size}")
        if not 0 < self.gamma < 1:
            raise ValueError(f"optimizer.gamma must be in (0, 1), but got {self.gamma}")


MAX_EPOCHS = 10


def check_max_epochs(max_epochs: int) -> int:
    """trainer.max_epochs: the scheduler's horizon and the training length."""
    if max_epochs < 1:
        raise ValueError(f"trainer.max_epochs must be >= 1, but got {max_epochs}")
    return max_epochs


# When the diagnostics probe runs: true or "log" at epochs 0, 1, 2, 4, 8, 16, ... (the gradient
# curve changes most early), an integer N every N-th epoch (1: all), false never. The last epoch
# of a trial that ends normally is always probed. Probing every epoch costs a small model a
# noticeable share of its training (`make bench CASES=diagnostics` measures it).
DIAGNOSTICS: bool | int | str = True


def check_diagnostics(value: object) -> bool | int | str:
    """trainer.diagnostics: true, false, "log" or an integer >= 1 (strings like "4" refused)."""
    if isinstance(value, bool) or value == "log" or (type(value) is int and value >= 1):
        return value
    raise ValueError(
        "trainer.diagnostics must be true or 'log' (probe epochs 0, 1, 2, 4, 8, ... and the "
        f"last), an integer N >= 1 (every N-th epoch and the last) or false, but got {value!r}"
    )


def probe_due(epoch: int, diagnostics: bool | int | str) -> bool:
    """Whether a checked trainer.diagnostics probes after 0-based `epoch` (the last apart)."""
    if diagnostics is True or diagnostics == "log":
        return epoch & (epoch - 1) == 0  # 0 and the powers of two
    return type(diagnostics) is int and epoch % diagnostics == 0


NET = NetOptions()
OPTIMIZER = OptimizerOptions()
