"""Anytime-valid floor checks: stop evaluating a task once its mean is surely above or below a floor.

Items are scored in a seeded random order. After each one, two betting processes (Waudby-Smith &
Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2024) bet against the
nulls "the task's mean is at most the floor" and "at least the floor". Under its null each process is
a nonnegative supermartingale starting at 1, so by Ville's inequality it ever reaches 2/alpha with
probability at most alpha/2, whenever one looks and however one stops. Crossing decides; the
chance that a decision is wrong is at most alpha, for every stopping rule.

The mean in question is the mean over the task's whole item pool (the answer a full run would give),
so the bets use the without-replacement correction: given the items already scored, the null's mean
of the items still unscored is `(N * floor - sum so far) / (N - t)`. Scores must lie in [0, 1].
This module is pure (numpy only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_TRUNCATION = 0.5  # a bet never risks more than half the wealth: 1 + lam * (x - m) >= 0.5
ABOVE, BELOW, UNDECIDED = "above_floor", "below_floor", "undecided"


@dataclass(frozen=True)
class FloorDecision:
    """Where a task stands against its floor after `n` of `population` items."""

    decision: str  # ABOVE | BELOW | UNDECIDED
    n: int
    population: int | None
    mean: float
    lower: float  # anytime-valid (1 - alpha) confidence sequence for the pool mean, at this n
    upper: float
    floor: float
    alpha: float

    @property
    def decided(self) -> bool:
        return self.decision != UNDECIDED

    @property
    def reason(self) -> str:
        where = {ABOVE: "above", BELOW: "below", UNDECIDED: "across"}[self.decision]
        of = f" of {self.population}" if self.population else ""
        return (
            f"after {self.n}{of} items (mean {self.mean:.3f}) the anytime-valid {100 * (1 - self.alpha):g}% "
            f"betting confidence sequence [{self.lower:.3f}, {self.upper:.3f}] lies {where} the floor {self.floor:g}"
        )


# Looks: the tests are anytime-valid, so looking more often costs no error rate; a look costs one chunk's
# call into lm-eval, and growing chunks keep the number of calls logarithmic in the items.
FIRST_CHUNK = 64  # items of the first look; later looks grow by GROWTH
GROWTH = 1.5


def chunk_ends(n: int, first: int = FIRST_CHUNK, growth: float = GROWTH) -> list[int]:
    """Item counts after each look: first, first*growth, ..., n."""
    ends, k = [], min(first, n)
    while k < n:
        ends.append(k)
        k = max(k + 1, math.ceil(k * growth))
    ends.append(n)
    return ends


def log_wealth(
    x: np.ndarray, m: float | np.ndarray, population: int | None = None, c: float = DEFAULT_TRUNCATION
) -> tuple[np.ndarray, np.ndarray]:
    """Log-wealth after each item of bets against "mean <= m" (first) and "mean >= m" (second).

    `x` has items on its last axis (leading axes are independent runs); `m` is a scalar or an array
    of candidate means, broadcast against the item axis as `m[..., None]`. Bets are predictable:
    the bet on item t uses items before t only (aGRAPA with a truncation `c`).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)[..., None]
    n = x.shape[-1]
    if n == 0:
        shape = np.broadcast_shapes(x.shape, m.shape)
        return np.zeros(shape), np.zeros(shape)
    if np.any((x < 0) | (x > 1)):
        raise ValueError("scores must lie in [0, 1]")
    t = np.arange(1, n + 1)  # item index, 1-based
    s_prev = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)[..., :-1]], axis=-1)
    mu_prev = (0.5 + s_prev) / t  # regularised mean of items before t
    mu_incl = (0.5 + s_prev + x) / (t + 1)
    sq = (x - mu_incl) ** 2
    v_prev = (0.25 + np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(sq, axis=-1)[..., :-1]], axis=-1)) / t
    if population is not None:
        if n > population:
            raise ValueError(f"{n} scores from a pool of {population} items")
        # the null's mean of the items not yet seen, given those seen
        m_t = (population * m - s_prev) / (population - t + 1)
    else:
        m_t = m + 0 * s_prev
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = mu_prev - m_t
        lam = edge / (v_prev + edge**2)
        lam_up = np.clip(np.nan_to_num(lam), 0, None)
        lam_dn = np.clip(np.nan_to_num(-lam), 0, None)
        lam_up = np.minimum(lam_up, np.where(m_t > 0, c / np.maximum(m_t, 1e-12), 0.0))
        lam_dn = np.minimum(lam_dn, np.where(m_t < 1, c / np.maximum(1 - m_t, 1e-12), 0.0))
        step_up = np.log1p(lam_up * (x - m_t))
        step_dn = np.log1p(-lam_dn * (x - m_t))
        # A null mean outside [0, 1] for the unseen items is already impossible: that null is refuted.
        step_up = np.where(m_t < 0, np.inf, np.where(m_t > 1, 0.0, step_up))
        step_dn = np.where(m_t > 1, np.inf, np.where(m_t < 0, 0.0, step_dn))
    return np.cumsum(step_up, axis=-1), np.cumsum(step_dn, axis=-1)


def decide(
    scores: np.ndarray | list[float],
    floor: float,
    alpha: float,
    population: int | None = None,
    grid: int = 401,
) -> FloorDecision:
    """The floor decision after `scores` (in evaluation order), with the confidence sequence at this point.

    Above when the bet against "mean <= floor" has ever reached 2/alpha, below when the bet against
    "mean >= floor" has; the error of either is at most alpha/2 whatever the stopping time.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} is not in (0, 1)")
    x = np.asarray(scores, dtype=float)
    n = len(x)
    bar = math.log(2 / alpha)
    up, dn = log_wealth(x, floor, population)
    above = n > 0 and bool(np.max(up) >= bar)
    below = n > 0 and bool(np.max(dn) >= bar)
    decision = ABOVE if above and not below else BELOW if below and not above else UNDECIDED
    ms = np.linspace(0.0, 1.0, grid)
    if n:
        g_up, g_dn = log_wealth(x, ms, population)
        # the running intersection over time: also a valid sequence, and it agrees with the decision
        kept = ms[(g_up.max(axis=-1) < bar) & (g_dn.max(axis=-1) < bar)]
    else:
        kept = ms
    lower, upper = (float(kept.min()), float(kept.max())) if kept.size else (float("nan"), float("nan"))
    return FloorDecision(
        decision=decision,
        n=n,
        population=population,
        mean=float(x.mean()) if n else float("nan"),
        lower=lower,
        upper=upper,
        floor=floor,
        alpha=alpha,
    )


def seeded_order(n: int, seed: int) -> list[int]:
    """The evaluation order of a pool of n items: a permutation fixed by the seed."""
    rng = np.random.default_rng(seed)
    return rng.permutation(n).tolist()


def stopping_time(
    scores: np.ndarray, floor: float, alpha: float, population: int | None = None, chunk: int = 1
) -> np.ndarray:
    """For each run (row) of pre-drawn scores, the number of items used when the check stops.

    Checking only after every `chunk` items; a run that never decides uses all its items. Used by the
    simulations that show the error rate holds; the live loop calls `decide` after each chunk.
    """
    x = np.atleast_2d(np.asarray(scores, dtype=float))
    bar = math.log(2 / alpha)
    up, dn = log_wealth(x, floor, population)
    n = x.shape[-1]
    looks = np.zeros(n, dtype=bool)
    looks[chunk - 1 :: chunk] = True
    looks[-1] = True
    hit = ((up >= bar) | (dn >= bar)) & looks
    first = np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, n)
    return first


def verdicts(scores: np.ndarray, floor: float, alpha: float, population: int | None = None, chunk: int = 1):
    """Per run: the decision at its stopping time (ABOVE, BELOW or UNDECIDED) and that time."""
    x = np.atleast_2d(np.asarray(scores, dtype=float))
    bar = math.log(2 / alpha)
    up, dn = log_wealth(x, floor, population)
    stop = stopping_time(x, floor, alpha, population, chunk)
    idx = stop - 1
    rows = np.arange(x.shape[0])
    run_up = np.maximum.accumulate(up, axis=-1)[rows, idx] >= bar
    run_dn = np.maximum.accumulate(dn, axis=-1)[rows, idx] >= bar
    out = np.where(run_up & ~run_dn, ABOVE, np.where(run_dn & ~run_up, BELOW, UNDECIDED))
    return out, stop
