"""Curves thinned for the report: fewer points, the first, the last and every extreme kept."""

from __future__ import annotations

import math
import random

import optuna
import pytest
from optuna.trial import create_trial

from sweeps.track.curves import MAX_PER_CURVE, MIN_PER_CURVE, TOTAL_POINTS, downsample, per_curve
from sweeps.track.report import report_data


def _noisy(n: int, seed: int = 0) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [
        (i, 0.167 + rng.gauss(0, 0.01) if i < n // 2 else rng.uniform(0.001, 0.01))
        for i in range(n)
    ]


def test_a_short_curve_is_kept_whole() -> None:
    points = _noisy(20)
    assert downsample(points, 20) is points


@pytest.mark.parametrize(("n", "limit"), [(1000, 20), (1001, 21), (500, 4), (37, 16)])
def test_a_long_curve_keeps_first_last_and_every_extreme(n: int, limit: int) -> None:
    points = _noisy(n, seed=n)
    thin = downsample(points, limit)
    assert len(thin) <= limit
    assert thin[0] == points[0] and thin[-1] == points[-1]
    assert [x for x, _ in thin] == sorted({x for x, _ in thin})  # in order, no repeats
    assert set(thin) <= set(points)  # real points, not averages
    lowest = min(points, key=lambda p: p[1])
    highest = max(points, key=lambda p: p[1])
    assert lowest in thin and highest in thin


def test_each_bucket_keeps_its_own_low_and_high() -> None:
    # A spike and a dip inside a flat curve: a thinned curve that missed them would lie.
    points = [(i, 1.0) for i in range(100)]
    points[30] = (30, 9.0)
    points[70] = (70, -9.0)
    thin = downsample(points, 10)
    assert (30, 9.0) in thin and (70, -9.0) in thin


def test_non_finite_values_are_not_picked_as_extremes() -> None:
    points = [(i, float(i)) for i in range(100)]
    points[50] = (50, math.nan)
    points[60] = (60, math.inf)
    thin = downsample(points, 10)
    assert all(math.isfinite(y) for _, y in thin[1:-1])
    assert (99, 99.0) in thin and (0, 0.0) in thin


def test_too_small_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 points"):
        downsample(_noisy(10), 3)


def test_the_budget_is_shared_between_curves() -> None:
    assert per_curve(10) == MAX_PER_CURVE
    assert per_curve(1000) == TOTAL_POINTS // 1000
    assert per_curve(10**6) == MIN_PER_CURVE


def test_the_report_thins_a_big_study_but_keeps_every_trial() -> None:
    study = optuna.create_study(study_name="big")
    curve = dict(_noisy(300))
    study.add_trials(
        [create_trial(value=min(curve.values()), params={}, distributions={},
                      intermediate_values=curve) for _ in range(2000)]
    )  # fmt: skip
    rows = report_data(study, importance=False)["trials"]
    assert len(rows) == 2000
    limit = per_curve(2000)
    best = min(curve.items(), key=lambda p: p[1])
    for row in rows:
        steps = [tuple(s) for s in row["steps"]]
        assert len(steps) <= limit
        assert steps[0] == (0, curve[0]) and steps[-1] == (299, curve[299]) and best in steps
