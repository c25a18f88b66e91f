"""The power plan of a run, before any model loads: for each gated task of the suites, the items the
diff will pair and whether they can resolve its allowance (`gate.decide.power`).

The item count comes from the baseline record when one is given (the diff pairs at most its items),
else from `--sample` and the suite's `limit`, else from the task's own size in lm-eval.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gate.config import Suite, Thresholds
from gate.decide.power import DEFAULT_DISCORDANCE, PowerPlan, plan_task
from gate.errors import ConfigError
from gate.record import EvalRecord


def unknown_rules(suites: Sequence[Suite], thresholds: Thresholds) -> list[str]:
    """Thresholds tasks that none of the suites runs (a typo, or another stage's rule)."""
    names = {t.task for s in suites for t in s.tasks}
    return [n for n in thresholds.tasks if n not in names]


def plan_run(
    suites: Sequence[Suite],
    thresholds: Thresholds,
    *,
    sample: int | None = None,
    data_dir: Path | None = None,
    baseline: EvalRecord | None = None,
    discordance: float = DEFAULT_DISCORDANCE,
    strict: bool = True,
) -> PowerPlan:
    """The plan of every gated task of `suites` (informational tasks are left out).

    `strict=False` (gate run) leaves out a task the file gives no allowance, where `gate plan` and
    `gate diff` say it is a config error: a run may use a floors-only file to decide its next stage.
    """
    plans = []
    for suite in suites:
        for spec in suite.tasks:
            try:
                rule = thresholds.rule(spec.task, spec.metric, None)  # type: ignore[arg-type]
            except ConfigError:
                if strict:
                    raise
                continue
            if rule.informational or rule.max_drop is None:
                continue
            base = _baseline_task(baseline, spec.task)
            caps = [x for x in (sample, spec.limit, base.n if base else None) if x is not None]
            n = min(caps) if caps else _size(spec, suite, data_dir)
            scores = [i.score for i in base.items] if base else None
            percent = scores is None or all(0.0 <= s <= 1.0 for s in scores)
            plans.append(
                plan_task(
                    spec.task, n, rule.max_drop, thresholds.alpha,
                    baseline_scores=scores, discordance=discordance, percent=percent,
                )
            )  # fmt: skip
    return PowerPlan(tuple(plans), thresholds.alpha)


def check_power(plan: PowerPlan, thresholds: Thresholds) -> None:
    """Under `policy.require_power`, refuse a plan that cannot resolve every allowance (exit 2)."""
    if thresholds.policy.require_power and plan.unresolved:
        first = plan.unresolved[0]
        more = f" (and {len(plan.unresolved) - 1} more)" if len(plan.unresolved) > 1 else ""
        raise ConfigError(
            f"{thresholds.path or 'thresholds'}: policy.require_power: {first.line()}{more}; "
            "evaluate more items (--sample), widen max_drop, or set require_power: false"
        )


def _baseline_task(baseline: EvalRecord | None, name: str):
    if baseline is None:
        return None
    try:
        t = baseline.task(name)
    except KeyError:
        return None
    return t if t.status == "ok" and t.items else None


def _size(spec, suite: Suite, data_dir: Path | None) -> int:
    from gate.lmeval.tasks import load_task  # lm-eval: only when the size is not known otherwise

    return sum(load_task(spec, suite, data_dir).sizes().values())
