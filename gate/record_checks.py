"""What makes an EvalRecord trustworthy beyond its schema: consistent with its own items, and unchanged.

The record is the gate's trust anchor: every verdict is a function of records, so a record whose
numbers disagree with themselves must never read as a pass. `problems` lists what is inconsistent
(each a line naming the task and the field); `record_digest` is the sha256 a run writes into its
record (`digest`), so a record edited afterwards is detected on read. The digest is a checksum, not a
signature: it catches an edited or corrupted file, not someone who recomputes it on purpose.

The value of a task is checked the way the runner computes it (`gate.run.runner`, `gate.run.merge`):
the mean of its item scores, or, for a group whose subtasks lm-eval averages unweighted, the mean of
its subtasks' means. The record does not say which rule a group used, so either is accepted; a value
matching neither is refused. Metrics lm-eval aggregates over the corpus (`gate.metrics`) are not
checked against their items.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gate.metrics import is_item_mean, metric_range

if TYPE_CHECKING:  # gate.record imports this module to check what it reads
    from gate.record import EvalRecord, TaskResult

DIGEST_PREFIX = "sha256:"
_UNDIGESTED = ("digest", "mlflow_run_id")  # the digest itself, and where the record was logged afterwards
TOLERANCE = 1e-9


def record_digest(data: Mapping[str, Any]) -> str:
    """sha256 of the record's canonical JSON, without its digest and its MLflow run id.

    Computed from the JSON form (`gate.record.to_dict`, or a file's parsed data), so a record read
    back from its file digests as it did when it was written, whatever fields later versions add.
    """
    kept = {k: v for k, v in data.items() if k not in _UNDIGESTED}
    blob = json.dumps(kept, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    return DIGEST_PREFIX + hashlib.sha256(blob).hexdigest()


def problems(record: EvalRecord) -> Iterator[str]:
    """Every inconsistency of a record, one line each, most basic first."""
    if not record.tasks:
        yield "tasks: none; a record holds every task of its suite (this one measured nothing)"
    seen: set[str] = set()
    for i, t in enumerate(record.tasks):
        if t.name in seen:
            yield f"tasks.{i} ({t.name}): the task appears twice; a record holds each task once"
        seen.add(t.name)
        yield from _task_problems(t, f"tasks.{i} ({t.name})")
    for i, t in enumerate(record.tasks):
        if t.probe_of is not None and t.probe_of not in seen:
            yield f"tasks.{i} ({t.name}).probe_of: '{t.probe_of}' is not a task of this record; a probe needs it"
    s = record.sampling
    if s.source == "sample" and (s.n is None or s.seed is None):
        yield "sampling: source is 'sample' but n or seed is null; a seeded sample records both"


def _task_problems(t: TaskResult, at: str) -> Iterator[str]:
    if t.status == "skipped":
        if t.value is not None:
            yield f"{at}.value: {t.value} but the task was skipped; a skipped task has no value"
        if t.items or t.n:
            yield f"{at}.items: a skipped task holds no items; this one has {len(t.items)} (n={t.n})"
        return
    if t.value is None:
        yield f"{at}.value: null but status is 'ok'; a measured task has a value"
    if not t.items:
        yield f"{at}.items: none; a measured task holds every item it scored"
        return
    if t.n != len(t.items):
        yield f"{at}.n: {t.n} but the task holds {len(t.items)} items"
    if len(t.items) < t.n_requested and t.early_stop is None:
        yield (
            f"{at}.items: {len(t.items)} of the {t.n_requested} requested (n_requested); only a task that "
            "stopped early (early_stop) may hold fewer"
        )
    yield from _early_stop_problems(t, at)
    yield from _item_problems(t, at)
    if t.stderr is not None and t.stderr < 0:
        yield f"{at}.stderr: {t.stderr} is negative"
    if t.chance is not None and not 0.0 <= t.chance <= 1.0:
        yield f"{at}.chance: {t.chance} is not a probability (0..1)"
    if t.judge is not None and t.judge.n_invalid > t.judge.n_judged:
        yield f"{at}.judge.n_invalid: {t.judge.n_invalid} exceeds n_judged {t.judge.n_judged}"
    yield from _value_problems(t, at)


def _early_stop_problems(t: TaskResult, at: str) -> Iterator[str]:
    es = t.early_stop
    if es is None:
        return
    if es.items_used != len(t.items):
        yield f"{at}.early_stop.items_used: {es.items_used} but the task holds {len(t.items)} items"
    if es.items_available < es.items_used:
        yield f"{at}.early_stop.items_available: {es.items_available} is fewer than items_used {es.items_used}"


def _item_problems(t: TaskResult, at: str) -> Iterator[str]:
    bounds = metric_range(t.metric)
    groups = set(t.subtasks)
    seen: set[tuple[str | None, int]] = set()
    for j, it in enumerate(t.items):
        key = (it.group, it.doc_id)
        if key in seen:
            where = f" in group '{it.group}'" if it.group else ""
            yield f"{at}.items.{j}.doc_id: {it.doc_id} appears twice{where}; each item is scored once"
        seen.add(key)
        if bounds is not None and not bounds[0] <= it.score <= bounds[1]:
            yield f"{at}.items.{j}.score: {it.score} is outside {t.metric}'s range {bounds[0]:g}..{bounds[1]:g}"
        if groups and it.group not in groups:
            yield f"{at}.items.{j}.group: {it.group!r} is not one of the task's subtasks"
    if bounds is not None:
        for cat, score in t.category_scores.items():
            if not bounds[0] <= score <= bounds[1]:
                yield f"{at}.category_scores.{cat}: {score} is outside {t.metric}'s range {bounds[0]:g}..{bounds[1]:g}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(b))


def _value_problems(t: TaskResult, at: str) -> Iterator[str]:
    if t.value is None or not t.items:
        return
    bounds = metric_range(t.metric)
    if bounds is not None and not bounds[0] <= t.value <= bounds[1]:
        yield f"{at}.value: {t.value} is outside {t.metric}'s range {bounds[0]:g}..{bounds[1]:g}"
        return
    if not is_item_mean(t.metric):
        return
    scores = [it.score for it in t.items]
    plain = sum(scores) / len(scores)
    if _close(t.value, plain):
        return
    # A group lm-eval averages over subtask means (weight_by_size: false); an early verdict or a judge
    # always reports the plain mean of the items it kept.
    macro = None
    if t.subtasks and t.early_stop is None and t.judge is None:
        by_group: dict[str | None, list[float]] = {}
        for it in t.items:
            by_group.setdefault(it.group, []).append(it.score)
        macro = sum(sum(v) / len(v) for v in by_group.values()) / len(by_group)
        if _close(t.value, macro):
            return
    neither = f" nor the mean of its {len(set(t.subtasks))} subtasks' means ({macro:.6g})" if macro is not None else ""
    yield (
        f"{at}.value: {t.value:.6g} is not the mean of its {len(scores)} item scores ({plain:.6g}){neither}; "
        "the record was edited or corrupted: re-run `gate run`"
    )


def check_digest(data: Mapping[str, Any], *, required: bool, why: str = "") -> str | None:
    """The problem with a record's digest, if any: absent where one is required, or not its contents'."""
    stated = data.get("digest")
    if stated is None:
        if required:
            return f"digest: missing; {why or 'use a record written by `gate run` (it writes the digest), unchanged'}"
        return None
    actual = record_digest(data)
    if stated != actual:
        return (
            f"digest: {stated[:19]}… does not match the record's contents ({actual[:19]}…): the record was "
            "changed after `gate run` wrote it; do not trust it, re-run `gate run` for a fresh one"
        )
    return None
