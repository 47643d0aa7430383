"""Samplers and pruners come from the config by name, with the documented defaults."""

from __future__ import annotations

from typing import Any, get_args

import optuna
import pytest
from conftest import tiny_raw

from sweeps.config.schema import Config, validate
from sweeps.config.search import PrunerConfig, SamplerConfig
from sweeps.errors import ConfigError
from sweeps.search.pruners import PlateauPruner, make_pruner
from sweeps.search.space import suggest
from sweeps.search.study import make_sampler, seed_per_trial

SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
    "gp": optuna.samplers.GPSampler,
}
PRUNERS = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "sha": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "plateau": PlateauPruner,
    "none": optuna.pruners.NopPruner,
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_by_name(name: str) -> None:
    sampler = make_sampler(SamplerConfig(name=name, seed=1), validate(tiny_raw()))
    assert isinstance(sampler, SAMPLERS[name])


def test_grid_sampler_gets_the_grid() -> None:
    raw = tiny_raw()
    raw["search"]["space"] = {"model.cell": {"type": "categorical", "choices": ["rnn", "gru"]}}
    sampler = make_sampler(SamplerConfig(name="grid"), validate(raw))
    assert isinstance(sampler, optuna.samplers.GridSampler)


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_pruner_by_name(name: str) -> None:
    assert isinstance(make_pruner(PrunerConfig(name=name), max_epochs=10), PRUNERS[name])


def test_default_warmup_is_half_the_epochs() -> None:
    # The adding problem's loss plateaus before it drops: no pruning in the first half.
    study = optuna.create_study(pruner=make_pruner(PrunerConfig(n_startup_trials=0), 10))
    for value in (0.1, 0.1):
        done = study.ask()
        for step in range(10):
            done.report(value, step)
        study.tell(done, value)
    late = study.ask()
    late.report(0.9, 4)
    assert not late.should_prune()  # epoch 4 < warm-up 5
    late.report(0.9, 5)
    assert late.should_prune()


def test_the_default_pruner_completes_every_trial_of_a_one_epoch_sweep() -> None:
    # Warm-up 0 of 1 epoch: pruning at the last step would only take the trials' results.
    study = optuna.create_study(pruner=make_pruner(PrunerConfig(), max_epochs=1))
    for _ in range(3):
        trial = study.ask()
        trial.report(0.167, 0)
        assert not trial.should_prune()
        study.tell(trial, 0.167)


def test_resuming_with_the_other_direction_is_a_config_error(tmp_path: object) -> None:
    from pathlib import Path

    from sweeps.errors import ConfigError
    from sweeps.search.study import open_study

    storage = f"sqlite:///{Path(str(tmp_path)) / 'optuna.db'}"
    config = validate(tiny_raw())
    open_study(config, storage, "s")
    flipped = config.model_copy(
        update={"search": config.search.model_copy(update={"direction": "maximize"})}
    )
    with pytest.raises(ConfigError, match="search.direction is maximize, but study 's'"):
        open_study(flipped, storage, "s")


# Every sampler a config can name, with a space it can sample: the grid's is discrete, and two
# floats let CMA-ES and GP leave their random start-up trials for their own proposals.
SAMPLER_NAMES = get_args(SamplerConfig.model_fields["name"].annotation)
FLOATS = {
    "optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
}
GRID = {
    "optimizer.lr": {"type": "categorical", "choices": [0.001, 0.003, 0.01, 0.03, 0.1]},
    "model.hidden_size": {"type": "categorical", "choices": [4, 8, 16, 32]},
}


def _sampler_config(name: str) -> Config:
    raw = tiny_raw()
    raw["search"]["space"] = GRID if name == "grid" else FLOATS
    return validate(raw)


def _ask_params(studies: list[optuna.Study], config: Config, rounds: int) -> list[dict[str, Any]]:
    """Trials asked together by each study (one per worker, all on one storage), then told."""
    params = []
    for r in range(rounds):
        trials = [study.ask() for study in studies]  # running side by side, as workers do
        for study, trial in zip(studies, trials, strict=True):
            params.append(suggest(trial, config.search.space))
            study.tell(trial, float(r + len(params)) / 10)
    return params


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_workers_with_one_seed_draw_different_trials_yet_stay_reproducible(name: str) -> None:
    config = _sampler_config(name)
    storage = optuna.storages.InMemoryStorage()

    def worker() -> optuna.Study:  # each worker builds its own sampler from the same seed
        return optuna.load_study(
            study_name="s",
            storage=storage,
            sampler=make_sampler(SamplerConfig(name=name, seed=7), config),
        )

    optuna.create_study(study_name="s", storage=storage)
    a, b = worker(), worker()
    params = _ask_params([a, b], config, rounds=6)  # past every sampler's start-up trials
    pairs = list(zip(params[::2], params[1::2], strict=True))
    assert all(mine != theirs for mine, theirs in pairs), pairs  # was: the same params twice
    alone = optuna.create_study(sampler=make_sampler(SamplerConfig(name=name, seed=7), config))
    again = optuna.create_study(sampler=make_sampler(SamplerConfig(name=name, seed=7), config))
    assert _ask_params([alone], config, rounds=6) == _ask_params([again], config, rounds=6)


def test_seed_per_trial_refuses_a_sampler_whose_random_state_it_cannot_reach() -> None:
    class Opaque(optuna.samplers.RandomSampler):
        def __init__(self) -> None:
            super().__init__(seed=0)
            self._hidden = self.__dict__.pop("_rng")  # as if Optuna renamed it

    with pytest.raises(RuntimeError, match="Optuna changed"):
        seed_per_trial(Opaque(), 7)


def test_gp_proposes_every_trial_after_its_random_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test above passes for gp even if it fell back to random draws: here it must fit.
    proposed: list[int] = []
    relative = optuna.samplers.GPSampler.sample_relative

    def spy(self: optuna.samplers.GPSampler, *args: Any) -> dict[str, Any]:
        found = relative(self, *args)
        proposed.append(len(found))
        return found

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", spy)
    config = _sampler_config("gp")
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(study_name="s", storage=storage)
    gp = SamplerConfig(name="gp", seed=7, n_startup_trials=2)
    workers = [
        optuna.load_study(study_name="s", storage=storage, sampler=make_sampler(gp, config))
        for _ in range(2)
    ]
    params = _ask_params(workers, config, rounds=3)
    assert proposed == [0, 0, 2, 2, 2, 2], proposed  # both floats, from trial 2 on
    assert params[4] != params[5]  # two workers, one seed, the GP's own proposals


def test_a_study_whose_trials_were_all_pruned_says_what_to_change() -> None:
    from sweeps.search.study import best_config_yaml, no_completed_trial

    study = optuna.create_study(study_name="flat")
    for _ in range(2):
        study.tell(study.ask(), state=optuna.trial.TrialState.PRUNED)
    with pytest.raises(ConfigError, match=r"all 2 were pruned.*search\.pruner\.n_warmup_steps"):
        best_config_yaml(study)

    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)  # not the pruner's doing
    assert no_completed_trial(study) == "study 'flat' has no completed trial yet"
