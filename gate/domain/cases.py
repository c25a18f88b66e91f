"""Domain suites: per-category scores and the high-severity blocking rule.

`domain_summary` reads lm-eval's per-item samples of a domain task (the foreign format, read
here once) and returns what goes into `TaskResult.category_scores` and
`TaskResult.blocking_failures`; `gate.decide.floors.check` then blocks on any of them, whatever
the average says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gate.config import TaskSpec
from gate.domain.judge import Judge, JudgedSamples, judge_samples, load_rubric
from gate.errors import ConfigError, EvalFailed
from gate.record import TaskResult

BLOCKING_SEVERITIES = frozenset({"high"})
SEVERITIES = ("low", "medium", "high")
JUDGE_METRIC = "judge_pass"


@dataclass(frozen=True)
class CaseResult:
    """One domain case as scored: its id from the JSONL, category, severity and score."""

    doc_id: int
    case_id: str
    category: str | None
    severity: str | None
    score: float

    @property
    def passed(self) -> bool:
        return self.score >= 1.0


@dataclass(frozen=True)
class DomainSummary:
    """What a domain task adds to its TaskResult."""

    cases: tuple[CaseResult, ...]
    category_scores: dict[str, float]
    category_counts: dict[str, int]
    blocking_failures: tuple[str, ...]  # case ids of failed cases whose severity blocks


def read_cases(samples: Iterable[Mapping[str, Any]], metric: str, task: str = "domain task") -> tuple[CaseResult, ...]:
    """Turn lm-eval samples (`doc_id`, `doc`, and one key per metric) into CaseResults.

    A sample without the metric, or with a severity outside low|medium|high, means the task
    YAML and the data disagree: that is the gate failing to measure, not the model failing.
    """
    out = []
    for s in samples:
        doc = s.get("doc") or {}
        if metric not in s:
            raise EvalFailed(f"{task}: sample {s.get('doc_id')} has no metric {metric!r}; check the task's metric_list")
        severity = doc.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise EvalFailed(
                f"{task}: case {doc.get('id', s.get('doc_id'))}: severity {severity!r} "
                f"is not one of {', '.join(SEVERITIES)}"
            )
        doc_id = int(s["doc_id"])
        out.append(CaseResult(doc_id, str(doc.get("id", doc_id)), doc.get("category"), severity, float(s[metric])))
    return tuple(sorted(out, key=lambda c: c.doc_id))


def summarize(cases: Iterable[CaseResult]) -> DomainSummary:
    """Mean score per category, and the ids of failed cases whose severity blocks."""
    cases = tuple(cases)
    totals: dict[str, list[float]] = {}
    for c in cases:
        if c.category is not None:
            totals.setdefault(c.category, []).append(c.score)
    blocking = tuple(c.case_id for c in cases if c.severity in BLOCKING_SEVERITIES and not c.passed)
    return DomainSummary(
        cases=cases,
        category_scores={k: sum(v) / len(v) for k, v in sorted(totals.items())},
        category_counts={k: len(v) for k, v in sorted(totals.items())},
        blocking_failures=blocking,
    )


def domain_summary(samples: Iterable[Mapping[str, Any]], metric: str, task: str = "domain task") -> DomainSummary:
    """Per-category scores and blocking failures of one domain task, from its lm-eval samples."""
    return summarize(read_cases(samples, metric, task))


def judged_result(result: TaskResult, judged: JudgedSamples, cases: Iterable[CaseResult]) -> TaskResult:
    """A domain TaskResult rescored by the judge: `judge_pass` per item (a judge failure is 0), judge recorded.

    `cases` are the task's cases as `read_cases` returned them (for category and severity);
    their scores are replaced by the judge's verdicts.
    """
    missing = sorted({it.doc_id for it in result.items} - set(judged.verdicts))
    if missing:
        raise EvalFailed(f"{result.name}: the judge returned no verdict for doc id(s) {missing[:5]}")
    score = {d: float(v.passed) for d, v in judged.verdicts.items()}
    items = tuple(replace(it, score=score[it.doc_id]) for it in result.items)
    summary = summarize(replace(c, score=score[c.doc_id]) for c in cases if c.doc_id in score)
    n = len(items)
    mean = sum(it.score for it in items) / n if n else None
    stderr = math.sqrt(mean * (1 - mean) / (n - 1)) if n > 1 and mean is not None else None
    return replace(
        result,
        metric=JUDGE_METRIC,
        higher_is_better=True,
        value=mean,
        stderr=stderr,
        items=items,
        category_scores=summary.category_scores,
        blocking_failures=summary.blocking_failures,
        judge=judged.info,
    )


def judge_missing(spec: TaskSpec, judge: Judge | None) -> str | None:
    """Before running a judged task: a skip reason if it is optional and no judge was given.

    A judged task that is not optional needs a judge: ConfigError (exit 2), before any model time is spent.
    """
    if spec.judge_rubric is None or judge is not None:
        return None
    if spec.optional:
        return "skipped: no judge model (pass --judge-model to score this task)"
    raise ConfigError(
        f"task '{spec.task}' is scored by an LLM judge (judge_rubric: {spec.judge_rubric}); "
        "pass --judge-model hf:PATH or local-chat-completions:model=NAME,base_url=URL"
    )


def post_process(
    spec: TaskSpec, samples: Iterable[Mapping[str, Any]], result: TaskResult, judge: Judge | None = None
) -> TaskResult:
    """What a domain task adds to the runner's TaskResult, from lm-eval's per-item samples.

    Rule-scored tasks get per-category scores and blocking failures; a task with a
    `judge_rubric` is rescored by the judge (`judge_pass`). General tasks pass through unchanged.
    A judged task needs `judge`: the runner asks `judge_missing` first and skips or refuses such a
    task without one, before any of it is evaluated.
    """
    if spec.kind != "domain" or result.status != "ok":
        return result
    samples = list(samples)
    cases = read_cases(samples, spec.metric, spec.task)
    if spec.judge_rubric is None:
        summary = summarize(cases)
        return replace(result, category_scores=summary.category_scores, blocking_failures=summary.blocking_failures)
    if judge is None:
        raise ValueError(f"task '{spec.task}' has a judge_rubric: post_process needs its judge (see judge_missing)")
    judged = judge_samples(samples, load_rubric(spec.judge_rubric), judge)
    return judged_result(result, judged, cases)
