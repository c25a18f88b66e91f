"""The text the gate puts on GitHub: the sticky PR comment, the job summary, `::error` lines.

Pure: strings in, strings out; nothing here talks to GitHub. The report body (verdict line,
per-task table, forgetting flag, flipped items) comes from `gate.report.comparison`; this module wraps it
with the hidden marker that finds the comment again, a verdict header, the baseline's name and
age, links to the MLflow run and the workflow run, and truncates it under GitHub's limits with a
note a reviewer can see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from gate.errors import ConfigError
from gate.text import clip

COMMENT_LIMIT = 65_536  # characters in an issue comment body (GitHub answers 422 beyond)
CHECK_TEXT_LIMIT = 65_535  # characters in a check run's output.summary
SUMMARY_LIMIT = 1_000_000  # bytes; GitHub refuses a step summary over 1 MiB
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step
MARKER_PREFIX = "<!-- checkpoint-gate:"
NAME_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
VERDICT = {"success": ("✅", "passed"), "failure": ("❌", "blocked"), "neutral": ("⚪", "inconclusive")}
BROKE = ("💥", "gate broke")  # a failure check for a gate that could not decide (exit 2 or 3), not a regression


@dataclass(frozen=True)
class ReportContext:
    """Everything around the report body: which gate, what verdict, against what, where to look."""

    gate_name: str
    state: str  # success | failure | neutral
    description: str  # one line, e.g. "mmlu regressed by 2.1 points (p=0.003)"
    baseline_name: str | None = None
    baseline_run_id: str | None = None
    baseline_frozen_at: str | None = None  # ISO 8601
    mlflow_run_url: str | None = None
    workflow_run_url: str | None = None
    head_sha: str | None = None
    now: datetime | None = None  # for the baseline's age; the caller's clock
    broke: bool = False  # a failure because the gate could not decide (exit 2/3), said as "gate broke"

    def __post_init__(self) -> None:
        if not NAME_RE.fullmatch(self.gate_name) or "--" in self.gate_name:
            raise ConfigError(
                f"gate name {self.gate_name!r}: use letters, digits, '.', '_' and single '-', e.g. --name fast"
            )
        if self.state not in VERDICT:
            raise ConfigError(f"state {self.state!r}: expected one of {', '.join(VERDICT)}")


@dataclass(frozen=True)
class Annotation:
    title: str
    message: str


def parse_annotation(text: str) -> Annotation:
    """An annotation given on the command line as 'TASK: message'."""
    title, sep, message = text.partition(":")
    if not sep or not message.strip():
        raise ConfigError(f"--error {text!r}: expected 'TASK: message', e.g. --error 'mmlu: dropped 2.1 points'")
    return Annotation(f"model-gate: {title.strip()}", message.strip())


def marker(gate_name: str) -> str:
    """The hidden first line that identifies this gate's comment: `<!-- checkpoint-gate:NAME -->`."""
    return f"{MARKER_PREFIX}{gate_name} -->"


def format_age(frozen_at: str, now: datetime) -> str:
    """`3 days ago`, from an ISO 8601 timestamp (naive ones are taken as UTC)."""
    try:
        then = datetime.fromisoformat(frozen_at.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"baseline frozen_at {frozen_at!r}: not an ISO 8601 timestamp") from None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # pragma: no cover - the loop always returns


def mlflow_run_url(tracking_uri: str | None, run_id: str | None) -> str | None:
    """The MLflow UI page of a run, where the tracking URI is an http(s) server; never with credentials."""
    if not tracking_uri or not run_id:
        return None
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}/#/runs/{run_id}"


def header(ctx: ReportContext) -> str:
    icon, word = BROKE if ctx.broke else VERDICT[ctx.state]
    return f"### {icon} model-gate `{ctx.gate_name}`: {word} — {clip(ctx.description, 300, one_line=True)}"


def footer(ctx: ReportContext) -> str:
    parts = []
    if ctx.baseline_name:
        b = f"Baseline **{ctx.baseline_name}**"
        if ctx.baseline_run_id:
            b += f" (run `{ctx.baseline_run_id}`)"
        if ctx.baseline_frozen_at and ctx.now:
            b += f", frozen {format_age(ctx.baseline_frozen_at, ctx.now)} ({ctx.baseline_frozen_at[:10]})"
        parts.append(b)
    if ctx.mlflow_run_url:
        parts.append(f"[MLflow run]({ctx.mlflow_run_url})")
    if ctx.workflow_run_url:
        parts.append(f"[workflow run]({ctx.workflow_run_url})")
    if ctx.head_sha:
        parts.append(f"commit `{ctx.head_sha[:7]}`")
    return "<sub>" + " · ".join(parts) + "</sub>" if parts else ""


def _utf8_len(text: str) -> int:
    return len(text.encode())


def truncate(body: str, room: int, *, measure=len, where: str = "") -> str:
    """Cut `body` at a line boundary so it measures at most `room`, with a visible note.

    Open `<details>` blocks and code fences are closed so the rest of the page still renders.
    """
    if measure(body) <= room:
        return body
    total = measure(body)
    note_tail = f" The full report is in {where}." if where else ""

    def note(shown: int) -> str:
        return (
            f"\n> [!WARNING]\n> **Report truncated** to fit GitHub's size limit: showing {shown:,} of {total:,} "
            f"characters.{note_tail}\n"
        )

    reserve = measure(note(total)) + measure("\n```\n") + measure("\n</details>\n") * 8
    kept: list[str] = []
    size = 0
    for line in body.splitlines(keepends=True):
        if size + measure(line) > room - reserve:
            break
        kept.append(line)
        size += measure(line)
    text = "".join(kept)
    if not kept:  # one huge first line: cut inside it
        cut = body[: max(0, room - reserve)]
        while cut and measure(cut) > room - reserve:
            cut = cut[: -max(1, (measure(cut) - (room - reserve)))]
        text, size = cut, measure(cut)
    closing = ""
    if sum(1 for ln in kept if ln.lstrip().startswith("```")) % 2:
        closing += "\n```\n"
    open_details = text.count("<details") - text.count("</details>")
    closing += "\n</details>\n" * max(0, min(open_details, 8))
    return text + closing + note(size)


def _assemble(ctx: ReportContext, body: str, *, lead: str, limit: int, measure, where: str) -> str:
    # A body from `gate diff --format markdown` opens with its own verdict heading (same verdict,
    # computed once); then ours would only repeat it.
    top = lead if body.lstrip().startswith("#") else f"{lead}{header(ctx)}\n\n"
    bottom = f"\n\n---\n{footer(ctx)}\n" if footer(ctx) else "\n"
    room = limit - measure(top) - measure(bottom)
    return top + truncate(body.strip("\n"), room, measure=measure, where=where) + bottom


def render_comment(body: str, ctx: ReportContext, *, limit: int = COMMENT_LIMIT) -> str:
    """The PR comment: marker, verdict header, report body, baseline and links; under `limit`."""
    where = f"the job summary and the `gate-report` artifact of the [workflow run]({ctx.workflow_run_url})"
    return _assemble(
        ctx,
        body,
        lead=marker(ctx.gate_name) + "\n",
        limit=limit,
        measure=len,
        where=where if ctx.workflow_run_url else "the `gate-report` artifact",
    )


def render_summary(body: str, ctx: ReportContext, *, limit: int = SUMMARY_LIMIT) -> str:
    """The `$GITHUB_STEP_SUMMARY` text: the same report, without the marker, under 1 MiB."""
    return _assemble(ctx, body, lead="", limit=limit, measure=_utf8_len, where="the `gate-report` artifact")


def render_check_summary(body: str, ctx: ReportContext) -> str:
    """The check run's `output.summary`: the report under 65,535 characters."""
    return _assemble(ctx, body, lead="", limit=CHECK_TEXT_LIMIT, measure=len, where="the `gate-report` artifact")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error_lines(annotations: Sequence[Annotation]) -> list[str]:
    """`::error title=...::message` workflow commands, at most 10 (GitHub drops the rest).

    When there are more than 10, the tenth line says how many more are in the summary.
    """
    items = list(annotations)
    if len(items) > MAX_ANNOTATIONS:
        rest = len(items) - (MAX_ANNOTATIONS - 1)
        items = items[: MAX_ANNOTATIONS - 1] + [
            Annotation("model-gate", f"and {rest} more regressed tasks; see the job summary")
        ]
    return [f"::error title={_escape_property(a.title)}::{_escape_data(a.message)}" for a in items]
