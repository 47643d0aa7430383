"""Every private attribute and undocumented call the code relies on, checked by name.

Each bet on a library's internals is here, so that an upgrade of torch, Lightning, Optuna or
MLflow that moves one fails this file in CI, with the bet named, rather than a study later:
duplicate draws between workers, a trial budget overrun, tracebacks in a user's terminal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

import optuna
import pytest
import torch
from conftest import tiny_raw
from torch import nn

from sweeps.config.schema import validate
from sweeps.config.search import SamplerConfig
from sweeps.search.study import make_sampler, random_states

# sweeps/search/study.py reseeds these per trial (seed_per_trial): attribute paths of the
# random states of each sampler the config can name.
RANDOM_STATES = {
    "tpe": ["_rng", "_random_sampler._rng"],
    "random": ["_rng"],
    "grid": ["_rng"],
    "cmaes": ["_cma_rng", "_independent_sampler._rng"],
    "qmc": ["_independent_sampler._rng"],
    "gp": ["_rng", "_independent_sampler._rng"],
}


def _resolve(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


@pytest.mark.parametrize("name", get_args(SamplerConfig.model_fields["name"].annotation))
def test_each_sampler_keeps_its_random_state_where_seed_per_trial_reseeds_it(name: str) -> None:
    from optuna.samplers._lazy_random_state import LazyRandomState

    raw = tiny_raw()
    if name == "grid":
        raw["search"]["space"] = {"model.cell": {"type": "categorical", "choices": ["rnn", "gru"]}}
    sampler = make_sampler(SamplerConfig(name=name, seed=1), validate(raw))
    expected = [_resolve(sampler, path) for path in RANDOM_STATES[name]]
    assert all(isinstance(rng, LazyRandomState) for rng in expected), name
    assert {id(r) for r in random_states(sampler)} == {id(r) for r in expected}, name


def test_optuna_logs_a_failed_trial_where_the_log_filter_listens() -> None:
    # sweeps/output.py drops these two records (the traceback and "failed with value None.").
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("optuna.study._optimize")
    filters = logger.filters[:]  # the sweep's own filter, if a test installed it, drops them
    logger.filters.clear()
    logger.addHandler(handler)
    try:

        def broken(trial: optuna.Trial) -> float:
            raise ValueError("boom")

        optuna.create_study().optimize(broken, n_trials=1, catch=(ValueError,))
    finally:
        logger.removeHandler(handler)
        logger.filters[:] = filters
    assert any(r.exc_info is not None for r in records), records
    assert any(r.getMessage().endswith("failed with value None.") for r in records), records


def test_optunas_cache_creates_trials_through_the_rdb_storages_private_twin(
    tmp_path: Path,
) -> None:
    # sweeps/stores/storage.py guards RDBStorage._create_new_trial: Optuna's cache in front of
    # an RDBStorage creates trials through it, not through create_new_trial.
    from contextlib import nullcontext

    from sweeps.stores.storage import BudgetSpent, guard

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    guard(storage, nullcontext, lambda trials: len(trials) < 1)
    study = optuna.create_study(storage=storage)
    study.ask()
    with pytest.raises(BudgetSpent):
        study.ask()


def test_optunas_cache_finishes_trials_through_the_rdb_storages_public_method(
    tmp_path: Path,
) -> None:
    # sweeps/stores/storage.py locks a trial's finish by wrapping the storage's
    # set_trial_state_values: Optuna's cache in front of an RDBStorage must call it, or
    # search.stop would be settled on no finish and decided only at the next creation.
    from contextlib import nullcontext

    from sweeps.stores.storage import guard

    settled: list[int] = []
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    guard(storage, nullcontext, lambda trials: True, lambda: settled.append(1))
    study = optuna.create_study(storage=storage)
    study.tell(study.ask(), 1.0)
    assert settled == [1]


def test_mlflow_builds_a_new_stores_tables_with_initialize_tables(tmp_path: Path) -> None:
    # sweeps/stores/blank_store.py builds the blank MLflow store with this private function.
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        _initialize_tables(engine)
        tables = set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"experiments", "runs", "metrics", "alembic_version"} <= tables


def test_lightning_records_the_running_hook_in_current_fx_name() -> None:
    # models/lit_module.py sets `_current_fx_name` past nn.Module.__setattr__, which Lightning
    # writes around every hook; if Lightning renamed it, the shortcut would only go unused.
    import pytorch_lightning as pl

    from datamodules.base import Split, TensorLoader
    from models.lit_module import SequenceModule
    from models.options import NetOptions
    from models.recurrent import RecurrentNet

    seen: list[object] = []

    class Watched(SequenceModule):
        def __setattr__(self, name: str, value: Any) -> None:
            if name == "_current_fx_name":
                seen.append(value)
            super().__setattr__(name, value)

    module = Watched(RecurrentNet(1, 1, NetOptions(hidden_size=2)), task="regression")
    data = Split(torch.randn(8, 3, 1), torch.randn(8, 1))
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, TensorLoader(data, 4), TensorLoader(data, 4))
    assert "training_step" in seen, seen


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_torch_rnn_kernels_take_the_positional_arguments_padded_py_passes(cell: str) -> None:
    # models/padded.py calls torch.lstm / gru / rnn_tanh / rnn_relu (undocumented ATen entry
    # points) as (input, hx, weights, has_biases, num_layers, dropout, train, bidirectional,
    # batch_first): one layer, one direction, time first.
    from models.padded import _KERNELS

    torch.manual_seed(0)
    kind, _, nonlinearity = cell.partition("_")
    layer: nn.RNNBase = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind](
        3, 4, **({"nonlinearity": nonlinearity} if nonlinearity else {})
    )
    seq, h0 = torch.randn(5, 2, 3), torch.zeros(1, 2, 4)
    hx: Any = (h0, h0) if kind == "lstm" else h0
    weights = [layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0]
    out = _KERNELS[layer.mode](seq, hx, weights, True, 1, 0.0, False, False, False)[0]
    torch.testing.assert_close(out, layer(seq, hx)[0])


def test_lightnings_autocast_keeps_no_cache_of_16_bit_weights() -> None:
    # An Epoch's optimizer steps all run inside one training_step, so inside one autocast
    # context (models/epochs.py). A cache of each weight's 16-bit copy would outlive the
    # first step there, and every later step would use stale weights.
    from pytorch_lightning.plugins.precision import MixedPrecision

    with MixedPrecision("bf16-mixed", "cpu").autocast_context_manager():
        assert not torch.is_autocast_cache_enabled()


def test_a_fused_optimizer_says_it_unscales_16_bit_gradients_itself() -> None:
    # SequenceModule.on_before_optimizer_step unscales such an optimizer's gradients itself
    # before clipping (Lightning leaves them scaled); it finds them by this attribute.
    from models.optim import build_optimizer

    params = iter([nn.Parameter(torch.zeros(2))])
    optimizer = build_optimizer("sgd", params, 0.1, 0.0, 0.0)
    assert optimizer._step_supports_amp_scaling  # type: ignore[attr-defined]
