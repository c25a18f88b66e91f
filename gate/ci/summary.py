"""One check and one comment for every stage of a workflow run, from each stage's result.

Pure and light (no numpy, MLflow or model code): the publish job runs it with only PyGithub, click,
pyyaml and jsonschema installed. A stage's result travels between jobs as a job output
(`StageResult.encode`), so the verdict never depends on artifacts.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from gate.ci.changes import Pick
from gate.errors import EXIT_CONFIG, EXIT_GATE_FAILED, EXIT_INFRA, EXIT_PASS, ConfigError
from gate.github.comment import format_age
from gate.report.markdown import UNDERPOWERED, table_head
from gate.text import clip

OUTCOMES = ("passed", "inconclusive", "blocked", "broke", "not run")
STATE = {"passed": "success", "inconclusive": "neutral", "blocked": "failure", "broke": "failure"}
ICON = {"passed": "✅", "inconclusive": "⚪", "blocked": "❌", "broke": "💥", "not run": "⏭️"}
WORD = {"passed": "passed", "inconclusive": "inconclusive", "blocked": "blocked", "broke": "gate broke"}


@dataclass(frozen=True)
class StageResult:
    """What one stage (fast, full) found: its outcome, one line why, its report, its MLflow run."""

    stage: str
    outcome: str  # passed | inconclusive | blocked | broke | not run
    exit_code: int
    headline: str
    body: str = ""  # markdown: the floors and the baseline diff of this stage
    run_id: str | None = None
    baseline_name: str | None = None
    baseline_run_id: str | None = None
    baseline_frozen_at: str | None = None
    annotations: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    cause: str = ""  # the main cause, short (Comparison.cause, or the floors that failed)
    context: str = ""  # the diff's context line: model, run, baseline, items, duration, hardware
    rows: tuple[tuple[bool, str], ...] = ()  # (blocks, markdown row) of the one table all stages share

    @property
    def passing(self) -> bool:
        """Whether the next stage runs: this one neither blocked nor broke."""
        return self.outcome in ("passed", "inconclusive")

    def encode(self) -> str:
        """One line for $GITHUB_OUTPUT: zlib-compressed JSON in base64 (job outputs hold up to 1 MB)."""
        return base64.b64encode(zlib.compress(json.dumps(asdict(self)).encode(), 9)).decode()

    @classmethod
    def decode(cls, text: str, source: str = "stage result") -> StageResult:
        try:
            data = json.loads(zlib.decompress(base64.b64decode(text.strip(), validate=True)))
            data["annotations"] = tuple(tuple(a) for a in data.get("annotations", ()))
            data["rows"] = tuple((bool(b), str(r)) for b, r in data.get("rows", ()))
            result = cls(**data)
        except (binascii.Error, zlib.error, json.JSONDecodeError, TypeError, ValueError) as e:
            raise ConfigError(f"{source}: not the output of `gate ci stage` ({e})") from None
        if result.outcome not in OUTCOMES:
            raise ConfigError(f"{source}: outcome {result.outcome!r}: expected one of {', '.join(OUTCOMES)}")
        return result

    def github_output(self) -> str:
        fields = {"outcome": self.outcome, "state": STATE.get(self.outcome, "failure")}
        fields |= {"passing": str(self.passing).lower(), "exit_code": str(self.exit_code)}
        fields |= {"run_id": self.run_id or "", "result": self.encode()}
        return "".join(f"{k}={v}\n" for k, v in fields.items())


@dataclass(frozen=True)
class StageJob:
    """A stage as the publish job sees it: the job's result (success, failure, skipped, cancelled) and
    its `result` output, empty when the job never got that far."""

    stage: str
    job_result: str
    output: str = ""


@dataclass(frozen=True)
class Summary:
    outcome: str  # passed | inconclusive | blocked | broke
    description: str
    body: str
    stages: tuple[StageResult, ...]
    annotations: tuple[tuple[str, str], ...]
    cause: str | None = None  # short, for the one-line heading

    @property
    def state(self) -> str:
        return STATE[self.outcome]

    @property
    def word(self) -> str:
        return WORD[self.outcome]

    @property
    def exit_code(self) -> int:
        if self.outcome == "broke":
            codes = [s.exit_code for s in self.stages if s.outcome == "broke" and s.exit_code in (2, 3)]
            return codes[0] if codes else EXIT_INFRA
        return EXIT_GATE_FAILED if self.outcome == "blocked" else EXIT_PASS

    @property
    def baseline(self) -> StageResult | None:
        """The first stage that names its baseline (for the comment's footer)."""
        return next((s for s in self.stages if s.baseline_name), None)


def resolve_stage(job: StageJob, previous: StageResult | None) -> StageResult:
    """The stage's own result, or why it has none: not run after an earlier stage stopped, or broken."""
    if job.output.strip():
        return StageResult.decode(job.output, f"the {job.stage} stage's result")
    if previous is not None and not previous.passing:
        why = "the gate broke" if previous.outcome == "broke" else previous.outcome
        return StageResult(job.stage, "not run", 0, f"not run: the {previous.stage} stage {why}")
    if job.job_result == "cancelled":
        return StageResult(job.stage, "broke", EXIT_INFRA, "cancelled (a timeout, or cancelled by hand)")
    if job.job_result == "skipped":
        return StageResult(job.stage, "broke", EXIT_INFRA, "skipped although the gate had a pointer to run")
    return StageResult(
        job.stage, "broke", EXIT_INFRA, f"the job ended '{job.job_result or 'unknown'}' before reporting a result"
    )


def _cells(row: str) -> int:
    return row.replace("\\|", "").strip().strip("|").count("|") + 1


def _overall(stages: list[StageResult]) -> str:
    outcomes = {s.outcome for s in stages}
    for o in ("broke", "blocked", "inconclusive"):
        if o in outcomes:
            return o
    return "passed"


def _age_warning(s: StageResult, now: datetime, max_age_days: float | None) -> str | None:
    if not s.baseline_frozen_at or max_age_days is None:
        return None
    try:
        then = datetime.fromisoformat(s.baseline_frozen_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    if (now - then).total_seconds() <= max_age_days * 86400:
        return None
    return (
        f"> ⚠️ Baseline **{s.baseline_name}** was frozen {format_age(s.baseline_frozen_at, now)}, older than the "
        f"{max_age_days:g}-day limit (`GATE_BASELINE_MAX_AGE_DAYS`): merge a checkpoint to promote a newer one, "
        f"or freeze one with `gate baseline freeze --run-id RUN --name {s.baseline_name} --replace`."
    )


def summarize(
    pick: Pick, jobs: list[StageJob], *, now: datetime | None = None, max_age_days: float | None = None
) -> Summary:
    """One outcome for the run: gate broke > blocked > inconclusive > passed, with one line per stage."""
    now = now or datetime.now(UTC)
    if not pick.run:
        outcome = "passed" if pick.state == "success" else "broke"
        desc = f"nothing to gate: {pick.reason}" if outcome == "passed" else pick.reason
        body = f"**{WORD[outcome]}**: {desc}\n"
        exit_stage = StageResult("changes", outcome, pick.exit_code if outcome == "broke" else 0, desc)
        return Summary(outcome, clip(desc, 140, one_line=True), body, (exit_stage,), ())
    stages: list[StageResult] = []
    for job in jobs:
        stages.append(resolve_stage(job, stages[-1] if stages else None))
    outcome = _overall(stages)
    stopping = [s for s in stages if s.outcome == outcome] if outcome != "passed" else []
    lines = "; ".join(f"{s.stage}: {s.headline}" for s in (stopping or stages))
    description = f"{WORD[outcome]}: {lines}"
    cause = "; ".join(f"{s.stage}: {s.cause or s.headline}" for s in (stopping or stages))
    cause = clip(cause, 140, one_line=True)
    stage_table = ["| stage | result | MLflow run | baseline | why |", "|---|---|---|---|---|"]
    for s in stages:
        base = f"{s.baseline_name} (`{s.baseline_run_id}`)" if s.baseline_name and s.baseline_run_id else "-"
        why = clip(s.headline, 300, one_line=True).replace("|", "\\|")
        stage_table.append(
            f"| {s.stage} | {ICON[s.outcome]} {WORD.get(s.outcome, s.outcome)} | {s.run_id or '-'} | {base} | {why} |"
        )
    icon = ICON[outcome]
    # The pointer and commit come from the comment's context (gate.github.comment.context); the stages say
    # what each measured against which baseline.
    context = " · ".join(f"{s.stage}: {s.context}" for s in stages if s.context)
    parts = [f"### {icon} {WORD[outcome]} — {cause}", ""] + ([context, ""] if context else [])
    rows = [r for s in stages for r in s.rows]
    if rows:  # one table for every stage, blocking rows first; a trend column when a stage has one
        trend = any(_cells(r) == 6 for _, r in rows)
        rows = [(b, r + "  |" if trend and _cells(r) == 5 else r) for b, r in rows]
        parts += [*table_head(True, trend), *[r for b, r in rows if b], *[r for b, r in rows if not b], ""]
        if any(f" {UNDERPOWERED} |" in r for _, r in rows):
            parts += [
                f"<sub>{UNDERPOWERED} underpowered: the sample could miss a drop larger than the allowed one "
                "(see each stage's How sure).</sub>",
                "",
            ]
        parts += ["<details>", "<summary>Stages</summary>", "", *stage_table, "", "</details>", ""]
    else:
        parts += [*stage_table, ""]
    warnings = {w for s in stages if (w := _age_warning(s, now, max_age_days))}
    parts += [*sorted(warnings), ""] if warnings else []
    for s in stages:
        if s.body:
            parts += [
                f"<details{' open' if s.outcome != 'passed' and not s.rows else ''}>",
                f"<summary><b>{s.stage} stage</b>: {WORD.get(s.outcome, s.outcome)}</summary>",
                "",
                s.body.strip("\n"),
                "",
                "</details>",
                "",
            ]
    notes = tuple(a for s in stages for a in s.annotations)
    if outcome == "broke":
        notes = tuple((f"model-gate: {s.stage}", f"gate broke: {s.headline}") for s in stages if s.outcome == "broke")
    return Summary(outcome, clip(description, 1000, one_line=True), "\n".join(parts), tuple(stages), notes, cause)


__all__ = ["EXIT_CONFIG", "Pick", "StageJob", "StageResult", "Summary", "resolve_stage", "summarize"]
