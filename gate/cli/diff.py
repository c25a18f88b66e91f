"""`gate diff`: a candidate record against a frozen baseline, item by item."""

from __future__ import annotations

from pathlib import Path

import click

from gate import pairwise as pairwise_results
from gate import record as records
from gate.cli import cli, console
from gate.cli.options import REQUIRE_DIGEST, comparison_options
from gate.config import load_thresholds
from gate.files import check_output, write_output
from gate.report.comparison import FORMATS, render_comparison


@cli.command()
@click.argument("record_file", metavar="RECORD", type=click.Path(dir_okay=False, path_type=Path))
@comparison_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--trend",
    type=click.IntRange(min=2, max=50),
    help="Markdown: a sparkline of each gated task over the last N freezes of the --baseline name (MLflow).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option(
    "--pairwise",
    "pairwise_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A `gate judge pairwise` result for these two records: adds the win rate (and thresholds' pairwise floor).",
)
@click.option(
    "--no-mlflow",
    is_flag=True,
    help="Do not log the verdict to the candidate's MLflow run (logged when the baseline is a named one and "
    "the record was logged by `gate run`).",
)
@click.pass_context
def diff(
    ctx: click.Context,
    record_file: Path,
    baseline_name: str | None,
    baseline_record: Path | None,
    thresholds_file: Path | None,
    fmt: str,
    trend: int | None,
    output: Path | None,
    overwrite: bool,
    pairwise_file: Path | None,
    require_digest: bool | None,
    tracking_uri: str | None,
    no_mlflow: bool,
) -> None:
    """Compare RECORD with a baseline: paired per-item deltas, intervals, power, flipped items.

    Exits 1 when a gated task regressed beyond its max_drop (or when policy blocks an
    inconclusive, not comparable or catastrophic-forgetting result), 0 otherwise; 2 for an
    unknown baseline or bad thresholds, 3 when MLflow is unreachable.

    Example: gate diff out/candidate.json --baseline main --thresholds thresholds/default.yaml --format markdown
    """
    one_baseline(baseline_name, baseline_record, trend)
    from gate.decide.compare import compare  # numpy/scipy: only when a diff runs

    if output is not None:
        check_output(output, overwrite=overwrite)
    # read before MLflow is asked for the baseline: a bad file fails first (its records are checked in compare)
    pairwise = pairwise_results.load(pairwise_file) if pairwise_file is not None else None
    candidate, thresholds, base, ref = load_pair(
        record_file, thresholds_file, baseline_name, baseline_record, require_digest, tracking_uri
    )
    result = compare(candidate, base, thresholds, ref, pairwise, str(pairwise_file))
    text = render_comparison(result, fmt, read_trends(trend, baseline_name, candidate, tracking_uri))
    if output is not None:
        write_output(output, text, overwrite=overwrite)
    else:
        click.echo(text, nl=False)
    if baseline_name is not None and candidate.mlflow_run_id and not no_mlflow:
        from gate.store.story import log_verdict

        warn = lambda m: click.echo(f"gate: warning: {m}", err=True)  # noqa: E731
        log_verdict(candidate.mlflow_run_id, result, warn, records=(candidate, base), tracking_uri=tracking_uri)
    console.finish(result.state, result.headline)
    ctx.exit(result.exit_code)


def one_baseline(baseline_name: str | None, baseline_record: Path | None, trend: int | None = None) -> None:
    if (baseline_name is None) == (baseline_record is None):
        raise click.UsageError("give exactly one of --baseline NAME or --baseline-record FILE")
    if trend is not None and baseline_name is None:
        raise click.UsageError("--trend reads the history of a --baseline NAME in MLflow; give --baseline")


def read_trends(trend: int | None, baseline_name: str | None, candidate: records.EvalRecord, tracking_uri: str | None):
    """Each of the candidate's tasks over the last `trend` freezes of the named baseline (None without --trend)."""
    if trend is None or baseline_name is None:
        return None
    from gate.store.tracking import Store
    from gate.store.trend import baseline_trend

    return baseline_trend(Store(tracking_uri), baseline_name, [(t.name, t.metric) for t in candidate.tasks], trend)


def load_pair(
    record_file: Path,
    thresholds_file: Path | None,
    baseline_name: str | None,
    baseline_record: Path | None,
    require_digest: bool | None,
    tracking_uri: str | None,
):
    """The candidate, the thresholds, the baseline record and its reference, read in that order (a bad
    record or thresholds file fails before MLflow is asked), as `gate diff` and `gate report` read them."""
    one_baseline(baseline_name, baseline_record)
    from gate.decide.compare import file_baseline_ref

    strict = {"require_digest": bool(require_digest), "why": REQUIRE_DIGEST}
    candidate = records.load(record_file, **strict)
    records.require_whole(candidate, str(record_file))
    thresholds = load_thresholds(thresholds_file) if thresholds_file else None
    if baseline_record is not None:
        base = records.load(baseline_record, **strict)
        records.require_whole(base, str(baseline_record))
        ref = file_baseline_ref(base, str(baseline_record))
    else:
        from gate.store.tracking import Store  # MLflow is imported only when a named baseline is asked for

        loaded = Store(tracking_uri).load_baseline(baseline_name, require_digest=require_digest is not False)  # type: ignore[arg-type]
        base, ref = loaded.record, loaded.ref
    if (warning := records.self_comparison(candidate, base)) is not None:
        click.echo(f"gate: warning: {warning}", err=True)
    return candidate, thresholds, base, ref
