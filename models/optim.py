"""The optimizers and learning-rate schedulers a config can name, built from its options."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, ReduceLROnPlateau, StepLR

Params = Iterator[nn.Parameter]

# (params, lr, weight_decay, momentum) -> optimizer. Momentum is sgd's alone: rmsprop's
# momentum defaults to 0 in torch and silently changing that would surprise.
OPTIMIZERS: dict[str, Callable[[Params, float, float, float], Optimizer]] = {
    "adam": lambda p, lr, wd, m: torch.optim.Adam(p, lr=lr, weight_decay=wd),
    # AdamW decouples the decay from the gradient; the others add it as an L2 term.
    "adamw": lambda p, lr, wd, m: torch.optim.AdamW(p, lr=lr, weight_decay=wd),
    "sgd": lambda p, lr, wd, m: torch.optim.SGD(p, lr=lr, weight_decay=wd, momentum=m),
    "rmsprop": lambda p, lr, wd, m: torch.optim.RMSprop(p, lr=lr, weight_decay=wd),
}

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
