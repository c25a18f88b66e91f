"""The shipped diff policy's error rates, measured by simulation (scripts/simulate_policy.py, docs/diff.md)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "simulate_policy", Path(__file__).parents[1] / "scripts" / "simulate_policy.py"
)
sim = importlib.util.module_from_spec(spec)
sys.modules["simulate_policy"] = sim  # dataclasses look their module up there
spec.loader.exec_module(sim)

SIMS = 1500


def test_no_true_change_blocks_at_most_alpha_of_the_time():
    r = sim.simulate(300, 0.6, 0.15, 0.0, 0.02, sims=SIMS, seed=1)
    tolerance = 3 * math.sqrt(sim.ALPHA * (1 - sim.ALPHA) / SIMS)  # three binomial standard errors
    assert r.blocked <= sim.ALPHA + tolerance, r


def test_a_true_drop_of_three_allowances_is_blocked_at_500_items():
    r = sim.simulate(500, 0.6, 0.15, 0.06, 0.02, sims=SIMS, seed=2)
    assert r.blocked > 0.85, r
    assert r.decisions.get("likely_regressed", 0) > 0  # some of those blocks are the new zone


def test_blocking_every_inconclusive_would_block_most_unchanged_candidates():
    # Why inconclusive does not block by default: at 300 items a 2-point allowance is not resolvable.
    strict = sim.simulate(300, 0.6, 0.15, 0.0, 0.02, sims=300, seed=3, policy=sim.Policy(inconclusive_blocks=True))
    assert strict.blocked > 0.5, strict
