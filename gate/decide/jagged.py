"""Jagged profiles: a general task whose change is far out of line with the candidate's other general tasks.

A fine-tune that moves one public benchmark by nine points while the others stay put is more often
targeted training or contamination than a better model. Each general task's delta is standardised by its
own standard error (so a small task's noisy swing counts for less than a large task's), then compared
with the other general tasks' standardised deltas by a robust z-score, leave-one-out:

    s_i = delta_i / se_i                       (in the metric's better direction)
    z_i = (s_i - median(s_others)) / scale,    scale = max(1.4826 * MAD(s_others), 1)

The scale never falls below 1: tasks that truly moved together still scatter with a standard deviation
of 1 in these units from sampling alone, and with the handful of tasks a suite has, a MAD below that is
luck that would make any ordinary move look jagged. Median and MAD (not mean and SD) keep one outlier
from hiding itself or another.

Pure: numpy only. `compare` calls `jagged_tasks` once, after the per-task decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from gate.config.thresholds import JaggedRule
from gate.results import JaggedTask, TaskComparison, fmt_delta

MAD_TO_SD = 1.4826  # MAD of a normal sample times this estimates its standard deviation
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def robust_z(value: float, others: Sequence[float]) -> float:
    """How far `value` lies from `others` in robust units (median, MAD scaled to an SD, floored at 1)."""
    a = np.asarray(others, dtype=float)
    med = float(np.median(a))
    scale = max(MAD_TO_SD * float(np.median(np.abs(a - med))), 1.0)
    return (value - med) / scale


def _standardised(t: TaskComparison, stderr: float) -> float | None:
    assert t.delta is not None
    sign = 1.0 if t.higher_is_better else -1.0
    if stderr > 0 and math.isfinite(stderr):
        return sign * t.delta / stderr
    # No spread at all: nothing moved (0) or every item moved alike (no error to measure it in: left out).
    return 0.0 if t.delta == 0 else None


def _count(n: int) -> str:
    return _WORDS[n] if n < len(_WORDS) else str(n)


def _message(t: TaskComparison, z: float, rule: JaggedRule, others: list[TaskComparison]) -> str:
    assert t.delta is not None
    spread = max(abs(o.delta or 0.0) for o in others)
    percent = all(o.percent for o in others)
    within = f"within ±{fmt_delta(spread, percent, signed=False)}" if percent == t.percent else "in line"
    better = (t.delta > 0) == t.higher_is_better
    hint = (
        "check for targeted training or contamination"
        if better
        else "check for damage targeted at this task or a changed task setup"
    )
    return (
        f"{t.name} {fmt_delta(t.delta, t.percent)} while the other {_count(len(others))} general tasks moved "
        f"{within} (robust z {z:+.1f} in standard errors, threshold {rule.z:g}): {hint}"
    )


def jagged_tasks(
    tasks: Sequence[TaskComparison], stderrs: Mapping[str, float], rule: JaggedRule
) -> tuple[JaggedTask, ...]:
    """The general tasks whose standardised delta lies beyond `rule.z` robust units from the others'.

    `stderrs` holds each paired task's standard error of its delta; tasks without one (not comparable)
    take no part. Fewer than `rule.min_tasks` general tasks: none is jagged (no rest to compare with).
    """
    scored = []
    for t in tasks:
        if t.kind != "general" or t.delta is None or t.name not in stderrs:
            continue
        s = _standardised(t, stderrs[t.name])
        if s is not None:
            scored.append((t, s))
    if len(scored) < max(rule.min_tasks, 3):
        return ()
    out = []
    for i, (t, s) in enumerate(scored):
        rest = [(o, so) for j, (o, so) in enumerate(scored) if j != i]
        z = robust_z(s, [so for _, so in rest])
        if abs(z) <= rule.z:
            continue
        assert t.delta is not None
        out.append(
            JaggedTask(
                name=t.name,
                delta=t.delta,
                stderr=stderrs[t.name],
                z=z,
                threshold=rule.z,
                others=tuple(o.name for o, _ in rest),
                blocking=rule.blocks,
                percent=t.percent,
                message=_message(t, z, rule, [o for o, _ in rest]),
            )
        )
    return tuple(out)
