"""The Optuna study of a sweep: its sampler and pruner, how trials count, what is best."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.samplers._lazy_random_state import LazyRandomState
from optuna.trial import FrozenTrial, TrialState

from sweeps.config.schema import Config
from sweeps.config.search import SamplerConfig
from sweeps.errors import ConfigError
from sweeps.keys import CONFIG_ATTR, INTERRUPTED_ATTR, RETRY_OF
from sweeps.search.pruners import make_pruner
from sweeps.search.ranking import ranked
from sweeps.search.space import grid
from sweeps.secrets import redact
from sweeps.stores.storage import local_file, open_storage

MAX_FAILURES_IN_A_ROW = 3

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep prints one line per trial


def make_sampler(cfg: SamplerConfig, config: Config) -> optuna.samplers.BaseSampler:
    """The sampler named in search.sampler; with a seed, reseeded per trial (`seed_per_trial`)."""
    sampler = _sampler(cfg, config)
    return sampler if cfg.seed is None else seed_per_trial(sampler, cfg.seed)


def seed_per_trial(sampler: optuna.samplers.BaseSampler, seed: int) -> optuna.samplers.BaseSampler:
    """Reseed the sampler's random state from (seed, trial number) before each trial.

    Every worker and every machine builds its own sampler from the same seed, so each drew the
    same random start-up trials: two workers started together ran the same params twice. The
    trial number is unique across them all, and a one-worker sweep stays reproducible.

    Optuna has no public way to seed a sampler per trial (`reseed_rng` draws a fresh seed from
    the OS), so this reaches its private random states. If an Optuna upgrade moves them, this
    raises rather than letting duplicate draws come back silently.
    """
    states = random_states(sampler)
    if not states:
        raise RuntimeError(
            f"{type(sampler).__name__} keeps none of its random state where seed_per_trial "
            f"reseeds it ({', '.join(_RANDOM_STATES)} on it or on its "
            f"{', '.join(_INNER_SAMPLERS)}): Optuna changed; see tests/test_upgrade_gates.py"
        )
    own_before_trial = sampler.before_trial

    def before_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        state = int(np.random.SeedSequence([seed, trial.number]).generate_state(1)[0])
        for rng in states:
            rng.rng.seed(state)
        own_before_trial(study, trial)

    sampler.before_trial = before_trial  # type: ignore[method-assign]
    return sampler


# Where Optuna 5's samplers keep their random states (private attributes): their own, or an
# inner sampler's (TPE's start-up RandomSampler, CMA-ES's and QMC's independent one).
_RANDOM_STATES = ("_rng", "_cma_rng")
_INNER_SAMPLERS = ("_random_sampler", "_independent_sampler")


def random_states(sampler: optuna.samplers.BaseSampler) -> list[LazyRandomState]:
    """The random states of `sampler` and of its inner samplers that seed_per_trial reseeds."""
    parts = [sampler, *(getattr(sampler, name, None) for name in _INNER_SAMPLERS)]
    found = [getattr(part, name, None) for part in parts for name in _RANDOM_STATES]
    return [rng for rng in found if isinstance(rng, LazyRandomState)]


def _sampler(cfg: SamplerConfig, config: Config) -> optuna.samplers.BaseSampler:
    if cfg.name == "tpe":
        n_startup = 10 if cfg.n_startup_trials is None else cfg.n_startup_trials
        return optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=n_startup)
    if cfg.name == "random":
        return optuna.samplers.RandomSampler(seed=cfg.seed)
    if cfg.name == "grid":
        return optuna.samplers.GridSampler(grid(config.search.space), seed=cfg.seed)
    if cfg.name == "cmaes":
        n_startup = 1 if cfg.n_startup_trials is None else cfg.n_startup_trials
        return optuna.samplers.CmaEsSampler(seed=cfg.seed, n_startup_trials=n_startup)
    if cfg.name == "qmc":
        return optuna.samplers.QMCSampler(seed=cfg.seed)
    if cfg.name == "gp":
        n_startup = 10 if cfg.n_startup_trials is None else cfg.n_startup_trials
        return optuna.samplers.GPSampler(seed=cfg.seed, n_startup_trials=n_startup)
    raise ConfigError(f"search.sampler.name {cfg.name!r} is unknown")


def superseded(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of trials a retry replaced (after a signal or a reap)."""
    numbers = {t.number for t in trials}
    return {n for t in trials if (n := t.user_attrs.get(RETRY_OF)) in numbers}


def counted(trials: list[FrozenTrial]) -> int:
    """Trials that count towards search.n_trials: finished, neither interrupted nor retried."""
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    replaced = superseded(trials)
    return sum(
        1
        for t in trials
        if t.state in done and not t.user_attrs.get(INTERRUPTED_ATTR) and t.number not in replaced
    )


def budget_used(trials: list[FrozenTrial]) -> int:
    """Slots of search.n_trials taken: every trial, running or queued too, but not a replaced one.

    An interrupted trial awaiting its retry keeps its slot, so the retry never overshoots.
    """
    return len(trials) - len(superseded(trials))


def state_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def open_study(
    config: Config, storage: str, name: str, store: optuna.storages.BaseStorage | None = None
) -> optuna.Study:
    """Create the study, or load it to resume; a direction change is a config error."""
    try:
        study = optuna.create_study(
            storage=store if store is not None else open_storage(storage),
            study_name=name,
            directions=config.search.all_directions(),
            sampler=make_sampler(config.search.sampler, config),
            pruner=make_pruner(config.search.pruner, config.trainer.max_epochs),
            load_if_exists=True,
        )
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"study {name!r} in {redact(storage)} cannot be resumed: {err}") from None
    stored = [d.name.lower() for d in study.directions]
    wanted = config.search.all_directions()
    if stored != wanted:
        shown, now = (stored[0], wanted[0]) if len(stored) == len(wanted) == 1 else (stored, wanted)
        raise ConfigError(
            f"search.direction is {now}, but study {name!r} in {redact(storage)} "
            f"was created to {shown}; keep {shown} or start a new study with --study NAME"
        )
    return study


def load_existing(name: str, storage: str) -> optuna.Study:
    """An existing study, or a ConfigError that lists the studies the storage holds."""
    store = open_storage(storage)
    try:
        return optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(store)]
        raise ConfigError(f"no study {name!r} in {redact(storage)}; it holds {names}") from None


def only_study(storage: str) -> str:
    """The name of the one study a storage holds; a ConfigError when it holds none or several."""
    fix = "give a CONFIG, or --study NAME (and --storage URL)"
    file = local_file(storage)
    if file is not None and not file.exists():  # opening it would create an empty store
        raise ConfigError(f"no study here: {file} does not exist; run a sweep first, or {fix}")
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(open_storage(storage)))
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(f"{redact(storage)} holds no study; run a sweep first, or {fix}")
    raise ConfigError(f"{redact(storage)} holds {len(names)} studies {names}; {fix}")


def no_completed_trial(study: optuna.Study) -> str:
    """Why a study has no best trial yet, and, when every trial was pruned, what to change."""
    finished = [t.state for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    if finished and all(state == TrialState.PRUNED for state in finished):
        return (
            f"study {study.study_name!r} has no completed trial: all {len(finished)} were pruned; "
            "let trials run longer with a higher search.pruner.n_warmup_steps or "
            "trainer.max_epochs, or search.pruner.name: none"
        )
    return f"study {study.study_name!r} has no completed trial yet"


def best_config_yaml(study: optuna.Study) -> str:
    """The full config the best trial ran with, as YAML: `sweep train` reruns it."""
    import yaml

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        raise ConfigError(no_completed_trial(study))
    chosen = ranked(study)[0]  # with several objectives, the front's best on the first one
    config = chosen.user_attrs.get(CONFIG_ATTR)
    if config is None:
        raise ConfigError(f"the best trial of {study.study_name!r} has no stored config")
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class SweepSummary:
    study_name: str
    storage: str
    counts: dict[str, int]
    best_value: float | None
    best_params: dict[str, Any]
    best_run_id: str | None
    parent_run_id: str
    tracking_uri: str
    seconds: float
    baselines: dict[str, float]
    already_done: bool = False
    stopped: str | None = None  # why search.stop ended the sweep
    all_failed: bool = False  # every trial this invocation finished failed
    best_number: int | None = None  # the best trial's number (one objective)
    model: Any = None  # the best trial's logged model (sweeps.runner.registry.LoggedBest)
