"""One source of truth: what the schema accepts, the constructors build, at every search edge."""

from __future__ import annotations

import ast
import inspect
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import CONFIGS

from datamodules.base import SequenceDataModule
from datamodules.options import BATCH_SIZE
from models import RecurrentNet, SequenceModule
from models.options import NetOptions, OptimizerOptions
from sweeps.config.dataset import make_datamodule
from sweeps.config.loader import load_config, with_values
from sweeps.config.schema import Config, DataConfig, validate
from sweeps.errors import ConfigError
from sweeps.train.trial import make_module

REPO = CONFIGS.parent
SHIPPED = sorted(CONFIGS.glob("*.yaml"))


def _edges(spec: Any) -> list[Any]:
    """The values a search can reach first: both bounds, or every choice."""
    if spec.type == "categorical":
        return list(spec.choices)
    if spec.type == "int":
        return [int(spec.low), int(spec.high)]
    return [spec.low, spec.high]


def _small_data(config: Config, folder: Path) -> dict[str, Any]:
    """Tiny synthetic sizes and a tiny corpus, so building every edge takes seconds."""
    if config.data.name in ("adding", "copy_memory", "temporal_order"):
        return {"data.n_train": 32, "data.n_val": 16, "data.n_test": 16}
    if config.data.name == "text":
        text = folder / "tiny.txt"
        text.write_text("To be, or not to be, that is the question. " * 200)
        return {"data.path": str(text)}
    if config.data.name == "csv":
        return {"data.path": str(REPO / config.data.options()["path"])}
    return {}


def _build_all(config: Config) -> None:
    """Datamodule, network, module, optimizer and scheduler; then one forward pass."""
    datamodule = make_datamodule(config, load=True)
    module = make_module(config, datamodule.spec)
    module.configure_optimizers()
    batch = next(iter(datamodule.train_dataloader()))
    lengths = batch[2] if len(batch) == 3 else None
    with torch.no_grad():
        out = module.net(batch[0], lengths)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_edge_of_every_shipped_space_builds(path: Path, tmp_path: Path) -> None:
    config = load_config(path)
    small = _small_data(config, tmp_path)
    _build_all(with_values(config, small))
    for name, spec in config.search.space.items():
        for value in _edges(spec):
            _build_all(with_values(config, {**small, name: value}))


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"optimizer.gamma": 1.0}, "optimizer.gamma"),  # once passed validate, then failed a trial
        ({"model.nonlinearity": "relu"}, "model.nonlinearity"),  # lstm: the constructor's rule
        ({"model.hidden_size": 0}, "model.hidden_size"),
        ({"data.batch_size": 0}, "data.batch_size"),
        ({"trainer.max_epochs": 0}, "trainer.max_epochs"),
        ({"optimizer.grad_clip": 0.0}, "optimizer.grad_clip"),
    ],
)
def test_validate_refuses_what_a_constructor_refuses(values: dict[str, Any], field: str) -> None:
    config = load_config(CONFIGS / "quickstart.yaml")
    with pytest.raises(ConfigError, match=field) as info:
        with_values(config, values)
    assert "\n" not in str(info.value)


def test_schema_defaults_are_the_constructors() -> None:
    config = validate({"name": "d", "data": {"name": "adding"}})
    # The config's sections are the options the constructors take, with the same defaults.
    assert isinstance(config.model, NetOptions) and isinstance(config.optimizer, OptimizerOptions)
    net = inspect.signature(RecurrentNet).parameters
    assert asdict(net["options"].default) == asdict(config.model) == asdict(NetOptions())
    module = inspect.signature(SequenceModule).parameters
    assert asdict(module["optimizer"].default) == asdict(config.optimizer)
    assert module["max_epochs"].default == config.trainer.max_epochs
    base = inspect.signature(SequenceDataModule).parameters
    assert base["batch_size"].default == DataConfig(name="adding").batch_size == BATCH_SIZE


def test_left_out_seq_len_is_the_datasets_default() -> None:
    config = validate({"name": "d", "data": {"name": "adding"}})
    datamodule = make_datamodule(config)
    assert datamodule.seq_len == datamodule.info.default_seq_len == 100


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("package", ["models", "datamodules"])
def test_leaf_packages_import_nothing_from_sweeps(package: str) -> None:
    for path in sorted((REPO / package).glob("*.py")):
        assert "sweeps" not in _imports(path), path


def test_metric_names_need_no_datamodule() -> None:
    assert "datamodules" not in _imports(REPO / "models" / "metrics.py")


def test_dispatch_tables_match_the_named_choices() -> None:
    from models import CELLS, OPTIMIZERS, SCHEDULERS
    from models.cells import GATES
    from models.options import CELL_NAMES, OPTIMIZER_NAMES, SCHEDULER_NAMES

    assert set(GATES) == set(CELL_NAMES) >= set(CELLS)
    assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)
    assert set(SCHEDULERS) == set(SCHEDULER_NAMES)
