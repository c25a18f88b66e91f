"""`check(record, thresholds) -> Verdict`: floors with confidence intervals, computed once.

A task passes its floor when the whole interval clears it, fails when the whole interval is on
the wrong side, and is inconclusive when the interval straddles it: shown as such, blocking only
under `policy.inconclusive_blocks`. Anything the gate cannot measure (a task missing, skipped,
short of items) fails: the gate never passes by default.
"""

from __future__ import annotations

from gate.config import Thresholds
from gate.decide.stats import Interval, mean_interval, near_chance
from gate.errors import ConfigError
from gate.metrics import metric_range
from gate.record import EvalRecord, TaskResult
from gate.results import FAIL, INCONCLUSIVE, NOT_EVALUATED, PASS, BlockingFailure, FloorCheck, Verdict


def task_interval(t: TaskResult, alpha: float = 0.05) -> Interval:
    """The (1 - alpha) interval of a task's mean score, clustered by subtask where it has subtasks."""
    groups = [i.group for i in t.items] if any(i.group for i in t.items) else None
    return mean_interval([i.score for i in t.items], groups, alpha, bounds=metric_range(t.metric))


def _check_task(t: TaskResult, name: str, floor: float, alpha: float) -> FloorCheck:
    base = dict(task=name, metric=t.metric, higher_is_better=t.higher_is_better, floor=floor, chance=t.chance)
    if t.status == "skipped":
        return FloorCheck(
            **base, value=None, ci_low=None, ci_high=None, n=0, outcome=NOT_EVALUATED, reason=t.skip_reason or "skipped"
        )
    if t.n < t.n_requested or t.n == 0 or t.value is None:
        return FloorCheck(
            **base,
            value=t.value,
            ci_low=None,
            ci_high=None,
            n=t.n,
            outcome=NOT_EVALUATED,
            reason=f"only {t.n} of {t.n_requested} items were evaluated",
        )
    if t.early_stop is not None:
        # A fixed-sample interval is not valid after a data-dependent stop; the anytime-valid
        # sequence that stopped the task already decided it at the thresholds' alpha.
        passed = (t.early_stop.decision == "above_floor") == t.higher_is_better
        return FloorCheck(
            **base,
            value=t.value,
            ci_low=None,
            ci_high=None,
            n=t.n,
            outcome=PASS if passed else FAIL,
            reason=f"early verdict after {t.early_stop.items_used} of {t.early_stop.items_available} "
            f"items: {t.early_stop.reason}",
        )
    iv = task_interval(t, alpha)
    # Report lm-eval's value; the interval comes from the same per-item outcomes it averaged.
    low, high = iv.low, iv.high
    good_side = low > floor if t.higher_is_better else high < floor
    bad_side = high < floor if t.higher_is_better else low > floor
    cmp = ">=" if t.higher_is_better else "<="
    ci = f"[{low:.3f}, {high:.3f}]" + (f" ({iv.method})" if "clipped" in iv.method else "")
    if good_side:
        outcome, reason = PASS, f"{t.metric} {t.value:.3f} {ci} clears floor {cmp} {floor}"
    elif bad_side:
        outcome, reason = FAIL, f"{t.metric} {t.value:.3f} {ci} is below floor {cmp} {floor}"
    else:
        outcome, reason = (
            INCONCLUSIVE,
            f"{t.metric} {t.value:.3f} {ci} straddles floor {cmp} {floor}; more items needed",
        )
    near = near_chance(iv, t.chance, t.higher_is_better)
    if near:
        reason += f"; within noise of chance ({t.chance:.3f}): this benchmark has no signal for this model"
    return FloorCheck(
        **base,
        value=t.value,
        ci_low=low,
        ci_high=high,
        n=t.n,
        outcome=outcome,
        reason=reason,
        near_chance=near,
        ci_method=iv.method,
    )


def check(record: EvalRecord, thresholds: Thresholds, *, inconclusive_blocks: bool | None = None) -> Verdict:
    """Check every floor in `thresholds` against the record; a floor on a task the record lacks is a config error."""
    where = thresholds.path or "thresholds"
    checks = []
    for name, rule in thresholds.tasks.items():
        if rule.floor is None:
            continue
        try:
            t = record.task(name)
        except KeyError:
            raise ConfigError(
                f"{where}: tasks.{name}: the record has no task '{name}' (it has {', '.join(record.task_names())}); "
                "fix the name or run the suite that measures it"
            ) from None
        if t.metric != rule.metric:
            raise ConfigError(
                f"{where}: tasks.{name}.metric: '{rule.metric}' was not measured; "
                f"the record has '{t.metric}' for {name}"
            )
        if t.status == "ok" and t.higher_is_better != rule.higher_is_better:
            raise ConfigError(
                f"{where}: tasks.{name}.higher_is_better: says {rule.higher_is_better} but lm-eval says "
                f"{t.higher_is_better} for {t.metric}"
            )
        checks.append(_check_task(t, name, rule.floor, thresholds.alpha))
    blocking = tuple(BlockingFailure(t.name, t.blocking_failures) for t in record.tasks if t.blocking_failures)
    return Verdict(
        checks=tuple(checks),
        blocking=blocking,
        inconclusive_blocks=thresholds.policy.inconclusive_blocks
        if inconclusive_blocks is None
        else inconclusive_blocks,
        alpha=thresholds.alpha,
    )
