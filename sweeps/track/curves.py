"""Curves thinned for the report's charts: fewer points, the same shape.

A 1,000-trial study reports hundreds of thousands of per-epoch values, more than a chart a few
hundred pixels wide can show and more than a page should carry. Each curve keeps its first and
last points and, of each of equal runs of the points between, the lowest and the highest
(min/max per bucket, in their order). Unlike averaging or LTTB, that keeps every extreme: the
best epoch, a spike, the drop off a plateau, exactly where they were. Non-finite values are
not drawn, so they are only kept as a first or last point.
"""

from __future__ import annotations

import math
from typing import TypeVar

Point = TypeVar("Point", bound=tuple[float, float])  # (x, y): (step, value)

TOTAL_POINTS = 20_000  # every trial's curve together, in the intermediate-values chart
MIN_PER_CURVE = 16  # even in a huge study, a curve keeps 7 buckets' lows and highs
MAX_PER_CURVE = 500  # one curve alone: about one point per pixel of a chart's width


def per_curve(curves: int) -> int:
    """How many points each of `curves` curves drawn in one chart may keep."""
    return max(MIN_PER_CURVE, min(MAX_PER_CURVE, TOTAL_POINTS // max(1, curves)))


def downsample(points: list[Point], limit: int) -> list[Point]:
    """At most `limit` (>= 4) points of `points` (sorted by x) that keep the curve's shape."""
    if limit < 4:
        raise ValueError(f"a down-sampled curve keeps at least 4 points, but got {limit=}")
    if len(points) <= limit:
        return points
    inner = points[1:-1]
    buckets = (limit - 2) // 2
    kept = [points[0]]
    for b in range(buckets):
        chunk = inner[b * len(inner) // buckets : (b + 1) * len(inner) // buckets]
        finite = [i for i, (_, y) in enumerate(chunk) if math.isfinite(y)]
        if not finite:
            continue
        low = min(finite, key=lambda i: chunk[i][1])
        high = max(finite, key=lambda i: chunk[i][1])
        kept += [chunk[i] for i in sorted({low, high})]
    kept.append(points[-1])
    return kept
