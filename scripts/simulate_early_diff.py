#!/usr/bin/env python3
"""The diff's early verdict by simulation: wrong decisions and items used, per true change.

Each simulated task is a pool of N paired items whose paired differences are fixed exactly: a share
`discordance` of items differ between candidate and baseline, tilted so that the pool's difference is
exactly `-drop` (what a full diff would measure). The live loop's decision code
(`gate.decide.early_diff`, looking after `gate.decide.early_diff.diff_looks`) evaluates the
pool in a random order and stops once the task is surely regressed (drop beyond the allowance) or ok.
A decision is wrong when it names the side of the allowance the pool is not on; on the allowance
itself both are wrong. Undecided runs go to the ordinary diff on all items (counted as all items used).

    python scripts/simulate_early_diff.py                # the table in docs/perf.md (a few minutes)
    python scripts/simulate_early_diff.py --sims 500     # quicker, noisier
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.decide.early_diff import OK, REGRESSED, UNDECIDED, diff_looks, simulated  # noqa: E402

ALPHA = 0.05
BATCH = 100  # runs per pass (memory: BATCH x N floats a few times over)


@dataclass(frozen=True)
class Outcome:
    n: int
    drop: float
    allowance: float
    wrong: float  # share of runs whose early decision is wrong
    regressed: float
    ok: float
    undecided: float
    items_used: float  # mean share of the pool evaluated
    items_used_p90: float
    fixed_n: float  # share of the pool a fixed-sample test needs for 80% power (the reference; see fixed_sample_share)


def pool(n: int, discordance: float, drop: float) -> np.ndarray:
    """y = (1 + d) / 2 of a pool whose mean difference is exactly -drop (rounded to whole items)."""
    worse = round(n * (discordance + drop) / 2)
    better = round(n * discordance) - worse
    if better < 0:
        raise ValueError(f"discordance {discordance} cannot give a drop of {drop}")
    y = np.full(n, 0.5)
    y[:worse], y[worse : worse + better] = 0.0, 1.0
    return y


def fixed_sample_share(n: int, discordance: float, delta: float, allowance: float, alpha: float = ALPHA) -> float:
    """The share of a pool of `n` items that a fixed-sample paired z-test (two-sided alpha, 80% power) needs to
    tell `delta` from the allowance: what the best test that looks once, knowing the truth's distance in
    advance, would spend. Paired differences in {-1, 0, 1} with `discordance` of them non-zero have variance
    discordance - delta^2; sampling without replacement from the pool shrinks it (finite population
    correction). No valid test, sequential or not, decides reliably on much less."""
    from scipy.stats import norm

    gap = abs(delta + allowance)
    if gap == 0:
        return float("nan")  # on the allowance: no number of items decides it
    n0 = (norm.ppf(1 - alpha / 2) + norm.ppf(0.8)) ** 2 * (discordance - delta**2) / gap**2
    return min(1.0, n0 / (1 + (n0 - 1) / n) / n)


def simulate(n: int, discordance: float, drop: float, allowance: float, *, sims: int, seed: int = 0) -> Outcome:
    """`sims` runs on one pool; with drop == allowance the allowance is set to the pool's exact difference
    (whole items cannot always give it), so the pool sits exactly on it."""
    rng = np.random.default_rng(seed)
    y = pool(n, discordance, drop)
    true_delta = 2 * y.mean() - 1
    if drop == allowance:
        allowance = -true_delta
    looks = diff_looks(n)
    decisions, used = [], []
    for start in range(0, sims, BATCH):
        k = min(BATCH, sims - start)
        runs = np.stack([rng.permutation(y) for _ in range(k)])
        d, u = simulated(runs, allowance, ALPHA, looks)
        decisions.append(d)
        used.append(u)
    d, u = np.concatenate(decisions), np.concatenate(used) / n
    on = abs(true_delta + allowance) < 1e-12
    wrong = (d != UNDECIDED) if on else (d == OK) if true_delta < -allowance else (d == REGRESSED)
    return Outcome(
        n=n,
        drop=drop,
        allowance=allowance,
        wrong=float(wrong.mean()),
        regressed=float((d == REGRESSED).mean()),
        ok=float((d == OK).mean()),
        undecided=float((d == UNDECIDED).mean()),
        items_used=float(u.mean()),
        items_used_p90=float(np.quantile(u, 0.9)),
        fixed_n=fixed_sample_share(n, discordance, true_delta, allowance),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # Pools: ARC-Challenge's 1,172, a 5,000-item task, MMLU's 14,042; discordance 12% (measured 12.8% for
    # a lightly damaged SmolLM2); the shipped allowances (2 and 3 points).
    # and discordance 4% (a bf16 copy or a light fine-tune flips fewer items).
    setups = [(1172, 0.12, 0.03), (5000, 0.12, 0.02), (14042, 0.12, 0.02), (14042, 0.12, 0.03)]
    setups += [(1172, 0.04, 0.03), (5000, 0.04, 0.02)]
    print(f"alpha {ALPHA}, {args.sims} runs each; wrong = decided the side of the allowance the pool is not on\n")
    print(
        "| items | items that differ | allowed drop | true drop | wrong | regressed | ok | undecided "
        "| items used (mean) | p90 | fixed-sample test needs |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for n, disc, a in setups:
        for k in (0, 0.5, 1, 2, 3):
            if k * a > disc:
                continue  # a drop larger than the share of items that differ cannot happen
            o = simulate(n, disc, k * a, a, sims=args.sims, seed=args.seed)
            print(
                f"| {n:,} | {disc:.0%} | {a * 100:.0f} pts | {k:g}x ({o.drop * 100:.1f} pts) | {o.wrong:.2%} "
                f"| {o.regressed:.1%} | {o.ok:.1%} | {o.undecided:.1%} | {o.items_used:.0%} | {o.items_used_p90:.0%} "
                f"| {'-' if o.fixed_n != o.fixed_n else f'{o.fixed_n:.0%}'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
