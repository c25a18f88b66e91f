"""`gate check`: floors with confidence intervals against one record."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli import cli, console
from gate.cli.options import format_option
from gate.config import load_thresholds
from gate.record import load, require_whole
from gate.report.verdict import render_verdict


@cli.command()
@click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("thresholds/default.yaml"),
    show_default=True,
)
@click.option(
    "--inconclusive-blocks/--inconclusive-passes",
    "inconclusive_blocks",
    default=None,
    help="Whether a floor inside the interval blocks [default: the thresholds file's policy.inconclusive_blocks, "
    "else passes, shown as inconclusive].",
)
@format_option("text", "json", "markdown")
def check(record, thresholds_path, inconclusive_blocks, fmt):
    """Check a record against floors; exit 0 passed (or inconclusive without blocking), 1 failed.

    \b
    Example:
      gate check runs/candidate.json --thresholds thresholds/default.yaml
    """
    from gate.decide.floors import check as check_record  # numpy/scipy: only when a check runs

    rec = load(record)
    require_whole(rec, str(record))
    verdict = check_record(rec, load_thresholds(thresholds_path), inconclusive_blocks=inconclusive_blocks)
    text = render_verdict(verdict, fmt)
    click.echo(text, nl=False)
    console.finish(verdict.state, verdict.headline)
    click.get_current_context().exit(verdict.exit_code)
