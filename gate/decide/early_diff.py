"""The diff's early verdict: stop pairing a candidate with its baseline once a task is surely regressed or ok.

The baseline's items are evaluated on the candidate in a seeded random order. Each item gives a paired
difference d = candidate - baseline in the metric's better direction (a drop is negative), in [-1, 1]
for scores in [0, 1]; y = (1 + d) / 2 lies in [0, 1] and its mean over the baseline's whole item pool is
(1 + delta) / 2, delta being the difference a full diff would measure. "Regressed" (delta < -allowance)
and "ok" (delta > -allowance, non-inferior) are the two sides of the boundary (1 - allowance) / 2 for the
mean of y, so the floor check's anytime-valid betting test (`gate.decide.sequential.decide`, without
replacement over the pool) decides them: each wrong side has probability at most alpha / 2 whatever the
stopping time, and when delta sits exactly on the allowance, where both answers are wrong, the chance
of deciding at all is at most alpha. A task still undecided when its items run out is decided by the
ordinary diff (`gate.decide.compare`), on all its items. Pure (numpy only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gate.decide.sequential import ABOVE, BELOW, FIRST_CHUNK, chunk_ends, decide, log_wealth
from gate.record import EARLY_DIFF_OK, EARLY_DIFF_REGRESSED, TaskResult

REGRESSED, OK, UNDECIDED = "regressed", "ok", "undecided"
# The diff looks more often than the floor check (chunks growing 1.25x, not 1.5x): a paired difference
# needs more items than a floor, so the items wasted between the decisive item and the next look weigh
# more; in simulation this saves 5-7% of the pool (scripts/simulate_early_diff.py).
DIFF_GROWTH = 1.25


def diff_looks(n: int, first: int = FIRST_CHUNK) -> list[int]:
    """The item counts after which the diff's early verdict decides: first, first*1.25, ..., n."""
    return chunk_ends(n, first, DIFF_GROWTH)


@dataclass(frozen=True)
class DiffDecision:
    """Where a task's paired difference stands against its allowance after `n` of `population` items."""

    decision: str  # REGRESSED | OK | UNDECIDED
    n: int
    population: int
    delta: float  # mean paired difference so far, in the better direction
    lower: float  # anytime-valid (1 - alpha) confidence sequence for the pool's delta, at this n
    upper: float
    allowance: float
    alpha: float

    @property
    def decided(self) -> bool:
        return self.decision != UNDECIDED

    @property
    def reason(self) -> str:
        where = {REGRESSED: "below", OK: "above", UNDECIDED: "across"}[self.decision]
        return (
            f"after {self.n} of {self.population} paired items (difference {self.delta:+.3f}) the anytime-valid "
            f"{100 * (1 - self.alpha):g}% betting confidence sequence [{self.lower:+.3f}, {self.upper:+.3f}] lies "
            f"{where} the allowed drop -{self.allowance:g}"
        )


def paired_y(candidate: np.ndarray, baseline: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """(1 + d) / 2 for each item's difference d in the better direction; scores must lie in [0, 1]."""
    c, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if np.any((c < 0) | (c > 1) | (b < 0) | (b > 1)):
        raise ValueError("the early diff needs per-item scores in [0, 1]")
    d = c - b if higher_is_better else b - c
    return (1 + d) / 2


def decide_diff(
    candidate: list[float] | np.ndarray,
    baseline: list[float] | np.ndarray,
    allowance: float,
    alpha: float,
    population: int,
    higher_is_better: bool = True,
) -> DiffDecision:
    """The decision after the paired items so far (in evaluation order) of a pool of `population` items."""
    y = paired_y(candidate, baseline, higher_is_better)
    f = decide(y, (1 - allowance) / 2, alpha, population=population)
    decision = OK if f.decision == ABOVE else REGRESSED if f.decision == BELOW else UNDECIDED
    return DiffDecision(
        decision=decision,
        n=f.n,
        population=population,
        delta=2 * f.mean - 1 if f.n else float("nan"),
        lower=2 * f.lower - 1,
        upper=2 * f.upper - 1,
        allowance=allowance,
        alpha=alpha,
    )


def simulated(y: np.ndarray, allowance: float, alpha: float, looks: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per run (row of pre-drawn y over the whole pool): the decision when it stops, and the items used.

    Looks only after the counts in `looks` (the live loop's chunk ends) and decides as `decide_diff`
    would there; a run undecided at the last look is UNDECIDED (the ordinary diff then decides it on
    all items). The bets are predictable, so one pass over each whole run gives every look. For the
    simulations.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n = y.shape[-1]
    bar = math.log(2 / alpha)
    up, dn = log_wealth(y, (1 - allowance) / 2, population=n)
    ever_up, ever_dn = np.maximum.accumulate(up, axis=-1), np.maximum.accumulate(dn, axis=-1)
    out = np.full(y.shape[0], UNDECIDED, dtype=object)
    used = np.full(y.shape[0], n)
    open_ = np.ones(y.shape[0], dtype=bool)
    for end in looks:
        a, b = ever_up[:, end - 1] >= bar, ever_dn[:, end - 1] >= bar
        ok, bad = open_ & a & ~b, open_ & b & ~a
        out[ok], out[bad] = OK, REGRESSED
        used[ok | bad] = end
        open_ &= ~(ok | bad)
    return out, used


def early_decision(candidate: TaskResult | None) -> tuple[str, str] | None:
    """The diff's decision and reason when the candidate's run stopped this task early (`gate run --early-diff`)."""
    stop = candidate.early_stop if candidate is not None else None
    if stop is None or stop.decision not in (EARLY_DIFF_REGRESSED, EARLY_DIFF_OK):
        return None
    decision = REGRESSED if stop.decision == EARLY_DIFF_REGRESSED else OK
    return decision, f"stopped early after {stop.items_used} of {stop.items_available} items: {stop.reason}"
