"""`gate plan`: before a run, can its sample resolve each gated task's allowed drop?"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from gate import record as records
from gate.cli import cli
from gate.cli.options import data_dir_option, format_option
from gate.config import load_suite, load_thresholds
from gate.errors import ConfigError


@cli.command("plan")
@click.option(
    "--suite",
    "suite_paths",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Suite YAML (repeat for every suite the thresholds file covers).",
)
@click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("thresholds/default.yaml"),
    show_default=True,
)
@click.option("--sample", type=click.IntRange(min=1), default=None, help="Items per task the run will evaluate.")
@click.option("--baseline", "baseline_name", help="Frozen MLflow baseline: its items and outcomes inform the plan.")
@click.option("--baseline-record", type=click.Path(dir_okay=False, path_type=Path), help="A baseline record file.")
@click.option(
    "--discordance",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Share of items expected to change outcome between baseline and candidate [default 0.15].",
)
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI [env MLFLOW_TRACKING_URI].")
@data_dir_option
@format_option("text", "json")
def plan(
    suite_paths, thresholds_path, sample, baseline_name, baseline_record, discordance, tracking_uri, data_dir, fmt
):
    """Say, before the run, the smallest drop each gated task can detect and the items its allowance needs.

    Exit 0; 2 when a suite task has no rule and the file no defaults, when the thresholds name a task
    none of the suites runs, or when policy.require_power is set and an allowance cannot be resolved.

    \b
    Example:
      gate plan --suite suites/fast.yaml --suite suites/full.yaml --sample 500 --baseline main
    """
    from gate.decide.power import DEFAULT_DISCORDANCE
    from gate.run.plan import check_power, plan_run, unknown_rules

    if baseline_name and baseline_record:
        raise click.UsageError("give at most one of --baseline NAME or --baseline-record FILE")
    suites = [load_suite(p) for p in suite_paths]
    thresholds = load_thresholds(thresholds_path)
    unknown = unknown_rules(suites, thresholds)
    if unknown:
        raise ConfigError(
            f"{thresholds_path}: tasks: {', '.join(unknown)}: not in {', '.join(str(p) for p in suite_paths)}; "
            "fix the name, or give the suite that runs it with another --suite"
        )
    baseline = None
    if baseline_record is not None:
        baseline = records.load(baseline_record)
    elif baseline_name:
        from gate.store.tracking import Store  # MLflow only when a named baseline is asked for

        baseline = Store(tracking_uri).load_baseline(baseline_name).record
    result = plan_run(
        suites, thresholds, sample=sample, data_dir=data_dir, baseline=baseline,
        discordance=discordance or DEFAULT_DISCORDANCE,
    )  # fmt: skip
    if fmt == "json":
        data = {
            "alpha": result.alpha,
            "power": result.power,
            "tasks": [asdict(t) | {"resolvable": t.resolvable, "line": t.line()} for t in result.tasks],
        }
        click.echo(json.dumps(data, indent=1, default=str))
    else:
        for line in result.lines():
            click.echo(line)
        if result.unresolved:
            click.echo(
                f"gate: {len(result.unresolved)} of {len(result.tasks)} gated task(s) cannot resolve their allowance "
                "at this size: expect inconclusive there",
                err=True,
            )
    check_power(result, thresholds)
