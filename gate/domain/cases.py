"""Domain suites: per-category scores and the high-severity blocking rule.

`domain_summary` reads the per-document samples of a domain task (`gate.lmeval.results.Sample`:
the case's JSONL row and its per-item metric) and returns what goes into
`TaskResult.category_scores` and `TaskResult.blocking_failures`; `gate.decide.floors.check` then
blocks on any of them, whatever the average says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from gate.config import TaskSpec
from gate.decide.stats import iid_stderr
from gate.domain.judge import Judge, JudgedSamples, judge_samples, load_rubric
from gate.errors import ConfigError, EvalFailed
from gate.lmeval.results import Sample
from gate.record import CaseResult, TaskResult

BLOCKING_SEVERITIES = frozenset({"high"})
SEVERITIES = ("low", "medium", "high")
JUDGE_METRIC = "judge_pass"


@dataclass(frozen=True)
class DomainSummary:
    """What a domain task adds to its TaskResult."""

    cases: tuple[CaseResult, ...]
    category_scores: dict[str, float]
    category_counts: dict[str, int]
    blocking_failures: tuple[str, ...]  # case ids of failed cases whose severity blocks


@dataclass(frozen=True)
class ScoredTask:
    """A task's result after domain scoring, and the cases its category scores and blocking failures
    summarise (none for general and skipped tasks): results of parts of one task merge by summarising
    the union of their cases (`gate.run.merge`)."""

    result: TaskResult
    cases: tuple[CaseResult, ...] = ()
    # each leaf's task hash, as lm-eval configured it (a shard records them: a merged group hashes all its leaves)
    leaf_hashes: dict[str, str] = field(default_factory=dict)


def read_cases(samples: Iterable[Sample], metric: str, task: str = "domain task") -> tuple[CaseResult, ...]:
    """Turn a domain task's samples (doc id, the case's row, one number per metric) into CaseResults.

    A sample without the metric, or with a severity outside low|medium|high, means the task
    YAML and the data disagree: that is the gate failing to measure, not the model failing.
    """
    out = []
    for s in samples:
        if metric not in s.metrics:
            raise EvalFailed(f"{task}: sample {s.doc_id} has no metric {metric!r}; check the task's metric_list")
        severity = s.doc.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise EvalFailed(
                f"{task}: case {s.doc.get('id', s.doc_id)}: severity {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        case_id = str(s.doc.get("id", s.doc_id))
        out.append(CaseResult(s.doc_id, case_id, s.doc.get("category"), severity, s.metrics[metric]))
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


def domain_summary(samples: Iterable[Sample], metric: str, task: str = "domain task") -> DomainSummary:
    """Per-category scores and blocking failures of one domain task, from its samples."""
    return summarize(read_cases(samples, metric, task))


def judged_result(result: TaskResult, judged: JudgedSamples, cases: Iterable[CaseResult]) -> TaskResult:
    """A domain TaskResult rescored by the judge: `judge_pass` per item (a judge failure is 0), judge recorded.

    `cases` are the task's cases as `read_cases` returned them (for category and severity);
    their scores are replaced by the judge's verdicts.
    """
    missing = sorted({it.doc_id for it in result.items} - set(judged.verdicts))
    if missing:
        raise EvalFailed(f"{result.name}: the judge returned no verdict for doc id(s) {missing[:5]}")
    score = _judge_scores(judged)
    items = tuple(replace(it, score=score[it.doc_id]) for it in result.items)
    summary = summarize(rescored(cases, judged))
    n = len(items)
    mean = sum(it.score for it in items) / n if n else None
    se = iid_stderr([it.score for it in items])  # nan below two items
    stderr = None if math.isnan(se) else se
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


def _judge_scores(judged: JudgedSamples) -> dict[int, float]:
    return {d: float(v.passed) for d, v in judged.verdicts.items()}


def rescored(cases: Iterable[CaseResult], judged: JudgedSamples) -> tuple[CaseResult, ...]:
    """The judged cases with the judge's verdicts as their scores (a judge failure is 0)."""
    score = _judge_scores(judged)
    return tuple(replace(c, score=score[c.doc_id]) for c in cases if c.doc_id in score)


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
    spec: TaskSpec, samples: Iterable[Sample], result: TaskResult, judge: Judge | None = None
) -> ScoredTask:
    """What a domain task adds to the runner's TaskResult, from its per-document samples.

    Rule-scored tasks get per-category scores and blocking failures; a task with a
    `judge_rubric` is rescored by the judge (`judge_pass`). General tasks pass through unchanged.
    A judged task needs `judge`: the runner asks `judge_missing` first and skips or refuses such a
    task without one, before any of it is evaluated.
    """
    if spec.kind != "domain" or result.status != "ok":
        return ScoredTask(result)
    samples = list(samples)
    cases = read_cases(samples, spec.metric, spec.task)
    if spec.judge_rubric is None:
        summary = summarize(cases)
        scored = replace(result, category_scores=summary.category_scores, blocking_failures=summary.blocking_failures)
        return ScoredTask(scored, cases)
    if judge is None:
        raise ValueError(f"task '{spec.task}' has a judge_rubric: post_process needs its judge (see judge_missing)")
    judged = judge_samples(samples, load_rubric(spec.judge_rubric), judge)
    return ScoredTask(judged_result(result, judged, cases), rescored(cases, judged))
