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
from urllib.parse import quote, urlsplit

from gate.errors import ConfigError
from gate.report.markdown import split_report
from gate.results import STATE_ICONS, STATE_WORDS
from gate.text import clip

COMMENT_LIMIT = 65_536  # characters in an issue comment body (GitHub answers 422 beyond)
CHECK_TEXT_LIMIT = 65_535  # characters in a check run's output.summary
SUMMARY_LIMIT = 1_000_000  # bytes; GitHub refuses a step summary over 1 MiB
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step
MARKER_PREFIX = "<!-- checkpoint-gate:"
NAME_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
VERDICT = {state: (STATE_ICONS[state], word) for state, word in STATE_WORDS.items()}
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
    cause: str | None = None  # the main cause, short, for the one-line heading (else the report's, or description)
    pointer: str | None = None  # the checkpoint pointer gated, e.g. checkpoints/sft-v3.yaml
    compare_url: str | None = None  # the MLflow UI comparing the candidate's run with the baseline's
    pr_head_sha: str | None = None  # the PR's head now; differs from head_sha when newer commits were pushed

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


def mlflow_compare_url(tracking_uri: str | None, run_ids: Sequence[str | None]) -> str | None:
    """The MLflow UI page comparing runs (candidate first), where the tracking URI is an http(s) server."""
    ids = [r for r in run_ids if r]
    first = mlflow_run_url(tracking_uri, ids[0]) if len(ids) >= 2 else None
    if first is None:
        return None
    runs = quote("[" + ",".join(f'"{r}"' for r in ids) + "]", safe="[],")
    return first.split("/#/runs/")[0] + f"/#/compare-runs?runs={runs}"


HEADING_CHARS = 140  # longer wraps in GitHub's 820 px comment column


def header(ctx: ReportContext, report_heading: str | None = None) -> str:
    """One line: state, gate, and the main cause (the context's, the report heading's, or the description)."""
    icon, word = BROKE if ctx.broke else VERDICT[ctx.state]
    cause = ctx.cause
    if cause is None and report_heading and " — " in report_heading and not ctx.broke:
        cause = report_heading.split(" — ", 1)[1]
    cause = clip(cause or ctx.description, HEADING_CHARS, one_line=True)
    # The check is called model-gate; a gate with another name says which.
    name = "model-gate" if ctx.gate_name == "model-gate" else f"model-gate `{ctx.gate_name}`"
    return f"### {icon} {name}: {word} — {cause}"


def context(ctx: ReportContext, report_context: str | None = None) -> str:
    """The line under the heading: which pointer and commit, the report's own context (baseline, items,
    duration, hardware) with the baseline's age, and the links; a marker first when the PR moved on."""
    parts = []
    if ctx.head_sha and ctx.pr_head_sha and ctx.pr_head_sha != ctx.head_sha:
        parts.append(f"⚠️ **describes `{ctx.head_sha[:7]}`; the PR head is now `{ctx.pr_head_sha[:7]}`**")
    what = f"**{ctx.pointer}**" if ctx.pointer else ""
    if ctx.head_sha:
        what += (" @ " if what else "commit ") + f"`{ctx.head_sha[:7]}`"
    if what:
        parts.append(what)
    age = None
    if ctx.baseline_frozen_at and ctx.now:
        age = format_age(ctx.baseline_frozen_at, ctx.now)
    if report_context:
        if age and ctx.baseline_frozen_at:
            report_context = report_context.replace(f"frozen {ctx.baseline_frozen_at[:10]}", f"frozen {age}", 1)
        parts.append(report_context)
    elif ctx.baseline_name:
        b = f"baseline **{ctx.baseline_name}**"
        if ctx.baseline_run_id:
            b += f" (run `{ctx.baseline_run_id}`" + (f", frozen {age})" if age else ")")
        elif age:
            b += f", frozen {age}"
        parts.append(b)
    for label, url in (
        ("MLflow run", ctx.mlflow_run_url),
        ("compare with baseline", ctx.compare_url),
        ("workflow run", ctx.workflow_run_url),
    ):
        if url:
            parts.append(f"[{label}]({url})")
    return " · ".join(parts)


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
    # A body from `gate diff --format markdown` opens with its own heading and context line (same
    # verdict, computed once): ours replace them, naming the gate and adding the commit and links.
    heading, report_context, rest = split_report(body)
    line = context(ctx, report_context)
    top = f"{lead}{header(ctx, heading)}\n\n" + (f"{line}\n\n" if line else "")
    room = limit - measure(top) - measure("\n")
    return top + truncate(rest.strip("\n"), room, measure=measure, where=where) + "\n"


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
