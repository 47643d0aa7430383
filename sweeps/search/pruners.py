"""A pruner that knows a loss plateau: it learns from the trials when a drop comes.

On the adding problem every trial starts on the 0.167 plateau (predict the mean) and the good
ones leave it at different epochs. Optuna's median pruner compares values at the same epoch, so
on the plateau it ranks noise: a trial that will drop later than the median is pruned while it
is still flat, and so did successive halving here, every late bloomer. With a warm-up long enough
to avoid that, each pruned trial costs half its epochs or more. `PlateauPruner` instead

- finds the plateau as the median of the trials' first values, and a trial's drop as the first
  step at which its best value so far is `min_drop` (relative) below it;
- prunes a trial still on the plateau once it has stayed there longer than every finished
  trial (complete or pruned) that left it: at the slowest such trial's drop step. While no
  trial has left it, every trial, the first included, may wait `n_warmup_steps` steps (by
  default half the epochs): a first trial that runs to the end on the plateau tells nothing
  about when drops come, and costs all its epochs (docs/pruning.md);
- judges a trial that has dropped as the median pruner would, on its best value so far against
  the median of the completed trials' best values at the same step, once `n_startup_trials`
  (two) trials have completed and two steps have passed since its drop (the first ones are
  noisy). Against a single completed trial the "median" is one rival: in the benchmark's
  replays that pruned the eventual best, a step or two behind the first good trial;
- never prunes at the last of `max_steps` steps, where pruning saves nothing and would only
  take the trial's result (a one-epoch sweep completes its trials).

On a loss that falls smoothly from the start every trial drops at once, and it is the median
pruner with a two-step warm-up. The risks it takes: in a study where no trial leaves the plateau
within `n_warmup_steps`, it prunes every late bloomer, and every trial ends pruned (the study
has no best trial; the leaderboard still lists each trial's best report); raise the warm-up
(or max_epochs) there.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from sweeps.config.search import PrunerConfig
from sweeps.errors import ConfigError
from sweeps.search.ranking import maximizing

# Completed trials a pruner waits for before it judges, when search.pruner.n_startup_trials is
# null. The median and percentile pruners compare a trial with the completed ones at the same
# epoch, which is noise against fewer than four; plateau compares only trials that left the
# plateau, and two keep it from pruning the eventual best a step behind the first good trial.
STARTUP_TRIALS = {"median": 4, "percentile": 4, "plateau": 2}


def warmup_steps(configured: int | None, max_epochs: int) -> int:
    """search.pruner.n_warmup_steps, epochs before any pruning: null is half of max_epochs."""
    return configured if configured is not None else max_epochs // 2


def make_pruner(cfg: PrunerConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner named in search.pruner, with the defaults above for what it leaves null."""
    warmup = warmup_steps(cfg.n_warmup_steps, max_epochs)
    startup = cfg.n_startup_trials
    if startup is None:
        startup = STARTUP_TRIALS.get(cfg.name, 0)
    if cfg.name == "median":
        return optuna.pruners.MedianPruner(startup, warmup)
    if cfg.name == "percentile":
        return optuna.pruners.PercentilePruner(cfg.percentile, startup, warmup)
    if cfg.name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=cfg.min_resource, reduction_factor=cfg.reduction_factor
        )
    if cfg.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=cfg.min_resource,
            max_resource=max_epochs,
            reduction_factor=cfg.reduction_factor,
        )
    if cfg.name == "plateau":
        return PlateauPruner(startup, warmup, max_steps=max_epochs)
    if cfg.name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"search.pruner.name {cfg.name!r} is unknown")


Curve = list[float]  # best value so far at steps 0, 1, ..., in "lower is better" form
SETTLE_STEPS = 2  # steps after a drop before the trial is ranked against the others
# The finished trials are read once per trial, and again at most this often: each read goes to
# the storage, a noticeable share of a cheap epoch, and with one worker the finished trials
# cannot change while a trial runs. Other workers' trials are seen this late at most.
REREAD_S = 2.0


class PlateauPruner(BasePruner):
    """Prunes trials that stay on the plateau longer than the others did, or fall behind after."""

    def __init__(
        self,
        n_startup_trials: int = STARTUP_TRIALS["plateau"],
        n_warmup_steps: int = 5,
        min_drop: float = 0.1,
        max_steps: int | None = None,
    ) -> None:
        if n_startup_trials < 0 or n_warmup_steps < 0:
            raise ValueError(
                f"n_startup_trials and n_warmup_steps must be >= 0, but got "
                f"{n_startup_trials=} and {n_warmup_steps=}"
            )
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, but got {max_steps=}")
        if not 0 < min_drop < 1:
            raise ValueError(f"min_drop must be in (0, 1), but got {min_drop}")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.min_drop = min_drop
        self.max_steps = max_steps
        self._done: list[FrozenTrial] = []
        self._read_for: tuple[weakref.ref[optuna.Study], int, float] | None = None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether `trial` waited out the plateau too long, or fell behind after leaving it."""
        step = trial.last_step
        if step is None or (self.max_steps is not None and step >= self.max_steps - 1):
            return False
        sign = -1.0 if maximizing(study) else 1.0
        curves = [(t.state, _best_so_far(t, sign)) for t in self._finished(study, trial.number)]
        mine = _best_so_far(trial, sign)
        plateau = statistics.median([c[0] for _, c in curves if c] + [mine[0]])
        level = plateau - self.min_drop * abs(plateau)
        dropped = _drop_step(mine, level)
        if dropped is None:
            seen = [d for _, c in curves if (d := _drop_step(c, level)) is not None]
            return step >= (max(seen) if seen else self.n_warmup_steps)
        complete = [c for state, c in curves if state == TrialState.COMPLETE]
        if len(complete) < max(self.n_startup_trials, 1) or step < dropped + SETTLE_STEPS:
            return False
        others = [c[step] for c in complete if len(c) > step]
        return bool(others) and mine[step] > statistics.median(others)

    def _finished(self, study: optuna.Study, number: int) -> list[FrozenTrial]:
        """The study's complete and pruned trials, read again for a new trial or REREAD_S on."""
        now = time.monotonic()
        last = self._read_for
        if last is None or last[0]() is not study or last[1] != number or now - last[2] > REREAD_S:
            states = (TrialState.COMPLETE, TrialState.PRUNED)
            self._done = study.get_trials(deepcopy=False, states=states)
            self._read_for = (weakref.ref(study), number, now)
        return self._done


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
