"""Does a public benchmark predict our own task? Spearman's rho across checkpoints (`gate correlate`).

For each general task and each domain task, over the checkpoints that measured both, the rank
correlation of their scores (scipy's `spearmanr`, its p-value), banded as the sources do: |rho| > 0.7
strong, > 0.4 moderate, else weak; fewer than 5 checkpoints is unreliable whatever rho says.
Pure: scipy only, imported when a correlation is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gate.correlation import (
    MIN_CHECKPOINTS,
    MODERATE,
    STRONG,
    CheckpointScores,
    CorrelationReport,
    PairCorrelation,
    ScatterPoint,
)


def band(rho: float | None) -> str:
    if rho is None:
        return "undefined"
    r = abs(rho)
    return "strong" if r > STRONG else "moderate" if r > MODERATE else "weak"


def _reading(general: str, domain: str, rho: float | None, n: int) -> str:
    if rho is None:
        why = "fewer than 3 checkpoints" if n < 3 else "one of the two scored the same on every checkpoint"
        return f"no correlation can be computed ({why})"
    b = band(rho)
    direction = "" if rho >= 0 else " and inverse (better on it, worse on yours)"
    if b == "strong":
        say = f"{general} is a strong predictor of {domain}{direction}"
    elif b == "moderate":
        say = f"{general} is a moderate predictor of {domain}{direction}: use it with care"
    else:
        say = f"{general} is a weak predictor of {domain}: do not rely on this benchmark for it"
    if n < MIN_CHECKPOINTS:
        say += f"; only {n} checkpoints (fewer than {MIN_CHECKPOINTS}): unreliable"
    return say


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """scipy's rho and two-sided p-value; None for both when undefined (n < 3, or a constant series)."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    from scipy import stats

    res = stats.spearmanr(x, y)
    rho, p = float(res.statistic), float(res.pvalue)
    if math.isnan(rho):
        return None, None
    return rho, p


def correlate(checkpoints: Sequence[CheckpointScores], filter_text: str = "") -> CorrelationReport:
    """Every (general task, domain task) pair measured together on some checkpoints, with rho, p and n."""
    general: dict[str, str] = {}
    domain: dict[str, str] = {}
    for c in checkpoints:
        for t in c.tasks:
            (general if t.kind == "general" else domain).setdefault(t.task, t.metric)
    pairs = []
    for g, gm in general.items():
        for d, dm in domain.items():
            points = []
            for c in checkpoints:
                tg, td = c.task(g), c.task(d)
                if tg is None or td is None or tg.metric != gm or td.metric != dm:
                    continue
                points.append(
                    ScatterPoint(
                        c.model_id,
                        c.fingerprint,
                        tg.value if tg.higher_is_better else -tg.value,
                        td.value if td.higher_is_better else -td.value,
                    )
                )
            rho, p = spearman([pt.general for pt in points], [pt.domain for pt in points])
            n = len(points)
            pairs.append(PairCorrelation(g, gm, d, dm, n, rho, p, band(rho), _reading(g, d, rho, n), tuple(points)))
    warnings = []
    if len(checkpoints) < MIN_CHECKPOINTS:
        warnings.append(
            f"only {len(checkpoints)} checkpoints match: fewer than {MIN_CHECKPOINTS}, every correlation is unreliable"
        )
    if not general or not domain:
        missing = "general" if not general else "domain"
        warnings.append(f"no {missing} task in the matching runs: nothing to correlate")
    return CorrelationReport(filter_text, tuple(checkpoints), tuple(pairs), tuple(warnings))
