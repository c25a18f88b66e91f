"""`gate judge ...`: the LLM judges (rubric and pairwise) and their calibration against human labels."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gate.cli import cli
from gate.errors import EXIT_GATE_FAILED, ConfigError

JUDGE_MODEL_HELP = "hf:PATH, or local-chat-completions:model=NAME,base_url=URL."


@cli.group()
def judge() -> None:
    """The LLM judges: a rubric judge for domain cases that rules cannot score, and a pairwise judge of the
    candidate's answers against the baseline's."""


@judge.command("calibrate")
@click.option(
    "--labels",
    required=True,
    type=click.Path(path_type=Path),
    help="Human-labelled JSONL: id, input, response, human_pass (with --pairwise: id, input, answer_1, answer_2, "
    "human_winner).",
)
@click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="Rubric YAML the judge grades with (required without --pairwise; with it, the built-in default if omitted).",
)
@click.option("--pairwise", is_flag=True, help="Calibrate the pairwise judge: labels 1, 2 or tie.")
@click.option("--judge-model", help=JUDGE_MODEL_HELP)
@click.option(
    "--replies",
    type=click.Path(path_type=Path),
    help="Saved judge replies (JSONL id, reply; with --pairwise also reply_swapped) instead of a model.",
)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=256, show_default=True, help="Judge reply length cap."
)
@click.option("--min-kappa", type=float, help="Exit 1 when Cohen's kappa is below this (or undefined).")
def calibrate_cmd(
    labels: Path,
    rubric: Path | None,
    pairwise: bool,
    judge_model: str | None,
    replies: Path | None,
    max_tokens: int,
    min_kappa: float | None,
) -> None:
    """Agreement of the judge with human labels: accuracy and Cohen's kappa (JSON on stdout).

    A reply that breaks the judge schema counts as "fail" (pairwise: matches no human label), never as "pass".

    \b
    Example:
      gate judge calibrate --labels suites/domain/support_policy/judge_labels.jsonl \\
          --rubric suites/domain/support_policy/rubrics/support_quality.yaml \\
          --judge-model hf:./models/judge --min-kappa 0.6
      gate judge calibrate --pairwise --labels pairwise_labels.jsonl --judge-model hf:./models/judge
    """
    from gate.domain.calibration import calibrate_judge, calibrate_pairwise_judge

    if pairwise:
        report = calibrate_pairwise_judge(
            labels, rubric, judge_model=judge_model, replies=replies, max_tokens=max_tokens
        )
        info, result = report.info, report.result
    else:
        if rubric is None:
            raise ConfigError("judge calibrate: --rubric is required (the rubric judge's labels are pass/fail)")
        report = calibrate_judge(labels, rubric, judge_model=judge_model, replies=replies, max_tokens=max_tokens)
        info, result = report.run.info, report.result
    kappa = "undefined" if result.kappa is None else f"{result.kappa:.3f}"
    click.echo(
        f"judge {info.model} on {result.n} labelled {'pairs' if pairwise else 'cases'}: accuracy "
        f"{result.accuracy:.3f}, Cohen's kappa {kappa}, {result.n_invalid} judge failure(s)",
        err=True,
    )
    click.echo(json.dumps(report.as_dict(), indent=1))
    if report.below(min_kappa):
        click.echo(f"gate: judge agreement below --min-kappa {min_kappa}", err=True)
        raise click.exceptions.Exit(EXIT_GATE_FAILED)


@judge.command("pairwise")
@click.option("--candidate", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Candidate record.")
@click.option("--baseline", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Baseline record.")
@click.option("--judge-model", required=True, help=JUDGE_MODEL_HELP)
@click.option(
    "--rubric", type=click.Path(path_type=Path), help="Rubric YAML (its task and criteria) instead of the default."
)
@click.option(
    "--task", "tasks", multiple=True, help="A generation task to judge (repeatable); default: every one in both."
)
@click.option("--alpha", type=click.FloatRange(0, 0.5, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=128, show_default=True, help="Judge reply length cap."
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Result JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
def pairwise_cmd(
    candidate: Path,
    baseline: Path,
    judge_model: str,
    rubric: Path | None,
    tasks: tuple[str, ...],
    alpha: float,
    max_tokens: int,
    output: Path,
    overwrite: bool,
) -> None:
    """Judge the candidate's generated answers against the baseline's, prompt by prompt.

    Blinded (Answer 1, Answer 2) and in both orders: a preference counts only when it survives the
    swap, else the pair is a tie; a reply that breaks the reply schema in either order is a judge failure,
    counted as a loss. Writes the win rate ((wins + ties/2) / n, Wilson interval), every item and the judge's
    identity for `gate diff --pairwise`. Exit 2 for records without whole texts or with no common items.

    \b
    Example:
      gate judge pairwise --candidate out/candidate.json --baseline out/baseline.json \\
          --judge-model hf:./models/judge --task gsm8k --output out/pairwise.json
      gate diff out/candidate.json --baseline-record out/baseline.json --pairwise out/pairwise.json
    """
    from gate import pairwise as results
    from gate.domain.pairwise import pairwise_from_files
    from gate.files import check_output

    check_output(output, overwrite=overwrite)
    r = pairwise_from_files(
        candidate, baseline, judge_model, rubric=rubric, tasks=tasks, alpha=alpha, max_tokens=max_tokens
    )
    results.save(r, output, overwrite=overwrite)
    click.echo(
        f"pairwise judge {r.judge.model} on {len(r.items)} prompts of {', '.join(r.tasks)}: win rate "
        f"{r.win_rate:.1%} ({1 - alpha:.0%} CI {r.ci_low:.1%} to {r.ci_high:.1%}); {r.count(results.WIN)} won, "
        f"{r.count(results.TIE)} tied, {r.count(results.LOSS)} lost, {r.count(results.JUDGE_FAILURE)} judge "
        f"failure(s); wrote {output}",
        err=True,
    )
