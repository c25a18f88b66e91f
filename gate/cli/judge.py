"""`gate judge ...`: the LLM judge's calibration against human labels."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from gate.cli import cli
from gate.domain.judge import JudgeRun, calibrate, judge_info, load_labels, load_rubric, parse_reply, run_judge
from gate.errors import EXIT_GATE_FAILED, ConfigError


@cli.group()
def judge() -> None:
    """The LLM judge for domain cases that rules cannot score."""


def _replies_from_file(path: Path, ids: list[str]) -> list[str]:
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise ConfigError(f"{path}: replies file not found") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON Lines ({e.msg} at line {e.lineno})") from None
    by_id = {str(r.get("id")): r.get("reply") for r in rows}
    missing = [i for i in ids if not isinstance(by_id.get(i), str)]
    if missing:
        raise ConfigError(f"{path}: no string 'reply' for case(s) {', '.join(missing[:5])}; one {{id, reply}} a line")
    return [by_id[i] for i in ids]


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
    if (judge_model is None) == (replies is None):
        raise ConfigError("judge calibrate: give exactly one of --judge-model or --replies")
    rb = load_rubric(rubric)
    cases = load_labels(labels)
    if replies is not None:
        verdicts = tuple(parse_reply(r, rb) for r in _replies_from_file(replies, [c.case.case_id for c in cases]))
        run = JudgeRun(verdicts, judge_info(f"replies:{replies}", rb, verdicts))
    else:
        from gate.domain.judge_model import load_judge

        run = run_judge(load_judge(judge_model, max_gen_toks=max_tokens), rb, [c.case for c in cases])
    result = calibrate([c.human_pass for c in cases], run.verdicts)
    kappa = "undefined" if result.kappa is None else f"{result.kappa:.3f}"
    click.echo(
        f"judge {run.info.model} on {result.n} labelled cases: accuracy {result.accuracy:.3f}, "
        f"Cohen's kappa {kappa}, {result.n_invalid} judge failure(s)",
        err=True,
    )
    out = {
        "calibration": asdict(result),
        "judge": asdict(run.info),
        "cases": [
            {"id": c.case.case_id, "human_pass": c.human_pass, **asdict(v)}
            for c, v in zip(cases, run.verdicts, strict=True)
        ],
    }
    click.echo(json.dumps(out, indent=1))
    if min_kappa is not None and (result.kappa is None or result.kappa < min_kappa):
        click.echo(f"gate: judge agreement below --min-kappa {min_kappa}", err=True)
        raise click.exceptions.Exit(EXIT_GATE_FAILED)
