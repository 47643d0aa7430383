"""How the values of each categorical parameter (above all, each cell) fared across a study.

The one per-choice statistic: `sweep status`, the leaderboard and the HTML report all show
`by_choice`. Pruned trials count, by the best value they reported (`search.ranking.trial_value`).
Leaving them out, as the study's own statistics do, hides exactly the trials that tell the
story: on the adding problem nearly every vanilla RNN is pruned on the 0.167 plateau, and
without them the RNN looks merely unlucky.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeps.keys import BASELINE_ATTR, CONFIG_ATTR
from sweeps.search.ranking import best_of, maximizing, trial_value

# A trial "stayed at the baseline" when it ended no better than the baseline by this share.
BASELINE_MARGIN = 0.10
CELL_PARAM = "model.cell"


def at_baseline(value: float, baseline: float, *, maximize: bool) -> bool:
    """Whether `value` is no better than `baseline` by more than BASELINE_MARGIN of it."""
    if not math.isfinite(value):
        return True  # diverged: it never beat anything
    margin = BASELINE_MARGIN * abs(baseline)
    return value <= baseline + margin if maximize else value >= baseline - margin


@dataclass
class ChoiceStats:
    """Trials of one parameter value: counts, finite values, and how many stayed at baseline."""

    complete: int = 0
    pruned: int = 0
    at_baseline: int | None = None  # None when the study recorded no baseline
    values: list[float] = field(default_factory=list)  # finite values, pruned ones included
    maximize: bool = False

    @property
    def trials(self) -> int:
        return self.complete + self.pruned

    @property
    def best(self) -> float | None:
        return best_of(self.values, maximize=self.maximize) if self.values else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def study_baseline(trials: list[FrozenTrial]) -> float | None:
    """The baseline that trials recorded for the searched metric, if any did."""
    for trial in trials:
        value = trial.user_attrs.get(BASELINE_ATTR)
        if value is not None:
            return float(value)
    return None


def _choices(trial: FrozenTrial) -> dict[str, str]:
    out = {
        name: str(trial.params[name])
        for name, dist in trial.distributions.items()
        if isinstance(dist, CategoricalDistribution)
    }
    config = trial.user_attrs.get(CONFIG_ATTR)
    if CELL_PARAM not in out and isinstance(config, dict):  # a fixed cell is still a cell
        cell = config.get("model", {}).get("cell")
        if cell is not None:
            out[CELL_PARAM] = str(cell)
    return out


def by_choice(study: optuna.Study) -> dict[str, dict[str, ChoiceStats]]:
    """Per categorical parameter (and per cell, searched or fixed), per value, in
    sorted order: trials (complete, pruned), best and median value, and how many stayed at
    the baseline."""
    maximize = maximizing(study)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    baseline = study_baseline(trials)
    table: dict[str, dict[str, ChoiceStats]] = {}
    for trial in trials:
        value = trial_value(trial, maximize=maximize)
        for name, choice in _choices(trial).items():
            stats = table.setdefault(name, {}).setdefault(choice, ChoiceStats(maximize=maximize))
            if trial.state == TrialState.PRUNED:
                stats.pruned += 1
            else:
                stats.complete += 1
            if value is not None and math.isfinite(value):
                stats.values.append(value)
            if baseline is not None:
                stayed = value is None or at_baseline(value, baseline, maximize=maximize)
                stats.at_baseline = (stats.at_baseline or 0) + int(stayed)
    return {name: dict(sorted(choices.items())) for name, choices in sorted(table.items())}


def format_table(table: dict[str, dict[str, ChoiceStats]], baseline: float | None) -> list[str]:
    """`sweep status` lines: one block per parameter, one row per value."""
    lines = []
    shown = "-" if baseline is None else f"{baseline:.4g}"
    for name, choices in table.items():
        lines.append(f"by {name}:")
        lines.append(
            f"  {'value':10s} {'trials':>6s} {'best':>12s} {'median':>12s} "
            f"{'at baseline ' + shown:>20s}  (complete, pruned)"
        )
        for choice, s in choices.items():
            best = "-" if s.best is None else f"{s.best:.6g}"
            median = "-" if s.median is None else f"{s.median:.6g}"
            stayed = "-" if s.at_baseline is None else str(s.at_baseline)
            lines.append(
                f"  {choice:10s} {s.trials:6d} {best:>12s} {median:>12s} {stayed:>20s}"
                f"  ({s.complete}, {s.pruned})"
            )
    return lines
