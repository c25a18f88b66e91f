"""`gate correlate`: which public benchmarks predict the team's own tasks, across the checkpoints in MLflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from gate.cli import cli
from gate.files import check_output, write_output
from gate.report.correlation import FORMATS, render_correlation

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


@cli.command()
@click.option("--experiment", default="checkpoint-gate", show_default=True, help="MLflow experiment of the runs.")
@click.option("--since", type=_DATE, help="Only runs started on or after this UTC date (YYYY-MM-DD[THH:MM:SS]).")
@click.option("--until", type=_DATE, help="Only runs started up to this UTC date, inclusive (a whole day for a date).")
@click.option("--suite", "suites", multiple=True, help="Only runs of this suite name (repeatable; default all).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [env MLFLOW_TRACKING_URI; default sqlite:///./mlflow.db].",
)
def correlate(
    experiment: str,
    since: datetime | None,
    until: datetime | None,
    suites: tuple[str, ...],
    fmt: str,
    output: Path | None,
    overwrite: bool,
    tracking_uri: str | None,
) -> None:
    """Spearman's rho between each general and each domain task across the checkpoints logged in MLflow.

    A checkpoint is one weights fingerprint; its runs of several suites count together. Bands:
    |rho| > 0.7 strong, > 0.4 moderate, else weak; fewer than 5 checkpoints is unreliable.
    Markdown and HTML draw a scatter plot per pair.

    Example: gate correlate --suite full --suite support --since 2025-01-01 --format markdown -o corr.md
    """
    from gate.decide.correlate import correlate as compute  # scipy, MLflow: only when the command runs
    from gate.store.runs_query import RunFilter, checkpoint_scores
    from gate.store.tracking import Store

    if output is not None:
        check_output(output, overwrite=overwrite)
    if until is not None and until.time() == datetime.min.time():
        until += timedelta(days=1)  # a date means the whole of that day
    utc = {k: v.replace(tzinfo=UTC) if v else None for k, v in (("since", since), ("until", until))}
    flt = RunFilter(experiment=experiment, suites=suites, **utc)
    report = compute(checkpoint_scores(Store(tracking_uri), flt), flt.describe())
    for w in report.warnings:
        click.echo(f"gate: warning: {w}", err=True)
    text = render_correlation(report, fmt)
    if output is not None:
        write_output(output, text, overwrite=overwrite)
    else:
        click.echo(text, nl=False)
