"""Samplers and pruners come from the config by name, with the documented defaults."""

from __future__ import annotations

import optuna
import pytest
from conftest import tiny_raw

from sweeps.config.schema import PrunerConfig, SamplerConfig, validate
from sweeps.errors import ConfigError
from sweeps.search.pruners import PlateauPruner, make_pruner
from sweeps.search.study import make_sampler

SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
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


def _ask_params(studies: list[optuna.Study], rounds: int) -> list[dict[str, object]]:
    """Trials asked in turn by each study (one per worker), all on one storage."""
    params = []
    for _ in range(rounds):
        for study in studies:
            trial = study.ask()
            trial.suggest_float("optimizer.lr", 1e-3, 1e-1, log=True)  # tiny_raw's space
            trial.suggest_categorical("model.cell", ["rnn", "lstm", "gru"])
            study.tell(trial, 1.0)
            params.append(trial.params)
    return params


@pytest.mark.parametrize("name", ["tpe", "random"])
def test_workers_with_one_seed_draw_different_trials_yet_stay_reproducible(name: str) -> None:
    config = validate(tiny_raw())
    storage = optuna.storages.InMemoryStorage()

    def worker() -> optuna.Study:  # each worker builds its own sampler from the same seed
        return optuna.load_study(
            study_name="s",
            storage=storage,
            sampler=make_sampler(SamplerConfig(name=name, seed=7), config),
        )

    optuna.create_study(study_name="s", storage=storage)
    a, b = worker(), worker()
    params = _ask_params([a, b], rounds=2)
    assert params[0] != params[1] and params[2] != params[3]  # was: the same params twice
    alone = optuna.create_study(sampler=make_sampler(SamplerConfig(name=name, seed=7), config))
    again = optuna.create_study(sampler=make_sampler(SamplerConfig(name=name, seed=7), config))
    assert _ask_params([alone], rounds=4) == _ask_params([again], rounds=4)


def test_a_study_whose_trials_were_all_pruned_says_what_to_change() -> None:
    from sweeps.search.study import best_config_yaml, no_completed_trial

    study = optuna.create_study(study_name="flat")
    for _ in range(2):
        study.tell(study.ask(), state=optuna.trial.TrialState.PRUNED)
    with pytest.raises(ConfigError, match=r"all 2 were pruned.*search\.pruner\.n_warmup_steps"):
        best_config_yaml(study)

    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)  # not the pruner's doing
    assert no_completed_trial(study) == "study 'flat' has no completed trial yet"
