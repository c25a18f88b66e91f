"""Early verdict: evaluate a suite's items in a seeded random order, in growing chunks, and stop a task
as soon as an anytime-valid confidence sequence puts it surely above or below its floor.

Every item keeps exactly the prompt a full run gives it: the requests of the task's whole item pool
are built once (in the full run's order, so lm-eval's seeded few-shot draws are the same) and each
chunk evaluates its share of them. The decision rule is `gate.decide.sequential.decide`; its error is at most
alpha per task whatever the stopping time, and alpha is split evenly (Bonferroni) over the tasks that
have a floor, so the suite's floor verdict errs at most the thresholds' alpha. Tasks without a floor,
and every task of a full run (the default, and what baselines use), run on all their items.
The chunks' results merge into one (`gate.run.merge`): a blocking failure of any chunk blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from gate.config import Suite, TaskSpec, Thresholds
from gate.decide.sequential import ABOVE, FIRST_CHUNK, chunk_ends, decide, seeded_order
from gate.domain.cases import ScoredTask
from gate.errors import ConfigError
from gate.lmeval.chunks import pool_requests
from gate.lmeval.request_cache import RequestCache, default_cache_dir, reuse_hook
from gate.lmeval.tasks import load_task
from gate.record import EarlyStop, EvalRecord, TaskResult
from gate.run.merge import merge_results, require_mean
from gate.run.models import LoadedModel
from gate.run.runner import RunOptions, build_record, measure_task, run_task, sample_note, select_items


def run_task_early(
    loaded: LoadedModel,
    suite: Suite,
    spec: TaskSpec,
    opts: RunOptions,
    *,
    floor: float,
    alpha: float,
    cache: RequestCache,
    first_chunk: int = FIRST_CHUNK,
) -> TaskResult:
    """One task, chunk by chunk in a seeded order, until its floor is decided or its items run out."""
    sizes = load_task(spec, suite, opts.data_dir).sizes()
    pool = select_items(spec, sizes, opts).doc_ids
    short = sample_note(spec, sizes, opts)
    if short and opts.progress:
        opts.progress(f"warning: {spec.task}: {short}")
    order = [(leaf, d) for leaf in sorted(pool) for d in pool[leaf]]
    order = [order[i] for i in seeded_order(len(order), opts.seed)]
    n = len(order)
    prepare = pool_requests(pool, cache)
    for look in in_looks(loaded, suite, spec, opts, order, chunk_ends(n, first_chunk), prepare, check=_needs_mean):
        decision = decide(look.scores, floor, alpha, population=n)
        if decision.decided and look.done < n:
            where = "above" if decision.decision == ABOVE else "below"
            stop = EarlyStop(
                items_used=look.done, items_available=n, decision=decision.decision, reason=decision.reason
            )
            if opts.progress:
                opts.progress(f"{spec.task}: stopped after {look.done} of {n} items, surely {where} floor {floor}")
            return _noted(merge_results(look.parts, n_requested=look.done, early_stop=stop), short)
    return _noted(merge_results(look.parts, n_requested=n, early_stop=None), short)


def _needs_mean(spec: TaskSpec, part: TaskResult) -> None:
    require_mean(part, spec.metric, "the early verdict needs one (run without --early-verdict)")


@dataclass(frozen=True)
class Look:
    """The state after one look: items evaluated so far, their chunks' results, and their scores in the
    seeded order (the order the bets were placed in, so they stay predictable)."""

    done: int
    parts: tuple[ScoredTask, ...]
    scores: list[float]


def in_looks(
    loaded: LoadedModel,
    suite: Suite,
    spec: TaskSpec,
    opts: RunOptions,
    order: list[tuple[str, int]],
    ends: list[int],
    prepare: Callable[[list[Any]], None],
    check: Callable[[TaskSpec, TaskResult], None] | None = None,
) -> Iterator[Look]:
    """Evaluate `order`'s (leaf, doc id) items chunk by chunk up to each of `ends`, yielding after each chunk;
    the early verdict and the diff's early verdict stop iterating once they decide."""
    parts: list[ScoredTask] = []
    seen: dict[tuple[str, int], float] = {}
    done = 0
    for end in ends:
        chunk: dict[str, list[int]] = {}
        for leaf, d in order[done:end]:
            chunk.setdefault(leaf, []).append(d)
        scored = measure_task(loaded, suite, spec, replace(opts, doc_ids={spec.task: chunk}, prepare_tasks=prepare))
        if check is not None:
            check(spec, scored.result)
        parts.append(scored)
        for it in scored.result.items:
            seen[(it.group or spec.task, it.doc_id)] = it.score
        done = end
        yield Look(done, tuple(parts), [seen[key] for key in order[:done]])


def _noted(result: TaskResult, note: str | None) -> TaskResult:
    return replace(result, notes=(*result.notes, note)) if note else result


def run_early_verdict(
    loaded: LoadedModel,
    suite: Suite,
    thresholds: Thresholds,
    opts: RunOptions,
    *,
    cache: RequestCache | None = None,
    first_chunk: int = FIRST_CHUNK,
) -> EvalRecord:
    """Run the suite, stopping each floored task early once its floor is decided; a record like `run_suite`'s."""
    cache = cache or RequestCache(default_cache_dir())
    floored = [s for s in suite.tasks if s.task in thresholds.tasks and thresholds.tasks[s.task].floor is not None]
    alpha = thresholds.alpha / max(len(floored), 1)
    start = time.perf_counter()
    tasks = []
    for spec in suite.tasks:
        th = thresholds.tasks.get(spec.task)
        if th is not None and th.floor is not None:  # one of `floored`
            if th.metric != spec.metric:
                raise ConfigError(
                    f"{thresholds.path}: tasks.{spec.task}.metric is '{th.metric}' but the suite scores "
                    f"'{spec.metric}'; make them the same"
                )
            # "above"/"below" are about the value; the thresholds say which side passes
            result = run_task_early(
                loaded, suite, spec, opts, floor=th.floor, alpha=alpha, cache=cache, first_chunk=first_chunk
            )
        else:
            result = run_task(loaded, suite, spec, replace(opts, prepare_tasks=reuse_hook(cache)))
        tasks.append(result)
    return build_record(loaded, suite, tasks, time.perf_counter() - start, opts)


__all__ = ["Look", "chunk_ends", "in_looks", "run_early_verdict", "run_task_early"]
