"""`gate judge ...`: the LLM judge's calibration against human labels."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gate.cli import cli
from gate.domain.calibration import calibrate_judge
from gate.errors import EXIT_GATE_FAILED


@cli.group()
def judge() -> None:
    """The LLM judge for domain cases that rules cannot score."""


@judge.command("calibrate")
@click.option(
    "--labels",
    required=True,
    type=click.Path(path_type=Path),
    help="Human-labelled JSONL: id, input, response, human_pass.",
)
@click.option("--rubric", required=True, type=click.Path(path_type=Path), help="Rubric YAML the judge grades with.")
@click.option("--judge-model", help="hf:PATH, or local-chat-completions:model=NAME,base_url=URL.")
@click.option(
    "--replies", type=click.Path(path_type=Path), help="Saved judge replies (JSONL id, reply) instead of a model."
)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=256, show_default=True, help="Judge reply length cap."
)
@click.option("--min-kappa", type=float, help="Exit 1 when Cohen's kappa is below this (or undefined).")
def calibrate_cmd(
    labels: Path, rubric: Path, judge_model: str | None, replies: Path | None, max_tokens: int, min_kappa: float | None
) -> None:
    """Agreement of the judge with human labels: accuracy and Cohen's kappa (JSON on stdout).

    A reply that breaks the judge schema counts as "fail", never as "pass".

    \b
    Example:
      gate judge calibrate --labels suites/domain/support_policy/judge_labels.jsonl \\
          --rubric suites/domain/support_policy/rubrics/support_quality.yaml \\
          --judge-model hf:./models/judge --min-kappa 0.6
    """
    report = calibrate_judge(labels, rubric, judge_model=judge_model, replies=replies, max_tokens=max_tokens)
    result = report.result
    kappa = "undefined" if result.kappa is None else f"{result.kappa:.3f}"
    click.echo(
        f"judge {report.run.info.model} on {result.n} labelled cases: accuracy {result.accuracy:.3f}, "
        f"Cohen's kappa {kappa}, {result.n_invalid} judge failure(s)",
        err=True,
    )
    click.echo(json.dumps(report.as_dict(), indent=1))
    if report.below(min_kappa):
        click.echo(f"gate: judge agreement below --min-kappa {min_kappa}", err=True)
        raise click.exceptions.Exit(EXIT_GATE_FAILED)
