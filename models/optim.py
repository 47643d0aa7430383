"""The optimizers and learning-rate schedulers a config can name, built from its options."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, ReduceLROnPlateau, StepLR

Params = Iterator[nn.Parameter]

# (params, lr, weight_decay, momentum, fused) -> optimizer, where fused is True or None (torch
# picks). Momentum is sgd's alone: rmsprop's momentum defaults to 0 in torch and silently
# changing that would surprise.
OPTIMIZERS: dict[str, Callable[[Params, float, float, float, bool | None], Optimizer]] = {
    "adam": lambda p, lr, wd, m, fused: torch.optim.Adam(p, lr=lr, weight_decay=wd, fused=fused),
    # AdamW decouples the decay from the gradient; the others add it as an L2 term.
    "adamw": lambda p, lr, wd, m, fused: torch.optim.AdamW(p, lr=lr, weight_decay=wd, fused=fused),
    "sgd": lambda p, lr, wd, m, fused: torch.optim.SGD(
        p, lr=lr, weight_decay=wd, momentum=m, fused=fused
    ),
    # torch has no fused RMSprop
    "rmsprop": lambda p, lr, wd, m, fused: torch.optim.RMSprop(p, lr=lr, weight_decay=wd),
}
# Devices on which torch 2.4+ has fused Adam, AdamW and SGD kernels.
FUSED_DEVICES = ("cpu", "cuda")


def build_optimizer(
    name: str, params: Params, lr: float, weight_decay: float, momentum: float
) -> Optimizer:
    """OPTIMIZERS[name], stepping all parameters in one fused kernel where torch has one.

    By default torch steps a CPU model parameter by parameter, a dozen small ops each (on CUDA
    it groups them, but still launches several kernels); on a small model those ops cost more
    than the arithmetic. The update is the same to float rounding (tests/test_models.py).
    """
    listed = list(params)
    fused = bool(listed) and all(
        p.device.type in FUSED_DEVICES and p.dtype in (torch.float32, torch.float64) for p in listed
    )
    return OPTIMIZERS[name](iter(listed), lr, weight_decay, momentum, True if fused else None)


# (optimizer, step_size, gamma, max_epochs) -> scheduler, stepped once per epoch.
# Plateau's patience is step_size: "epochs to wait before a step"; its default 10 is torch's.
SCHEDULERS: dict[str, Callable[[Optimizer, int, float, int], LRScheduler | None]] = {
    "none": lambda opt, step, gamma, epochs: None,
    "cosine": lambda opt, step, gamma, epochs: CosineAnnealingLR(opt, T_max=epochs),
    "step": lambda opt, step, gamma, epochs: StepLR(opt, step_size=step, gamma=gamma),
    "plateau": lambda opt, step, gamma, epochs: ReduceLROnPlateau(
        opt, mode="min", factor=gamma, patience=step
    ),
}
