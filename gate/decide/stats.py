"""Statistics for judging one evaluation against another, item by item.

Pure functions of score sequences: numpy and scipy only, no model or MLflow code.

Why paired and clustered: two checkpoints answer the same items, so most of the noise in
each score is shared; the difference of per-item scores has a much smaller variance than
two independent scores suggest (lm-eval's own comparison uses an unpaired z-test and so
misses real drops). Items of one group (an MMLU subject) are correlated, so treating them
as independent would fake precision: where a task has enough groups, standard errors are
cluster-robust (CR1, the same as statsmodels' `cov_type="cluster"` for a mean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

# Cluster-robust errors need many clusters; with fewer they are themselves too noisy to trust,
# and the item-level error is used instead (the `method` field says which).
MIN_CLUSTERS = 10
DEFAULT_POWER = 0.80


@dataclass(frozen=True)
class Interval:
    """A point estimate with its (1 - alpha) confidence interval and standard error."""

    estimate: float
    low: float
    high: float
    stderr: float
    method: str = ""  # how it was computed: wilson, t, cluster-t; ", clipped to [lo, hi]" where it was

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class PairedDiff:
    """The mean of candidate - baseline over paired items, with its interval and test."""

    delta: float
    stderr: float
    low: float
    high: float
    p_value: float  # two-sided, no change
    n: int
    n_clusters: int  # number of independent units the error is based on (n when not clustered)
    df: int  # degrees of freedom of the t reference
    method: str  # "mcnemar-exact" | "paired-t" | "cluster-t"
    item_variance: float  # stderr**2 * n: per-item variance of differences, design effect included


@dataclass(frozen=True)
class _Spread:
    stderr: float
    n_clusters: int
    df: int
    clustered: bool


def _as_array(values: Sequence[float], what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a flat sequence of scores")
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: scores must be finite numbers")
    return a


def _cluster_labels(groups: Sequence[str | None] | None, n: int) -> np.ndarray | None:
    """Integer cluster labels; an item without a group is a cluster of its own."""
    if groups is None:
        return None
    if len(groups) != n:
        raise ValueError(f"groups: {len(groups)} labels for {n} scores")
    if all(g is None for g in groups):
        return None
    index: dict[object, int] = {}
    labels = np.empty(n, dtype=np.int64)
    for i, g in enumerate(groups):
        key: object = ("item", i) if g is None else g
        labels[i] = index.setdefault(key, len(index))
    return labels


def iid_stderr(values: Sequence[float]) -> float:
    """Standard error of the mean, items independent (sample standard deviation / sqrt n)."""
    a = _as_array(values, "values")
    if a.size < 2:
        return math.nan
    return float(a.std(ddof=1) / math.sqrt(a.size))


def cluster_stderr(values: Sequence[float], groups: Sequence[str | None]) -> float:
    """Cluster-robust (CR1) standard error of the mean.

    Equals statsmodels `OLS(values, ones).fit(cov_type="cluster", cov_kwds={"groups": ...}).bse`:
    sqrt(G / (G - 1) * sum_g (sum_{i in g} (x_i - mean))^2) / n.
    """
    a = _as_array(values, "values")
    labels = _cluster_labels(groups, a.size)
    if labels is None:
        return iid_stderr(a)
    g = int(labels.max()) + 1
    if g < 2:
        return math.nan
    sums = np.bincount(labels, weights=a - a.mean(), minlength=g)
    return float(math.sqrt(g / (g - 1) * float(np.sum(sums**2))) / a.size)


def _spread(a: np.ndarray, groups: Sequence[str | None] | None) -> _Spread:
    n = a.size
    labels = _cluster_labels(groups, n)
    iid = iid_stderr(a)
    if labels is not None:
        g = int(labels.max()) + 1
        if g >= MIN_CLUSTERS:
            # Never report more precision than the items alone would give: with few
            # effective clusters CR1 can come out below the iid error by chance.
            cl = cluster_stderr(a, groups)  # type: ignore[arg-type]
            return _Spread(max(cl, iid), g, g - 1, True)
    return _Spread(iid, n, max(n - 1, 1), False)


def _t(q: float, df: int | None) -> float:
    return float(_st.norm.ppf(q)) if df is None else float(_st.t.ppf(q, df))


def normal_quantile(q: float) -> float:
    """The standard normal's q-quantile (1.96 for q = 0.975)."""
    return _t(q, None)


def _is_binary(a: np.ndarray) -> bool:
    return bool(np.all((a == 0) | (a == 1)))


def wilson_interval(successes: float, n: int, alpha: float = 0.05) -> Interval:
    """Wilson score interval for a proportion; well-behaved near 0 and 1 and for small n.

    `successes` may count halves (the pairwise win rate's ties): the interval then treats each item as a
    coin with that mean, which overstates a tie's variance (it has none) and so errs wide, never narrow.
    """
    if n <= 0:
        raise ValueError("wilson_interval: n must be positive")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: successes {successes} not within 0..{n}")
    z = float(_st.norm.ppf(1 - alpha / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), math.sqrt(p * (1 - p) / n), "wilson")


def mean_interval(
    scores: Sequence[float],
    groups: Sequence[str | None] | None = None,
    alpha: float = 0.05,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """(1 - alpha) interval for the mean score of one task.

    0/1 scores without clustering get the Wilson interval; otherwise mean +- t * stderr, with a
    cluster-robust stderr and G - 1 degrees of freedom when there are at least MIN_CLUSTERS groups.
    A t interval that leaves the metric's range (`bounds`, e.g. [0, 1] for an accuracy: 24 MMLU items
    in 12 subjects give one below zero) is clipped to it, and its method says so. Clipping moves no
    decision: a floor or chance inside the range is on the same side of the clipped end.
    """
    a = _as_array(scores, "scores")
    if a.size == 0:
        raise ValueError("mean_interval: no scores")
    s = _spread(a, groups)
    if not s.clustered and _is_binary(a):
        return wilson_interval(int(a.sum()), int(a.size), alpha)
    mean = float(a.mean())
    method = "cluster-t" if s.clustered else "t"
    if a.size < 2:
        return Interval(mean, -math.inf, math.inf, math.nan, method)
    half = _t(1 - alpha / 2, s.df) * s.stderr
    low, high = mean - half, mean + half
    if bounds is not None and (low < bounds[0] or high > bounds[1]):
        low, high = max(low, bounds[0]), min(high, bounds[1])
        method += f", clipped to [{bounds[0]:g}, {bounds[1]:g}]"
    return Interval(mean, low, high, s.stderr, method)


def near_chance(interval: Interval, chance: float | None, higher_is_better: bool) -> bool:
    """Whether a score cannot be told from random guessing: its interval reaches chance, or lies on the
    wrong side of it. The one definition that `gate run`, `gate check` and `gate diff` all use."""
    if chance is None:
        return False
    return interval.low <= chance if higher_is_better else interval.high >= chance


def mcnemar_exact(newly_right: int, newly_wrong: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs at 1/2."""
    k = newly_right + newly_wrong
    if k == 0:
        return 1.0
    return float(min(1.0, 2 * _st.binom.cdf(min(newly_right, newly_wrong), k, 0.5)))


def paired_difference(
    candidate: Sequence[float],
    baseline: Sequence[float],
    groups: Sequence[str | None] | None = None,
    alpha: float = 0.05,
) -> PairedDiff:
    """Mean of candidate - baseline over items paired by position, with a (1 - alpha) interval.

    The interval is mean +- t * stderr (cluster-robust where groups allow). The p-value tests
    no change: exact McNemar when both score sets are 0/1 and unclustered, else the same t.
    """
    c = _as_array(candidate, "candidate")
    b = _as_array(baseline, "baseline")
    if c.size != b.size:
        raise ValueError(f"paired_difference: {c.size} candidate scores for {b.size} baseline scores")
    if c.size < 2:
        raise ValueError("paired_difference: need at least 2 paired items")
    d = c - b
    s = _spread(d, groups)
    delta = float(d.mean())
    se = s.stderr
    half = _t(1 - alpha / 2, s.df) * se
    if not s.clustered and _is_binary(c) and _is_binary(b):
        p = mcnemar_exact(int(np.sum(d > 0)), int(np.sum(d < 0)))
        method = "mcnemar-exact"
    else:
        no_spread = 1.0 if delta == 0 else 0.0  # every item moved by exactly delta
        p = float(2 * _st.t.sf(abs(delta) / se, s.df)) if se > 0 else no_spread
        method = "cluster-t" if s.clustered else "paired-t"
    return PairedDiff(
        delta=delta,
        stderr=se,
        low=delta - half,
        high=delta + half,
        p_value=p,
        n=int(d.size),
        n_clusters=s.n_clusters,
        df=s.df,
        method=method,
        item_variance=se * se * d.size,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (family-wise error control)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    stepped = np.maximum.accumulate(scaled)
    out = np.empty(m)
    out[order] = stepped
    return [float(x) for x in out]


def minimum_detectable_drop(
    n: int,
    item_variance: float,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
    margin: float = 0.0,
    df: int | None = None,
    bounded: bool = False,
) -> float:
    """The true drop that a (1 - alpha) interval places wholly below -margin with probability `power`.

    margin + (t_{1-alpha/2} + t_{power}) * sqrt(item_variance / n). With `bounded` (scores in
    [0, 1]) the variance is at least D(1 - D), the least any true drop D can have (every changed
    item changing the same way), so an unchanged candidate does not claim to detect every drop.
    Returns inf when no drop within [0, 1] is detectable at this n.
    """
    if n < 2:
        return math.inf
    k = _t(1 - alpha / 2, df) + _t(power, df)

    def needed(d: float) -> float:
        v = max(item_variance, d * (1 - d)) if bounded else item_variance
        return margin + k * math.sqrt(max(v, 0.0) / n)

    if not bounded:
        return needed(0.0)
    # D = margin is a trivial root when the variance is 0; look just above it.
    lo, hi = margin + 1e-12, 1.0
    if hi - needed(hi) < 0:
        return math.inf
    if lo - needed(lo) >= 0:
        return lo
    for _ in range(60):  # bisection for the smallest D with D >= needed(D)
        mid = (lo + hi) / 2
        if mid - needed(mid) >= 0:
            hi = mid
        else:
            lo = mid
    return hi
