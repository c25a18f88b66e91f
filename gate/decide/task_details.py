"""What a diff shows beside a task's paired numbers: its categories, its run notes, its judge and hard failures.

A domain task's average can hold steady while one category collapses, and a failed high-severity
case blocks whatever the average (as `gate check` does); a reviewer also needs the notes that say
how a run departs from the task's reference settings (a few-shot pool taken from another split,
an LLM judge and how many of its replies were invalid).
"""

from __future__ import annotations

from gate.record import TaskResult
from gate.results import CategoryMove, TaskContext


def _judge_note(t: TaskResult) -> str | None:
    j = t.judge
    if j is None:
        return None
    return (
        f"scored by LLM judge {j.model} (rubric {j.rubric_id} v{j.rubric_version}, prompt v{j.prompt_version}); "
        f"{j.n_invalid} of {j.n_judged} replies broke the reply schema and count as failed"
    )


def task_context(candidate: TaskResult | None, baseline: TaskResult | None) -> TaskContext:
    notes: list[str] = []
    for t in (candidate, baseline):
        if t is None:
            continue
        for note in (*t.notes, _judge_note(t)):
            if note and note not in notes:
                notes.append(note)
    cats_c = candidate.category_scores if candidate is not None else {}
    cats_b = baseline.category_scores if baseline is not None else {}
    categories = tuple(CategoryMove(k, cats_b.get(k), cats_c.get(k)) for k in sorted(cats_c.keys() | cats_b.keys()))
    failed = candidate.blocking_failures if candidate is not None and candidate.status == "ok" else ()
    before = set(baseline.blocking_failures) if baseline is not None else set()
    return TaskContext(
        notes=tuple(notes),
        categories=categories,
        blocking_failures=tuple(failed),
        already_failing=tuple(f for f in failed if f in before),
    )


def failure_reason(name: str, ctx: TaskContext) -> str:
    """The blocking reason of a task with failed high-severity cases."""
    ids = ", ".join(ctx.blocking_failures)
    n = len(ctx.blocking_failures)
    tail = ""
    if ctx.already_failing:
        tail = f"; {len(ctx.already_failing)} of them failed in the baseline too"
    return f"{name}: {n} high-severity case{'s' if n != 1 else ''} failed ({ids}){tail}"
