"""Power before the run: can this many paired items resolve a task's allowed drop?

For each gated task, from the number of items the run will pair and a per-item variance of the
paired difference, the smallest true drop the diff finds *regressed* with 80% power
(`stats.minimum_detectable_drop`, the same figure every diff reports as MDE), and the number of
items the allowance needs. An allowance is *resolved* when (t_{1-alpha/2} + t_power) * SE fits inside
it: an unchanged candidate is then shown `ok` with 80% probability, and a true drop of twice the
allowance is found `regressed` as often. With fewer items the diff mostly answers `inconclusive`.

The variance is the planning assumption. For 0/1 scores the variance of a paired difference is
the share of items whose outcome changes (the discordance rate) less the squared drop; a light
fine-tune changes 5-15% of answers (measured: 12.8% for SmolLM2-135M with 8% weight noise on
ARC-Easy, docs/diff.md). The default assumes 15%; a baseline record caps it by what its own items
allow (an item answered right 95% of the time cannot change 15% of the time at random: at most
2 p (1 - p) when the two models err independently). Clustering by subject is not modelled: for
MMLU-like groups the real resolution is somewhat coarser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gate.decide import stats

DEFAULT_DISCORDANCE = 0.15


@dataclass(frozen=True)
class TaskPlan:
    task: str
    n: int  # items the diff will pair
    allowance: float
    variance: float  # per-item variance of the paired difference assumed
    variance_source: str
    mde: float  # true drop found regressed with 80% power at n (inf: none within [0, 1])
    n_needed: int | None  # items for the allowance to be resolved (None: an allowance of 0 never is)
    percent: bool = True

    @property
    def resolvable(self) -> bool:
        return self.n_needed is not None and self.n >= self.n_needed

    def line(self) -> str:
        def pts(x: float) -> str:
            if math.isinf(x):
                return "no drop at all"
            return f"{x * 100:.1f} pts" if self.percent else f"{x:.3g}"

        head = (
            f"{self.task}: {self.n} paired items detect a drop of {pts(self.mde)} at 80% power "
            f"(allowed {pts(self.allowance)}; {self.variance_source})"
        )
        if self.resolvable:
            return head + "; the allowance is resolved"
        if self.n_needed is None:
            return head + "; an allowance of 0 is never shown to hold: any significant drop blocks"
        return head + f"; resolving the allowance needs about {self.n_needed:,} items: expect inconclusive"


@dataclass(frozen=True)
class PowerPlan:
    tasks: tuple[TaskPlan, ...]
    alpha: float
    power: float = stats.DEFAULT_POWER

    @property
    def unresolved(self) -> tuple[TaskPlan, ...]:
        return tuple(t for t in self.tasks if not t.resolvable)

    def lines(self) -> list[str]:
        return [t.line() for t in self.tasks]


def planning_variance(
    baseline_scores: Sequence[float] | None, discordance: float = DEFAULT_DISCORDANCE
) -> tuple[float, str]:
    """The variance a plan assumes, and where it comes from (see the module docstring)."""
    if not baseline_scores:
        return discordance, f"assuming {discordance:.0%} of items change"
    n = len(baseline_scores)
    mean = sum(baseline_scores) / n
    var = sum((x - mean) ** 2 for x in baseline_scores) / n
    cap = 2 * var
    if cap < discordance:
        return cap, f"at most {cap:.1%} of items can change at the baseline's {mean:.1%}"
    return discordance, f"assuming {discordance:.0%} of items change"


def needed_items(allowance: float, variance: float, alpha: float, power: float = stats.DEFAULT_POWER) -> int | None:
    """Items for (z_{1-alpha/2} + z_power) * sqrt(variance / n) <= allowance; None for an allowance of 0."""
    if allowance <= 0:
        return None
    k = stats.normal_quantile(1 - alpha / 2) + stats.normal_quantile(power)
    return max(2, math.ceil(k * k * variance / (allowance * allowance)))


def plan_task(
    task: str,
    n: int,
    allowance: float,
    alpha: float,
    *,
    baseline_scores: Sequence[float] | None = None,
    discordance: float = DEFAULT_DISCORDANCE,
    percent: bool = True,
) -> TaskPlan:
    variance, source = planning_variance(baseline_scores, discordance)
    mde = stats.minimum_detectable_drop(n, variance, alpha, stats.DEFAULT_POWER, allowance, bounded=percent)
    return TaskPlan(task, n, allowance, variance, source, mde, needed_items(allowance, variance, alpha), percent)
