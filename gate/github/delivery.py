"""Put one verdict everywhere a reviewer looks: job summary, `model-gate` check, sticky PR comment.

The verdict (state, one-line description, report body) is computed before this point, once;
this module only renders and delivers it. The order matters: the job summary is written first
(it needs no network), then the check that branch protection waits for, then the comment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gate.errors import ConfigError
from gate.github.actions import ActionsContext
from gate.github.client import CheckResult, CommentResult, GitHubClient
from gate.github.comment import (
    Annotation,
    ReportContext,
    error_lines,
    marker,
    render_check_summary,
    render_comment,
    render_summary,
)

CheckKind = Literal["check-run", "status", "none"]


@dataclass(frozen=True)
class Report:
    body: str  # markdown from gate.report.render
    ctx: ReportContext
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What `gate comment` needs from a comparison: read once from `gate diff --format json`."""

    state: str  # success | failure | neutral
    description: str
    annotations: tuple[Annotation, ...]
    baseline_name: str | None
    baseline_run_id: str | None
    baseline_frozen_at: str | None
    candidate_run_id: str | None


def read_verdict(path: Path) -> Verdict:
    """Read the JSON of `gate diff --format json`: failure when it blocks, neutral when a gated
    task is inconclusive without blocking, success otherwise; regressed tasks become annotations."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: comparison file not found; write it with `gate diff ... --format json -o FILE`"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    try:
        return _verdict(data)
    except (KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: not the JSON of `gate diff --format json` (missing or bad field {e})") from None


def _verdict(data: Mapping[str, Any]) -> Verdict:
    tasks = data["tasks"]
    notes = []
    for t in tasks:
        if t["blocking"] or t["decision"] == "regressed":
            notes.append(Annotation(f"model-gate: {t['name']}", str(t["reason"])))
    forgetting = data.get("forgetting")
    if forgetting:
        notes.append(Annotation("model-gate: catastrophic forgetting", str(forgetting["message"])))
    if not data["passed"]:
        state = "failure"
    elif any(t["gated"] and t["decision"] in ("inconclusive", "not_comparable") for t in tasks):
        state = "neutral"
    else:
        state = "success"
    base = data.get("baseline") or {}
    return Verdict(
        state=state,
        description=str(data["headline"]),
        annotations=tuple(notes),
        baseline_name=base.get("name"),
        baseline_run_id=base.get("run_id"),
        baseline_frozen_at=base.get("frozen_at") or None,
        candidate_run_id=data.get("candidate_run_id"),
    )


@dataclass(frozen=True)
class Published:
    summary_path: Path | None
    check: CheckResult | None
    comment: CommentResult | None
    error_lines: tuple[str, ...]
    skipped: tuple[str, ...]  # what was not done, and why, one line each


def publish(
    report: Report,
    where: ActionsContext,
    client: GitHubClient | None,
    *,
    check: CheckKind = "check-run",
    check_name: str = "model-gate",
    comment: bool = True,
) -> Published:
    """Write the summary, post the check, upsert the comment. `client=None` only writes locally."""
    skipped: list[str] = []
    summary_path = None
    if where.step_summary is not None:
        with where.step_summary.open("a", encoding="utf-8") as f:
            f.write(render_summary(report.body, report.ctx) + "\n")
        summary_path = where.step_summary

    posted = None
    if check != "none":
        if client is None:
            skipped.append(f"{check} {check_name}: no GitHub client")
        elif where.head_sha is None:
            raise ConfigError(f"no commit to attach the {check} to: pass --sha, or run inside GitHub Actions")
        elif check == "check-run":
            posted = client.post_check_run(
                where.head_sha,
                name=check_name,
                conclusion=report.ctx.state,  # type: ignore[arg-type]
                title=report.ctx.description,
                summary=render_check_summary(report.body, report.ctx),
                details_url=report.ctx.workflow_run_url,
            )
        else:
            posted = client.post_status(
                where.head_sha,
                context=check_name,
                state=report.ctx.state,  # type: ignore[arg-type]
                description=report.ctx.description,
                target_url=report.ctx.workflow_run_url,
            )

    upserted = None
    if comment:
        if where.pr_number is None:
            skipped.append("PR comment: not a pull request (no PR number in the event or --pr)")
        elif client is None:
            skipped.append("PR comment: no GitHub client")
        else:
            text = render_comment(report.body, report.ctx)
            upserted = client.upsert_comment(where.pr_number, marker(report.ctx.gate_name), text)

    return Published(summary_path, posted, upserted, tuple(error_lines(report.annotations)), tuple(skipped))
