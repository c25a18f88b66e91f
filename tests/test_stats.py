"""gate.decide.stats against independent implementations (statsmodels, scipy, a bootstrap) and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from gate.decide import stats


def _correlated_pairs(rng, n, p_base, drop, n_groups=0):
    """Paired 0/1 scores: a latent item difficulty shared by both models (and by a group)."""
    if n_groups:
        groups = rng.integers(0, n_groups, n)
        group_shift = rng.normal(0, 0.8, n_groups)[groups]
    else:
        groups = None
        group_shift = 0.0
    logit = st.norm.ppf(p_base) + rng.normal(0, 1.5, n) + group_shift
    p_item = st.norm.cdf(logit)
    u = rng.random(n)
    base = (u < p_item).astype(float)
    # the candidate loses `drop` on average: items near the edge flip
    cand = (u < np.clip(p_item - drop, 0, 1)).astype(float)
    flip = rng.random(n) < 0.05  # a little independent noise both ways
    cand[flip] = 1 - cand[flip]
    labels = None if groups is None else [f"g{g}" for g in groups]
    return cand, base, labels


def test_mcnemar_matches_statsmodels_exact():
    for b, c in [(0, 0), (1, 0), (3, 9), (20, 21), (0, 15), (40, 12), (250, 310)]:
        ours = stats.mcnemar_exact(b, c)
        theirs = mcnemar([[10, b], [c, 10]], exact=True).pvalue
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), (b, c)


def test_paired_difference_uses_exact_mcnemar_for_binary_items():
    rng = np.random.default_rng(1)
    cand, base, _ = _correlated_pairs(rng, 300, 0.6, 0.04)
    r = stats.paired_difference(cand, base)
    b = int(np.sum((cand == 1) & (base == 0)))
    c = int(np.sum((cand == 0) & (base == 1)))
    assert r.method == "mcnemar-exact"
    assert r.p_value == pytest.approx(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
    assert r.delta == pytest.approx(cand.mean() - base.mean())


def test_paired_t_matches_scipy_for_continuous_scores():
    rng = np.random.default_rng(2)
    base = rng.random(80)
    cand = np.clip(base + rng.normal(-0.03, 0.1, 80), 0, 1)
    r = stats.paired_difference(cand, base)
    t = st.ttest_rel(cand, base)
    assert r.method == "paired-t"
    assert r.p_value == pytest.approx(t.pvalue, rel=1e-10)
    ci = t.confidence_interval(0.95)
    assert (r.low, r.high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_cluster_stderr_matches_statsmodels_cluster_robust_ols():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    cand, base, groups = _correlated_pairs(rng, 600, 0.55, 0.03, n_groups=30)
    d = cand - base
    codes = np.unique(groups, return_inverse=True)[1]
    fit = sm.OLS(d, np.ones((d.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": codes})
    assert stats.cluster_stderr(d, groups) == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_clustered_interval_agrees_with_a_cluster_bootstrap():
    rng = np.random.default_rng(4)
    cand, base, groups = _correlated_pairs(rng, 1200, 0.5, 0.0, n_groups=40)
    r = stats.paired_difference(cand, base, groups)
    assert r.method == "cluster-t" and r.n_clusters == 40
    d = cand - base
    labels = np.asarray(groups)
    members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    boot = []
    for _ in range(1500):
        pick = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[i] for i in pick])
        boot.append(d[idx].mean())
    assert r.stderr == pytest.approx(float(np.std(boot, ddof=1)), rel=0.15)


def test_correlated_groups_widen_the_interval():
    rng = np.random.default_rng(5)
    n, g = 1000, 20
    groups = [f"s{i % g}" for i in range(n)]
    shift = rng.normal(0, 0.15, g)
    d = np.array([shift[i % g] for i in range(n)]) + rng.normal(0, 0.2, n)
    iid = stats.paired_difference(d, np.zeros(n))
    clustered = stats.paired_difference(d, np.zeros(n), groups)
    assert clustered.stderr > 2 * iid.stderr
    assert clustered.df == g - 1


def test_few_groups_fall_back_to_item_level_error():
    d = np.array([1.0, 0, 0, -1, 0, 1, 0, 0] * 10)
    r = stats.paired_difference(d, np.zeros(d.size), ["a", "b"] * 40)
    assert r.method == "paired-t" and r.n_clusters == d.size


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(6)
    for m in (1, 2, 5, 12):
        p = rng.random(m) ** 3
        assert stats.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert stats.holm([]) == []


def test_wilson_matches_statsmodels():
    for k, n in [(0, 10), (3, 10), (50, 100), (99, 100), (812, 1000)]:
        r = stats.wilson_interval(k, n, 0.05)
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (r.low, r.high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


def test_mean_interval_picks_wilson_for_binary_and_t_for_clustered():
    scores = [1, 0, 1, 1, 0] * 20
    w = stats.mean_interval(scores, None, 0.05)
    assert (w.low, w.high) == pytest.approx(proportion_confint(60, 100, method="wilson"))
    groups = [f"g{i % 12}" for i in range(100)]
    c = stats.mean_interval(scores, groups, 0.05)
    assert c.estimate == pytest.approx(0.6)
    assert c.high - c.low == pytest.approx(2 * st.t.ppf(0.975, 11) * c.stderr)


def test_mde_formula_and_bounded_floor():
    # unbounded: (z_.975 + z_.8) * sd / sqrt(n), the textbook sample-size formula inverted
    mde = stats.minimum_detectable_drop(400, 0.25, alpha=0.05, power=0.8)
    assert mde == pytest.approx((1.959964 + 0.841621) * 0.5 / 20, rel=1e-5)
    # an unchanged candidate (variance 0) still cannot detect a drop below ~(z+z)^2 / n
    floor = stats.minimum_detectable_drop(1000, 0.0, bounded=True)
    assert floor == pytest.approx((1.959964 + 0.841621) ** 2 / 1000, rel=0.05)
    assert stats.minimum_detectable_drop(1000, 0.0, margin=0.02, bounded=True) > 0.02
    assert stats.minimum_detectable_drop(3, 0.5, bounded=True) == math.inf


def test_mde_has_the_promised_power():
    """Simulate at the reported MDE: the interval falls below zero about 80% of the time."""
    rng = np.random.default_rng(7)
    n = 500
    cand, base, _ = _correlated_pairs(rng, n, 0.6, 0.05)
    var = stats.paired_difference(cand, base).item_variance
    mde = stats.minimum_detectable_drop(n, var)
    sd = math.sqrt(var)
    hits = 0
    reps = 2000
    d = rng.normal(-mde, sd, (reps, n))
    se = d.std(axis=1, ddof=1) / math.sqrt(n)
    hits = int(np.sum(d.mean(axis=1) + st.t.ppf(0.975, n - 1) * se < 0))
    assert 0.76 < hits / reps < 0.84


def test_no_true_change_keeps_false_regressions_at_or_below_alpha():
    rng = np.random.default_rng(8)
    reps, n, alpha = 1500, 400, 0.05
    false_regress = 0
    for i in range(reps):
        groups_n = 25 if i % 2 else 0
        cand, base, groups = _correlated_pairs(rng, n, 0.5, 0.0, n_groups=groups_n)
        r = stats.paired_difference(cand, base, groups, alpha)
        false_regress += r.high < 0 and r.p_value < alpha
    # a regression is one side of a two-sided test: expect <= alpha / 2; allow binomial noise on alpha
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert false_regress / reps <= bound


def test_a_true_five_point_drop_on_1000_items_is_detected():
    rng = np.random.default_rng(9)
    detected = 0
    reps = 200
    for _ in range(reps):
        cand, base, _ = _correlated_pairs(rng, 1000, 0.6, 0.05)
        r = stats.paired_difference(cand, base)
        detected += r.high < 0 and r.p_value < 0.05
    assert detected / reps >= 0.95


def test_identical_scores_give_a_zero_width_interval_and_p_one():
    s = [1, 0, 1, 1, 0, 0, 1]
    r = stats.paired_difference(s, s)
    assert (r.delta, r.low, r.high, r.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_rejects_misaligned_input():
    with pytest.raises(ValueError, match="3 candidate scores for 2"):
        stats.paired_difference([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="groups"):
        stats.paired_difference([1, 0, 1], [1, 0, 0], ["a"])
