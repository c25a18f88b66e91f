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
        help="Output format; text goes to stderr, json and markdown to stdout.",
    )
