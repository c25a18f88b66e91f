"""One task measured in parts, as one TaskResult: the early verdict evaluates a task chunk by chunk.

The merged result is what one run over the union of the parts' items reports: items, value and
standard error over all of them, and the domain fields from all of them too. A part's category
scores and blocking failures come from its own cases only, so keeping the first part's (as a plain
`replace` would) drops a high-severity failure found in a later chunk: the gate would fail open.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from gate.decide.stats import iid_stderr, mean_interval
from gate.domain.cases import ScoredTask, summarize
from gate.errors import ConfigError
from gate.record import EarlyStop, ItemOutcome, JudgeInfo, TaskResult
from gate.run.operational import merged as merged_operational


def combined_hash(hashes: Iterable[str]) -> str:
    """One hash standing for several task hashes (a group's leaves), whatever their order."""
    return "sha256:" + hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def weighted_chance(parts: Iterable[tuple[float | None, int]]) -> float | None:
    """The chance level of a union of parts, from each part's (chance, item count); None if any has none."""
    parts = list(parts)
    if not parts or any(c is None for c, _ in parts):
        return None
    return sum(c * k for c, k in parts) / sum(k for _, k in parts)  # type: ignore[operator]


def group_stderr(leaves: Sequence[tuple[float | None, int]], items: Sequence[ItemOutcome]) -> float | None:
    """The standard error of a group's size-weighted mean, from its leaves' (stderr, size) and its items.

    lm-eval's pooled error of the subtasks where each has one; subtasks with one item have no error of
    their own, so the items are clustered by subtask instead.
    """
    from gate.lmeval.results import pooled_stderr

    stderrs = [se for se, _ in leaves]
    sizes = [k for _, k in leaves]
    if None not in stderrs and all(k > 1 for k in sizes):
        return pooled_stderr(stderrs, sizes)  # type: ignore[arg-type]
    return mean_interval([i.score for i in items], [i.group for i in items]).stderr


def _leaf_stderr(scores: Sequence[float]) -> float | None:
    se = iid_stderr(scores)  # nan below two items
    return None if math.isnan(se) else se


def require_mean(result: TaskResult, metric: str, needs: str) -> None:
    """ConfigError unless the task's value is the mean of its items' scores: only such parts can merge."""
    mean = sum(i.score for i in result.items) / max(len(result.items), 1)
    if result.value is None or abs(result.value - mean) > 1e-9:
        raise ConfigError(f"task '{result.name}': metric '{metric}' is not a mean of per-item scores; {needs}")


def _merged_judge(infos: list[JudgeInfo | None], task: str) -> JudgeInfo | None:
    judged = [i for i in infos if i is not None]
    if not judged:
        return None
    if len(judged) < len(infos):
        raise ConfigError(f"task '{task}': some parts were scored by a judge and some were not; they cannot merge")
    if len({(i.model, i.prompt_version, i.prompt_hash, i.rubric_id, i.rubric_version) for i in judged}) > 1:
        raise ConfigError(f"task '{task}': parts were judged by different judge models or rubrics; they cannot merge")
    return replace(judged[0], n_judged=sum(i.n_judged for i in judged), n_invalid=sum(i.n_invalid for i in judged))


def merge_results(
    parts: Sequence[ScoredTask],
    *,
    n_requested: int,
    early_stop: EarlyStop | None,
    leaf_hashes: Mapping[str, str] | None = None,
) -> TaskResult:
    """Parts of one task (disjoint items, the same spec) as one TaskResult.

    Needs a metric that is a mean of per-item scores (the early verdict checks that). A group's
    standard error is pooled over its subtasks, as the runner computes it for one run; given every
    leaf's task hash (`leaf_hashes`, shards record them), a group's hash is the one run's hash over
    its leaves. Blocking failures are the union of the parts' (sorted); category scores are
    recomputed from the union of their cases; notes are kept in order, each once; a judge's counts
    are summed, and parts judged differently are a ConfigError.
    """
    results = [p.result for p in parts]
    first = results[0]
    items = tuple(sorted((i for r in results for i in r.items), key=lambda i: (i.group or "", i.doc_id)))
    scores = [i.score for i in items]
    n = len(items)
    subtasks = tuple(sorted({s for r in results for s in r.subtasks}))
    if subtasks:
        by_leaf: dict[str, list[float]] = {}
        for i in items:
            by_leaf.setdefault(i.group or "", []).append(i.score)
        stderr = group_stderr([(_leaf_stderr(v), len(v)) for v in by_leaf.values()], items)
    else:
        stderr = _leaf_stderr(scores)
    hashes = sorted({r.task_hash for r in results})
    if subtasks and leaf_hashes is not None:
        hashes = [combined_hash(leaf_hashes[s] for s in subtasks)]
    cases = sorted((c for p in parts for c in p.cases), key=lambda c: c.doc_id)
    return replace(
        first,
        value=sum(scores) / n,
        stderr=stderr,
        n=n,
        n_requested=n_requested,
        task_hash=hashes[0] if len(hashes) == 1 else combined_hash(hashes),
        subtasks=subtasks,
        items=items,
        chance=weighted_chance((r.chance, r.n) for r in results),
        early_stop=early_stop,
        category_scores=summarize(cases).category_scores,
        blocking_failures=tuple(sorted({b for r in results for b in r.blocking_failures})),
        judge=_merged_judge([r.judge for r in results], first.name),
        notes=tuple(dict.fromkeys(note for r in results for note in r.notes)),
        operational=merged_operational([r.operational for r in results]),
    )
