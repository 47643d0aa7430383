"""Metric names and values, defined once: what the module logs is what a config may name."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch stays unimported for `metric_names`, which `sweep validate` uses
    from torch import Tensor

DIAG_PREFIX = "diag."  # per-epoch diagnostics (models/diagnostics.py): diag.l0.f.mean, ...


def eval_metrics(
    task: str, every_step: bool, total: dict[str, Tensor], loss: Tensor
) -> dict[str, Tensor]:
    """Validation/test metrics from an epoch's summed statistics (names without the stage)."""
    count = total["count"]
    if task == "regression":
        metrics = {"mae": total["abs_sum"] / count, "rmse": loss.sqrt()}
        if "abs_orig_sum" in total:
            metrics["mae_orig"] = total["abs_orig_sum"] / count
            metrics["rmse_orig"] = (total["sq_orig_sum"] / count).sqrt()
        return metrics
    metrics = {"acc": total["correct"] / count}
    if every_step:
        metrics["bpc"] = loss / math.log(2)  # nats per token -> bits per token
    return metrics


def metric_names(
    task: str, *, every_step: bool, standardised: bool, stage: str = "val"
) -> list[str]:
    """The names `SequenceModule` logs at `stage`, as `eval_metrics` makes them.

    `standardised`: the targets were scaled, so the original-unit errors are logged too.
    """
    names = ["loss"]
    if task == "regression":
        names += ["mae", "rmse"]
        if standardised:
            names += ["mae_orig", "rmse_orig"]
    else:
        names += ["acc", "bpc"] if every_step else ["acc"]
    return [f"{stage}_{name}" for name in names]
