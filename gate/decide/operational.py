"""Operational rules in a diff: did the candidate get slower, more verbose, hungrier for memory or costlier?

`operational_checks(candidate, baseline, thresholds)` applies each rule of `thresholds.operational`
(`gate.config.operational`) to every generative task both records measured, and the run-level rules
(peak memory, cost) to the run. Changes are fractions of the baseline's value. Where the record keeps
the raw requests an interval says how sure the change is:

    latency percentiles, output_tokens_p95   bootstrap over requests (the two runs' requests resampled
                                             independently; scipy.stats.bootstrap)
    output_tokens_mean                        paired per item: the same doc's answer in both runs,
                                              resampled in pairs
    tokens_per_second, peak_memory, cost     one number per run: no interval, the point decides

    exceeded        the interval's better end (or the point, without one) is beyond the allowance
    inconclusive    the estimate is beyond it but the interval reaches inside: blocks only under
                    policy.inconclusive_blocks
    ok              the estimate is within the allowance
    not_comparable  different hardware or settings (backend, dtype, device, batch size, timing, a task's
                    generation settings), or a record without operational metrics: shown, never blocking

Timings from different machines say nothing about the checkpoint, so they are never compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from gate.config import Thresholds
from gate.record import EvalRecord, TaskResult
from gate.record_operational import DECREASE_METRICS, INCREASE_METRICS, TaskOperational, fmt_value
from gate.results import OperationalCheck

RESAMPLES = 2000
SEED = 0  # a diff is a function of its records: the same records give the same interval


def operational_checks(
    candidate: EvalRecord, baseline: EvalRecord, thresholds: Thresholds
) -> tuple[OperationalCheck, ...]:
    """Every operational rule of the thresholds file, applied; empty when the file has none."""
    rules = thresholds.operational
    if not rules:
        return ()
    wanted = [(m, f, "higher") for m, f in rules.max_increase.items()]
    wanted += [(m, f, "lower") for m, f in rules.max_decrease.items()]
    why = _incomparable(candidate, baseline)
    out: list[OperationalCheck] = []
    btasks = {t.name: t for t in baseline.tasks}
    task_rules = [w for w in wanted if _where(w[0]) == "task"]
    for c in candidate.tasks:
        b = btasks.get(c.name)
        if not task_rules or b is None or not _generative(c) or not _generative(b):
            continue
        reason = why or _task_incomparable(c, b)
        for metric, limit, worse in task_rules:
            if reason:
                out.append(_not_comparable(c.name, metric, limit, worse, reason))
            else:
                out.append(_task_check(c, b, metric, limit, worse, thresholds))
    for metric, limit, worse in wanted:
        if _where(metric) != "run":
            continue
        if why:
            out.append(_not_comparable("run", metric, limit, worse, why))
            continue
        field = INCREASE_METRICS[metric][0]
        cv, bv = getattr(candidate.operational, field), getattr(baseline.operational, field)
        if cv is None or bv is None:
            missing = "candidate" if cv is None else "baseline"
            out.append(_not_comparable("run", metric, limit, worse, f"no {field} in the {missing} record"))
            continue
        out.append(_decide("run", metric, float(bv), float(cv), None, limit, worse, "", 0, thresholds))
    return tuple(out)


def _where(metric: str) -> str:
    return (INCREASE_METRICS.get(metric) or DECREASE_METRICS[metric])[1]


def _generative(t: TaskResult) -> bool:
    return t.status == "ok" and t.operational is not None and t.operational.generation is not None


def _incomparable(c: EvalRecord, b: EvalRecord) -> str | None:
    """Why the two runs' timings cannot be compared at all, if they cannot."""
    for who, r in (("candidate", c), ("baseline", b)):
        if r.operational is None:
            return f"not comparable: the {who} record has no operational metrics (recorded before they were measured)"
    co, bo = c.operational, b.operational
    assert co is not None and bo is not None
    if co.hardware != bo.hardware:
        return f"not comparable: different hardware ({co.hardware} vs baseline {bo.hardware})"
    settings = [
        ("backend", c.model.backend, b.model.backend),
        ("dtype", c.model.dtype, b.model.dtype),
        ("device", c.model.device, b.model.device),
        ("batch size", c.model.batch_size, b.model.batch_size),
        ("quantization", c.model.quantization, b.model.quantization),
        ("timing", co.timing_method, bo.timing_method),
    ]
    diffs = [f"{name} {x} vs baseline {y}" for name, x, y in settings if x != y]
    if diffs:
        return "not comparable: different settings (" + ", ".join(diffs) + ")"
    return None


def _task_incomparable(c: TaskResult, b: TaskResult) -> str | None:
    if c.generation != b.generation:
        return "not comparable: different generation settings (max_gen_toks, stop sequences or sampling)"
    return None


def _not_comparable(scope: str, metric: str, limit: float, worse: str, reason: str) -> OperationalCheck:
    return OperationalCheck(scope, metric, "not_comparable", reason, False, limit, worse)


def _task_check(
    c: TaskResult, b: TaskResult, metric: str, limit: float, worse: str, thresholds: Thresholds
) -> OperationalCheck:
    co, bo = c.operational, b.operational
    assert co is not None and bo is not None and co.generation is not None and bo.generation is not None
    field = (INCREASE_METRICS.get(metric) or DECREASE_METRICS[metric])[0]
    cv, bv = float(getattr(co.generation, field)), float(getattr(bo.generation, field))
    alpha = thresholds.alpha
    interval, method, n = None, "", 0
    if field.startswith("latency_p"):
        q = float(field.removeprefix("latency_p").removesuffix("_s"))
        interval = _percentile_ratio(co.latencies_s, bo.latencies_s, q, alpha)
        method, n = "bootstrap over requests", min(len(co.latencies_s), len(bo.latencies_s))
    elif field == "output_tokens_p95":
        ct, bt = [i.output_tokens for i in co.output_tokens], [i.output_tokens for i in bo.output_tokens]
        interval = _percentile_ratio(ct, bt, 95.0, alpha)
        method, n = "bootstrap over requests", min(len(ct), len(bt))
    elif field == "output_tokens_mean":
        pairs = _paired_tokens(co, bo)
        n = len(pairs)
        if n >= 2:  # the paired items' own means, so the change and its interval describe the same items
            cv = sum(x for x, _ in pairs) / n
            bv = sum(y for _, y in pairs) / n
            interval = _paired_mean_ratio(pairs, alpha)
        method = f"paired per item ({n} items in both)"
    return _decide(c.name, metric, bv, cv, interval, limit, worse, method, n, thresholds)


def _paired_tokens(co: TaskOperational, bo: TaskOperational) -> list[tuple[int, int]]:
    base = {(i.task, i.doc_id): i.output_tokens for i in bo.output_tokens}
    return [(i.output_tokens, base[(i.task, i.doc_id)]) for i in co.output_tokens if (i.task, i.doc_id) in base]


def _bootstrap(data: tuple, statistic, paired: bool, alpha: float) -> tuple[float, float] | None:
    import numpy as np
    from scipy import stats

    res = stats.bootstrap(
        data,
        statistic,
        paired=paired,
        vectorized=True,
        n_resamples=RESAMPLES,
        confidence_level=1 - alpha,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return lo, hi


def _percentile_ratio(c: Sequence[float], b: Sequence[float], q: float, alpha: float) -> tuple[float, float] | None:
    """Interval of percentile(c, q) / percentile(b, q) - 1, resampling each run's requests on its own."""
    import numpy as np

    if len(c) < 2 or len(b) < 2 or np.percentile(b, q) <= 0:
        return None

    def stat(x, y, axis):
        return np.percentile(x, q, axis=axis) / np.maximum(np.percentile(y, q, axis=axis), 1e-12) - 1

    return _bootstrap((np.asarray(c, float), np.asarray(b, float)), stat, False, alpha)


def _paired_mean_ratio(pairs: list[tuple[int, int]], alpha: float) -> tuple[float, float] | None:
    """Interval of mean(candidate) / mean(baseline) - 1 over the same items, resampled in pairs."""
    import numpy as np

    c = np.asarray([x for x, _ in pairs], float)
    b = np.asarray([y for _, y in pairs], float)
    if b.sum() <= 0:
        return None

    def stat(x, y, axis):
        return np.mean(x, axis=axis) / np.maximum(np.mean(y, axis=axis), 1e-12) - 1

    return _bootstrap((c, b), stat, True, alpha)


def _decide(
    scope: str, metric: str, bv: float, cv: float, interval: tuple[float, float] | None, limit: float,
    worse: str, method: str, n: int, thresholds: Thresholds,
) -> OperationalCheck:  # fmt: skip
    change = cv / bv - 1 if bv > 0 else (0.0 if cv <= 0 else float("inf"))
    sign = 1 if worse == "higher" else -1
    bad = sign * change  # how much worse, as a fraction; negative is better
    if interval is not None:
        lo, hi = sorted((sign * interval[0], sign * interval[1]))
        decision = "exceeded" if lo > limit else ("inconclusive" if bad > limit else "ok")
    else:
        decision = "exceeded" if bad > limit else "ok"
    label = f"{scope} {metric}" if scope != "run" else f"run {metric}"
    moved = "rose" if change > 0 else "fell" if change < 0 else "stayed"
    level = int(round((1 - thresholds.alpha) * 100))
    ci = f", {level}% CI {_pct(interval[0])} to {_pct(interval[1])}" if interval else ""
    how = f", {method}" if method else ""
    allowed = f"allowed {'+' if worse == 'higher' else '-'}{limit:.0%}"
    text = f"{label} {moved} {fmt_value(metric, bv)} -> {fmt_value(metric, cv)} ({_pct(change)}{ci}{how})"
    if decision == "exceeded":
        reason = f"{text}, beyond the {allowed}"
    elif decision == "inconclusive":
        reason = f"{text}: beyond the {allowed} by its estimate, but the interval reaches inside it"
    else:
        reason = f"{text}, within the {allowed}"
    blocking = decision == "exceeded" or (decision == "inconclusive" and thresholds.policy.inconclusive_blocks)
    return OperationalCheck(
        scope=scope,
        metric=metric,
        decision=decision,
        reason=reason,
        blocking=blocking,
        limit=limit,
        worse_when=worse,
        baseline_value=bv,
        candidate_value=cv,
        change=change if change != float("inf") else None,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        method=method,
        n=n,
    )


def _pct(x: float) -> str:
    return "+inf%" if x == float("inf") else f"{x:+.0%}"
