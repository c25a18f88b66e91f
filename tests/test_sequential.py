"""Early verdict: the anytime-valid floor check errs at most alpha, and stops early when far from the floor."""

from __future__ import annotations

import numpy as np
import pytest

from gate.decide.sequential import ABOVE, BELOW, UNDECIDED, decide, log_wealth, seeded_order, verdicts

ALPHA = 0.05


def _pools(n: int, ones: int, runs: int, seed: int) -> np.ndarray:
    """`runs` random orders of one fixed pool of n binary item scores with `ones` correct."""
    rng = np.random.default_rng(seed)
    base = np.zeros(n)
    base[:ones] = 1
    return np.stack([rng.permutation(base) for _ in range(runs)])


@pytest.mark.parametrize(("n", "floor", "chunk"), [(400, 0.25, 1), (400, 0.6, 16), (300, 0.5, 32)])
def test_error_rate_at_the_floor_is_at_most_alpha(n, floor, chunk):
    # A pool whose mean is exactly the floor: any decision is wrong.
    runs = _pools(n, round(floor * n), 1000, seed=n + chunk)
    v, _ = verdicts(runs, floor, ALPHA, population=n, chunk=chunk)
    assert (v != UNDECIDED).mean() <= ALPHA


def test_error_rate_for_iid_scores_is_at_most_alpha():
    rng = np.random.default_rng(7)
    draws = (rng.random((1500, 400)) < 0.4).astype(float)  # an endless pool, mean exactly the floor
    v, _ = verdicts(draws, 0.4, ALPHA, population=None, chunk=8)
    assert (v != UNDECIDED).mean() <= ALPHA


def test_just_below_the_floor_is_rarely_called_above():
    runs = _pools(500, 240, 1000, seed=3)  # mean 0.48, floor 0.5
    v, _ = verdicts(runs, 0.5, ALPHA, population=500, chunk=16)
    assert (v == ABOVE).mean() <= ALPHA / 2


@pytest.mark.parametrize(("mean", "floor", "want"), [(0.5, 0.4, ABOVE), (0.45, 0.55, BELOW), (0.35, 0.25, ABOVE)])
def test_ten_points_from_the_floor_stops_within_a_fifth_of_the_items(mean, floor, want):
    n = 2800  # about a fifth of MMLU's test items
    runs = _pools(n, round(mean * n), 200, seed=11)
    v, stop = verdicts(runs, floor, ALPHA, population=n, chunk=32)
    assert (v == want).mean() >= 0.99
    assert np.median(stop) <= 0.2 * n


def test_a_full_pool_always_decides():
    # With every item seen the pool mean is known: the without-replacement bets are then certain.
    runs = _pools(200, 110, 50, seed=5)  # mean 0.55
    v, stop = verdicts(runs, 0.5, ALPHA, population=200, chunk=200)
    assert (v == ABOVE).all() and (stop == 200).all()


def test_decide_reports_the_sequence_and_the_reason():
    scores = _pools(1000, 700, 1, seed=1)[0][:300]
    d = decide(scores, 0.4, ALPHA, population=1000)
    assert d.decision == ABOVE and d.decided
    assert d.lower > 0.4 and d.lower <= d.mean <= d.upper
    assert "after 300 of 1000 items" in d.reason and "above the floor 0.4" in d.reason
    undecided = decide(scores[:5], 0.4, ALPHA, population=1000)
    assert undecided.decision == UNDECIDED and undecided.lower < 0.4 < undecided.upper


def test_no_scores_is_undecided():
    d = decide([], 0.3, ALPHA, population=100)
    assert d.decision == UNDECIDED and d.n == 0


def test_scores_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        log_wealth(np.array([0.5, 1.5]), 0.5)
    with pytest.raises(ValueError, match="pool of 2"):
        log_wealth(np.array([0.0, 1.0, 1.0]), 0.5, population=2)


def test_seeded_order_is_a_fixed_permutation():
    a = seeded_order(50, seed=3)
    assert sorted(a) == list(range(50))
    assert a == seeded_order(50, seed=3) and a != seeded_order(50, seed=4)
