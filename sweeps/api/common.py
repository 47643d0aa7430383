"""What the API's functions share: reading a config, naming a study, a stop that is safe.

Light on purpose: every function of the API imports its heavy modules inside itself, so a
function that only reads a study never pays for torch or Lightning.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.keys import check_study_name
from sweeps.signals import STOP

if TYPE_CHECKING:
    import optuna

    from sweeps.config.schema import Config

PathLike = str | os.PathLike[str]
# {"optimizer.lr": 0.01} or the CLI's ["optimizer.lr=0.01"]: values in strings are read as YAML
Overrides = Mapping[str, Any] | Sequence[str] | None


def values_of(overrides: Overrides) -> dict[str, Any]:
    """Overrides as a dict of dotted keys to values."""
    from sweeps.config.loader import parse_overrides

    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    if isinstance(overrides, str):
        return parse_overrides([overrides])
    return parse_overrides(list(overrides))


def load(config: PathLike, overrides: Overrides = None, tracking_uri: str | None = None) -> Config:
    """The config at `config`, with dotted-path overrides, validated (its data checked too)."""
    from sweeps.config.loader import load_config

    values = values_of(overrides)
    if tracking_uri:
        values["tracking.uri"] = tracking_uri
    return load_config(Path(config), values)


def shallow(config: PathLike) -> Config:
    """The schema checked, no datamodule built: reading a study needs no torch."""
    from sweeps.config.loader import load_config

    return load_config(Path(config), check_data=False)


def default_tracking_uri() -> str:
    """Where runs are recorded when neither a config nor the caller says."""
    from sweeps.config.schema import TrackingConfig

    return TrackingConfig().uri


def tracking_uri_of(config: PathLike | None, tracking_uri: str | None) -> str:
    return tracking_uri or (shallow(config).tracking.uri if config else default_tracking_uri())


def storage_of(config: Config | None, storage: str | None) -> str:
    from sweeps.stores.storage import DEFAULT_STORAGE

    return storage or (config.storage if config else None) or DEFAULT_STORAGE


def open_study(
    config: PathLike | None, study: str | None, storage: str | None
) -> tuple[optuna.Study, Config | None]:
    """An existing study named by a config or by `study` (and `storage`), else the storage's
    only study; and the config."""
    from sweeps.search.study import load_existing, only_study

    if study is not None:
        check_study_name(study, "--study")
    cfg = shallow(config) if config is not None else None
    url = storage_of(cfg, storage)
    return load_existing(study or (cfg.name if cfg else None) or only_study(url), url), cfg


def is_config(value: PathLike) -> bool:
    """A path to a YAML config, rather than a study's name."""
    text = os.fspath(value)
    return (
        isinstance(value, os.PathLike)
        or text.endswith((".yaml", ".yml"))
        or ("/" in text and Path(text).is_file())
    )


@contextmanager
def stoppable() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop at the next safe point; only the main thread can catch them."""
    main = threading.current_thread() is threading.main_thread()
    with STOP.installed() if main else nullcontext():
        yield
