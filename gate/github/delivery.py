"""Put one verdict everywhere a reviewer looks: job summary, `model-gate` check, sticky PR comment.

The verdict (state, one-line description, report body) is computed before this point, once;
this module only renders and delivers it. The order matters: the job summary is written first
(it needs no network), then the check that branch protection waits for, then the comment.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from gate.errors import ConfigError, GateError
from gate.files import read_json
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
from gate.github.comment import (
    mlflow_compare_url as compare_url,
)
from gate.github.comment import (
    mlflow_run_url as run_url,
)
from gate.results import Comparison
from gate.schemas import non_finite, where

CheckKind = Literal["check-run", "status", "none"]


@dataclass(frozen=True)
class Report:
    body: str  # markdown from gate.report.comparison (or a stage table when there is no comparison)
    ctx: ReportContext
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class CheckVerdict:
    """What `gate comment` posts: the check's state, its one-line description, annotations, the baseline."""

    state: str  # success | failure | neutral
    description: str
    annotations: tuple[Annotation, ...]
    baseline_name: str | None
    baseline_run_id: str | None
    baseline_frozen_at: str | None
    candidate_run_id: str | None
    cause: str | None = None  # the main cause, short, for the comment's one-line heading


def read_comparison(path: Path) -> Comparison:
    """The comparison `gate diff --format json -o FILE` wrote."""
    data = read_json(path, "comparison", "write it with `gate diff ... --format json -o FILE`")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not the JSON of `gate diff --format json` (not an object)")
    for key_path, value in non_finite(data):  # `gate diff` never writes NaN or Infinity
        raise ConfigError(f"{path}: {where(data, key_path)}: {value} is not a finite number")
    return Comparison.from_dict(data, str(path))


def check_verdict(c: Comparison) -> CheckVerdict:
    """The check of a comparison: its state (`Comparison.state`), headline, and one annotation per blocking
    or regressed task, for forgetting and for a jagged task or contamination probe that blocks."""
    notes = [Annotation(f"model-gate: {t.name}", t.reason) for t in c.tasks if t.blocking or t.decision == "regressed"]
    if c.forgetting:
        notes.append(Annotation("model-gate: catastrophic forgetting", c.forgetting.message))
    notes += [Annotation("model-gate: jagged profile", j.message) for j in c.jagged if j.blocking]
    notes += [Annotation("model-gate: option order", p.message) for p in c.contamination if p.blocking]
    return CheckVerdict(
        state=c.state,
        description=c.headline,
        annotations=tuple(notes),
        baseline_name=c.baseline.name,
        baseline_run_id=c.baseline.run_id,
        baseline_frozen_at=c.baseline.frozen_at or None,
        candidate_run_id=c.candidate_run_id,
        cause=c.cause,
    )


def read_verdict(path: Path) -> CheckVerdict:
    """The check of the comparison in `path` (the JSON of `gate diff --format json`)."""
    return check_verdict(read_comparison(path))


def make_report(
    verdict: CheckVerdict,
    body: str,
    *,
    gate_name: str,
    where: ActionsContext,
    tracking_uri: str | None = None,
    mlflow_run_url: str | None = None,
    baseline_name: str | None = None,
    baseline_run_id: str | None = None,
    baseline_frozen_at: str | None = None,
    annotations: tuple[Annotation, ...] = (),
    now: datetime | None = None,
    pointer: str | None = None,
    pr_head_sha: str | None = None,
) -> Report:
    """The report to publish: the verdict, its body, and what surrounds it (links, baseline, age).

    Values given here override the comparison's; the MLflow link is built from the tracking URI only
    when that is an http(s) server, and never carries credentials (`mlflow_run_url`).
    """
    ctx = ReportContext(
        gate_name,
        verdict.state,
        verdict.description,
        baseline_name or verdict.baseline_name,
        baseline_run_id or verdict.baseline_run_id,
        baseline_frozen_at or verdict.baseline_frozen_at,
        mlflow_run_url or run_url(tracking_uri, verdict.candidate_run_id),
        where.workflow_run_url,
        where.head_sha,
        now=now or datetime.now(UTC),
        cause=verdict.cause,
        pointer=pointer,
        compare_url=compare_url(tracking_uri, [verdict.candidate_run_id, baseline_run_id or verdict.baseline_run_id]),
        pr_head_sha=pr_head_sha,
    )
    return Report(body, ctx, verdict.annotations + annotations)


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
        try:
            with where.step_summary.open("a", encoding="utf-8") as f:
                f.write(render_summary(report.body, report.ctx) + "\n")
        except OSError as e:
            raise ConfigError(
                f"GITHUB_STEP_SUMMARY {where.step_summary}: cannot be appended to ({e.strerror or type(e).__name__})"
            ) from None
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
            ctx = report.ctx
            # The marker is context: a PR head GitHub will not show never stops the comment.
            with contextlib.suppress(GateError):
                ctx = replace(ctx, pr_head_sha=client.pr_head(where.pr_number))
            text = render_comment(report.body, ctx)
            upserted = client.upsert_comment(where.pr_number, marker(report.ctx.gate_name), text)

    return Published(summary_path, posted, upserted, tuple(error_lines(report.annotations)), tuple(skipped))
