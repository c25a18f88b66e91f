#!/usr/bin/env python3
"""The diff's early verdict by simulation: wrong decisions and items used, per true change.

Each simulated task is a pool of N paired items whose paired differences are fixed exactly: a share
`discordance` of items differ between candidate and baseline, tilted so that the pool's difference is
exactly `-drop` (what a full diff would measure). The live loop's decision code
(`gate.decide.early_diff`, looking after the chunk ends of `gate.run.early.chunk_ends`) evaluates the
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

from gate.decide.early_diff import OK, REGRESSED, UNDECIDED, simulated  # noqa: E402

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


def pool(n: int, discordance: float, drop: float) -> np.ndarray:
    """y = (1 + d) / 2 of a pool whose mean difference is exactly -drop (rounded to whole items)."""
    worse = round(n * (discordance + drop) / 2)
    better = round(n * discordance) - worse
    if better < 0:
        raise ValueError(f"discordance {discordance} cannot give a drop of {drop}")
    y = np.full(n, 0.5)
    y[:worse], y[worse : worse + better] = 0.0, 1.0
    return y


def simulate(n: int, discordance: float, drop: float, allowance: float, *, sims: int, seed: int = 0) -> Outcome:
    """`sims` runs on one pool; with drop == allowance the allowance is set to the pool's exact difference
    (whole items cannot always give it), so the pool sits exactly on it."""
    from gate.run.early import chunk_ends

    rng = np.random.default_rng(seed)
    y = pool(n, discordance, drop)
    true_delta = 2 * y.mean() - 1
    if drop == allowance:
        allowance = -true_delta
    looks = chunk_ends(n)
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
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # Pools: ARC-Challenge's 1,172, a 5,000-item task, MMLU's 14,042; discordance 12% (measured 12.8% for
    # a lightly damaged SmolLM2); the shipped allowances (2 and 3 points).
    setups = [(1172, 0.12, 0.03), (5000, 0.12, 0.02), (14042, 0.12, 0.02), (14042, 0.12, 0.03)]
    print(f"alpha {ALPHA}, {args.sims} runs each; wrong = decided the side of the allowance the pool is not on\n")
    print("| items | allowed drop | true drop | wrong | regressed | ok | undecided | items used (mean) | p90 |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for n, disc, a in setups:
        for k in (0, 0.5, 1, 2, 3):
            o = simulate(n, disc, k * a, a, sims=args.sims, seed=args.seed)
            print(
                f"| {n:,} | {a * 100:.0f} pts | {k:g}x ({o.drop * 100:.1f} pts) | {o.wrong:.2%} | {o.regressed:.1%} "
                f"| {o.ok:.1%} | {o.undecided:.1%} | {o.items_used:.0%} | {o.items_used_p90:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
