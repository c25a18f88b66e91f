"""Click options shared by several commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

# Why a record without a digest is refused under --require-digest (the message of `gate.record.load`).
REQUIRE_DIGEST = "--require-digest asks for a record as `gate run` wrote it (with its digest), unchanged"


def data_dir_option(f):
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("GATE_DATA_DIR"),
        help="Read datasets from DIR/<hub id>/<config>/<split>.jsonl instead of the hub (air-gapped runs). "
        "Env: GATE_DATA_DIR.",
    )(f)


def format_option(*choices: str):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format (the report goes to stdout; progress and the last line to stderr).",
    )


def comparison_options(f):
    """What `gate diff` and `gate report` compare RECORD with, and how they read it."""
    options = [
        click.option("--baseline", "baseline_name", metavar="NAME", help="Name of a frozen baseline in MLflow."),
        click.option(
            "--baseline-record",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Compare with this record file instead of an MLflow baseline.",
        ),
        click.option(
            "--thresholds",
            "thresholds_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Allowed drops (max_drop) and policy [default: every task gated, no significant drop allowed].",
        ),
        click.option(
            "--require-digest/--no-require-digest",
            default=None,
            help="Refuse a record without a digest (written by `gate run`). Default: required for an MLflow "
            "baseline, checked where present for record files.",
        ),
        click.option(
            "--tracking-uri",
            envvar="MLFLOW_TRACKING_URI",
            help="MLflow tracking URI [env MLFLOW_TRACKING_URI; default sqlite:///./mlflow.db].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f
