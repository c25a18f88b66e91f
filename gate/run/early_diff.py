"""The diff's early verdict, run: the baseline's items on the candidate, in a seeded order and growing chunks,
each gated task stopped once `gate.decide.early_diff` decides it (regressed, or non-inferior).

Every item keeps exactly the prompt a full run gives it (the requests of the baseline's whole item pool are
built once, as `gate.run.early` does for floors). alpha is split evenly (Bonferroni) over the gated tasks,
so the run's early decisions err at most the thresholds' alpha together. A task without an allowance, one
whose scores are not in [0, 1], or one the baseline did not measure runs on all the baseline's items; a
gated task still undecided when its items run out carries no early stop, and the diff decides it as always.
Off by default: baselines and the full run that freezes one are never stopped early.
"""

from __future__ import annotations

import time
from dataclasses import replace

from gate.config import Suite, TaskSpec, Thresholds
from gate.decide.early_diff import REGRESSED, decide_diff, diff_looks
from gate.decide.sequential import FIRST_CHUNK, seeded_order
from gate.errors import ConfigError
from gate.lmeval.chunks import pool_requests
from gate.lmeval.request_cache import RequestCache, default_cache_dir, reuse_hook
from gate.record import EARLY_DIFF_OK, EARLY_DIFF_REGRESSED, EarlyStop, EvalRecord, TaskResult
from gate.run.early import in_looks
from gate.run.merge import merge_results
from gate.run.models import LoadedModel
from gate.run.runner import RunOptions, build_record, run_task


def _gated(spec: TaskSpec, thresholds: Thresholds, base: TaskResult | None) -> float | None:
    """The allowance of a task the early diff can stop, else None."""
    if base is None or base.status != "ok" or len(base.items) < 2:
        return None
    th = thresholds.rule(spec.task, spec.metric, base.higher_is_better)
    if th.informational or th.max_drop is None:
        return None
    if any(not 0.0 <= i.score <= 1.0 for i in base.items):
        return None
    return th.max_drop


def run_task_early_diff(
    loaded: LoadedModel,
    suite: Suite,
    spec: TaskSpec,
    opts: RunOptions,
    base: TaskResult,
    *,
    allowance: float,
    alpha: float,
    cache: RequestCache,
    first_chunk: int = FIRST_CHUNK,
) -> TaskResult:
    """One gated task on the baseline's items, chunk by chunk, until the paired test decides it."""
    pool: dict[str, list[int]] = {}
    for it in base.items:
        pool.setdefault(it.group or spec.task, []).append(it.doc_id)
    baseline = {(it.group or spec.task, it.doc_id): it.score for it in base.items}
    order = [(leaf, d) for leaf in sorted(pool) for d in sorted(pool[leaf])]
    order = [order[i] for i in seeded_order(len(order), opts.seed)]
    n = len(order)
    prepare = pool_requests(pool, cache)
    keys_baseline = [baseline[k] for k in order]
    for look in in_looks(loaded, suite, spec, opts, order, diff_looks(n, first_chunk), prepare):
        done = look.done
        if any(not 0.0 <= s <= 1.0 for s in look.scores):
            raise ConfigError(f"task '{spec.task}': scores outside [0, 1]; run without --early-diff")
        decision = decide_diff(
            look.scores, keys_baseline[:done], allowance, alpha, population=n, higher_is_better=base.higher_is_better
        )
        if decision.decided and done < n:
            stop = EarlyStop(
                items_used=done,
                items_available=n,
                decision=EARLY_DIFF_REGRESSED if decision.decision == REGRESSED else EARLY_DIFF_OK,
                reason=decision.reason,
            )
            if opts.progress:
                opts.progress(f"{spec.task}: diff decided after {done} of {n} items: {decision.decision}")
            return merge_results(look.parts, n_requested=done, early_stop=stop)
    return merge_results(look.parts, n_requested=n, early_stop=None)


def run_early_diff(
    loaded: LoadedModel,
    suite: Suite,
    thresholds: Thresholds,
    baseline: EvalRecord,
    opts: RunOptions,
    *,
    cache: RequestCache | None = None,
    first_chunk: int = FIRST_CHUNK,
) -> EvalRecord:
    """Run the suite on the baseline's items, stopping each gated task once its diff is decided."""
    cache = cache or RequestCache(default_cache_dir())
    base = {t.name: t for t in baseline.tasks}
    gated = {s.task: a for s in suite.tasks if (a := _gated(s, thresholds, base.get(s.task))) is not None}
    alpha = thresholds.alpha / max(len(gated), 1)
    start = time.perf_counter()
    tasks = []
    for spec in suite.tasks:
        if spec.task in gated:
            result = run_task_early_diff(
                loaded, suite, spec, opts, base[spec.task], allowance=gated[spec.task], alpha=alpha, cache=cache,
                first_chunk=first_chunk,
            )  # fmt: skip
        else:
            task_opts = replace(opts, prepare_tasks=reuse_hook(cache))
            if spec.task in base:
                task_opts = replace(task_opts, items_from=baseline)
            result = run_task(loaded, suite, spec, task_opts)
        tasks.append(result)
    return build_record(loaded, suite, tasks, time.perf_counter() - start, replace(opts, items_from=baseline))


__all__ = ["run_early_diff", "run_task_early_diff"]
