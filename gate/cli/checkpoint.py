"""`gate checkpoint show`: read a checkpoint pointer and print what the workflow needs from it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from gate.cli import cli
from gate.config.checkpoint import load_checkpoint


@cli.group()
def checkpoint() -> None:
    """Checkpoint pointers: the checkpoints/*.yaml files that name the weights to gate."""


@checkpoint.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "github-output", "args"]),
    default="json",
    show_default=True,
    help="args: the `gate run` flags, one per line (for bash `mapfile -t`).",
)
def show(file: Path, fmt: str) -> None:
    """Validate FILE and print it: as JSON, as key=value lines for $GITHUB_OUTPUT, or as run flags.

    Example: gate checkpoint show checkpoints/sft-v3.yaml --format github-output >> "$GITHUB_OUTPUT"
    """
    ck = load_checkpoint(file)
    if fmt == "args":
        click.echo("\n".join(ck.run_args()))
        return
    if fmt == "github-output":
        click.echo(ck.github_output(), nl=False)
        return
    data = {"name": ck.name, "baseline": ck.baseline, "description": ck.description, "model": asdict(ck.spec)}
    click.echo(json.dumps({**data, "run_args": ck.run_args()}, indent=1))
