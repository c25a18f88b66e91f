"""`gate report`: one self-contained HTML file of a diff, with every paired item side by side."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli import cli, console
from gate.cli.diff import load_pair, one_baseline, read_trends
from gate.cli.options import comparison_options
from gate.files import check_output, write_output


@cli.command()
@click.argument("record_file", metavar="RECORD", type=click.Path(dir_okay=False, path_type=Path))
@comparison_options
@click.option(
    "--trend",
    type=click.IntRange(min=2, max=50),
    help="Chart each task over the last N freezes of the --baseline name (read from MLflow).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The HTML file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.pass_context
def report(
    ctx: click.Context,
    record_file: Path,
    baseline_name: str | None,
    baseline_record: Path | None,
    thresholds_file: Path | None,
    trend: int | None,
    output: Path,
    overwrite: bool,
    require_digest: bool | None,
    tracking_uri: str | None,
) -> None:
    """Write the diff of RECORD against a baseline as one HTML file that fetches nothing: the verdict, each
    task's interval as an error bar, every paired item (prompt, both answers, filters), the setup of both runs.

    Exits with the diff's code (0 passed, 1 blocked), so a CI step can write the report and gate on it.

    Example: gate report out/candidate.json --baseline main --thresholds thresholds/default.yaml -o report.html
    """
    one_baseline(baseline_name, baseline_record, trend)
    from gate.decide.compare import compare  # numpy/scipy: only when a report is written
    from gate.report.html import render_html

    check_output(output, overwrite=overwrite)
    candidate, thresholds, base, ref = load_pair(
        record_file, thresholds_file, baseline_name, baseline_record, require_digest, tracking_uri
    )
    result = compare(candidate, base, thresholds, ref)
    trends = read_trends(trend, baseline_name, candidate, tracking_uri)
    write_output(output, render_html(result, candidate, base, trends), overwrite=overwrite)
    console.progress(f"wrote {output}")
    console.finish(result.state, result.headline)
    ctx.exit(result.exit_code)
