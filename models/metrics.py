"""Metric names and values, defined once: what the module logs is what a config may name."""

from __future__ import annotations

import math

from torch import Tensor

from datamodules.base import DataSpec


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


def metric_names(spec: DataSpec, stage: str = "val") -> list[str]:
    """The names `SequenceModule` logs for this data at `stage`, as `eval_metrics` makes them."""
    names = ["loss"]
    if spec.task == "regression":
        names += ["mae", "rmse"]
        if spec.target_std is not None:
            names += ["mae_orig", "rmse_orig"]
    else:
        names += ["acc", "bpc"] if spec.every_step else ["acc"]
    return [f"{stage}_{name}" for name in names]
