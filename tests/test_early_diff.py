"""The diff's early verdict (gate.decide.early_diff): the promised error rate, by simulation (no model).

The pools are built by scripts/simulate_early_diff.py's `pool`: paired differences fixed exactly, so the
pool's true difference is known and a wrong decision is well defined.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from gate.decide.early_diff import OK, REGRESSED, UNDECIDED, decide_diff, diff_looks, simulated

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from simulate_early_diff import pool, simulate  # noqa: E402

ALPHA = 0.05
SIMS = 2000


def _within_binomial_error_of_alpha(rate: float) -> bool:
    return rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / SIMS)


def test_on_the_allowance_itself_a_decision_is_made_at_most_alpha_of_the_time():
    # Both answers are wrong there: any early decision counts as an error.
    o = simulate(2000, 0.15, 0.03, 0.03, sims=SIMS, seed=1)
    assert o.wrong == pytest.approx(o.regressed + o.ok)
    assert _within_binomial_error_of_alpha(o.wrong), o


@pytest.mark.parametrize("drop", [0.0, 0.015, 0.045, 0.06])
def test_either_side_of_the_allowance_the_wrong_side_is_named_at_most_alpha_of_the_time(drop):
    o = simulate(2000, 0.15, drop, 0.03, sims=SIMS, seed=2)
    assert _within_binomial_error_of_alpha(o.wrong), o


def test_a_clear_regression_and_no_change_are_decided_on_a_fraction_of_the_items():
    worse = simulate(5000, 0.12, 0.06, 0.03, sims=200, seed=3)
    same = simulate(5000, 0.12, 0.0, 0.03, sims=200, seed=3)
    assert worse.regressed > 0.95 and worse.items_used < 0.5, worse
    assert same.ok > 0.95 and same.items_used < 0.5, same


def test_the_live_decision_agrees_with_the_simulated_one_and_says_why():
    rng = np.random.default_rng(4)
    y = rng.permutation(pool(3000, 0.15, 0.09))
    looks = diff_looks(len(y))
    (expected,), (used,) = simulated(y, 0.03, ALPHA, looks)
    # candidate and baseline scores whose difference gives y: baseline 1 where y is 0, candidate 1 where y is 1
    base, cand = (y == 0).astype(float), (y == 1).astype(float)
    live = next(d for end in looks if (d := decide_diff(cand[:end], base[:end], 0.03, ALPHA, len(y))).decided)
    assert expected == REGRESSED and live.decision == REGRESSED and live.n == used
    assert live.upper < -0.03 and "below the allowed drop -0.03" in live.reason
    assert decide_diff([], [], 0.03, ALPHA, 3000).decision == UNDECIDED
    flipped = decide_diff(base[:used], cand[:used], 0.03, ALPHA, len(y), higher_is_better=False)
    assert flipped.decision == REGRESSED
    assert decide_diff(cand[:used], base[:used], 0.03, ALPHA, len(y), higher_is_better=True).decision != OK
