"""A pruner that knows a loss plateau: it waits for each trial's first drop, and no longer.

On the adding problem every trial starts on the 0.167 plateau (predict the mean) and the good
ones leave it at different epochs. Optuna's median pruner compares values at the same epoch,
so a trial that drops later than the median is pruned while it is still on the plateau; so did
successive halving here, every late bloomer. `PlateauPruner` instead

- finds the plateau as the median of the trials' first values, and a trial's drop as the first
  step at which its best value so far is `min_drop` (relative) below the plateau;
- prunes a trial that has not dropped once it has waited as long as the slowest completed
  trial took to drop (at least `n_warmup_steps`); while no completed trial has dropped, it
  prunes nothing, since nothing yet says when a drop comes;
- never prunes a trial that has dropped: on a plateau problem, leaving the plateau is what
  learning the task looks like, and the first epochs after a drop are too noisy to rank.

On a loss that falls smoothly from the start every trial "drops" at once and nothing is
pruned: there, use the median pruner.
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

Curve = list[float]  # best value so far at steps 0, 1, ..., in "lower is better" form


class PlateauPruner(BasePruner):
    """Prunes the trials that stay on the plateau longer than the completed ones did."""

    def __init__(
        self, n_startup_trials: int = 4, n_warmup_steps: int = 0, min_drop: float = 0.1
    ) -> None:
        if n_startup_trials < 0 or n_warmup_steps < 0:
            raise ValueError(
                f"n_startup_trials and n_warmup_steps must be >= 0, but got "
                f"{n_startup_trials=} and {n_warmup_steps=}"
            )
        if not 0 < min_drop < 1:
            raise ValueError(f"min_drop must be in (0, 1), but got {min_drop}")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.min_drop = min_drop

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether `trial` is still on the plateau after the slowest completed trial's drop."""
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        complete = [t for t in done if t.state == TrialState.COMPLETE]
        if len(complete) < self.n_startup_trials:
            return False
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        mine = _best_so_far(trial, sign)
        firsts = [c[0] for c in (_best_so_far(t, sign) for t in done) if c]
        if not mine or not firsts:
            return False
        plateau = statistics.median([*firsts, mine[0]])
        level = plateau - self.min_drop * abs(plateau)
        if _drop_step(mine, level) is not None:
            return False
        drops = [_drop_step(_best_so_far(t, sign), level) for t in complete]
        seen = [d for d in drops if d is not None]
        if not seen:  # no completed trial has left the plateau: no telling when a drop comes
            return False
        return step >= max([d + 1 for d in seen] + [self.n_warmup_steps])


def _best_so_far(trial: FrozenTrial, sign: float) -> Curve:
    """Best value at each step from 0, lower is better; gaps take the last best, NaN is worst."""
    values = trial.intermediate_values
    if not values:
        return []
    curve: Curve = []
    best = math.inf
    for step in range(max(values) + 1):
        value = values.get(step)
        if value is not None and not math.isnan(value):
            best = min(best, sign * value)
        curve.append(best)
    return curve


def _drop_step(curve: Curve, level: float) -> int | None:
    return next((i for i, v in enumerate(curve) if v < level), None)
