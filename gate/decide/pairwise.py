"""The pairwise judge in a diff: the candidate's win rate against the baseline, and the thresholds' floor.

Win rate = (wins + ties/2) / n, judge failures counting as losses. Its interval is Wilson's on that
proportion: well-behaved at small n and near 0 or 1 (an 8-for-8 sweep is not [1, 1]), and, since a tie
has no variance while Wilson treats every item as a coin, it errs wide, never narrow. A bootstrap would
be tighter with many ties but is itself unreliable at the few dozen items a judge is run on.

The floor reads the interval as `gate check` reads a task's floor: below_floor (blocks) when the whole
interval is below `min_win_rate`, ok when it is at or above it, inconclusive when it straddles it
(blocking only under `policy.inconclusive_blocks`). A result whose judge is not the one the rule pins
(model, prompt version or hash, rubric) is not comparable: the floor was set for another judge, so the
row is neither a pass nor a block, and the check reads inconclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from gate.config.thresholds import PairwiseRule, Policy
from gate.decide.stats import Interval, wilson_interval
from gate.errors import ConfigError
from gate.pairwise import (
    JUDGE_FAILURE,
    LOSS,
    TIE,
    WIN,
    PairwiseCheck,
    PairwiseItem,
    PairwiseResult,
    digest_of,
    judge_label,
)
from gate.record import EvalRecord
from gate.text import clip


def win_rate(items: Sequence[PairwiseItem], alpha: float = 0.05) -> Interval:
    """(wins + ties/2) / n with its (1 - alpha) Wilson interval (see the module docstring for why)."""
    iv = wilson_interval(sum(i.score for i in items), len(items), alpha)
    return Interval(iv.estimate, iv.low, iv.high, iv.stderr, "wilson, ties count half")


def check_records(result: PairwiseResult, candidate: EvalRecord, baseline: EvalRecord, source: str) -> None:
    """ConfigError unless the result was made from these two records (their content digests)."""
    for who, rec, digest in (
        ("candidate", candidate, result.candidate_digest),
        ("baseline", baseline, result.baseline_digest),
    ):
        if digest_of(rec) != digest:
            raise ConfigError(
                f"{source}: {who}_digest: {clip(digest, 19)} is not the {who} record of this diff "
                f"({clip(digest_of(rec), 19)}); run `gate judge pairwise` on these two records"
            )


def judge_differences(result: PairwiseResult, rule: PairwiseRule) -> list[str]:
    """What differs between the judge the rule pins and the one that made the result (pinned keys only)."""
    out = []
    for f in fields(rule.judge):
        pinned, got = getattr(rule.judge, f.name), getattr(result.judge, f.name)
        if pinned is not None and pinned != got:
            name = f.name.replace("_", " ")
            out.append(f"judge {name} differs (thresholds {clip(str(pinned), 40)}, result {clip(str(got), 40)})")
    return out


def pairwise_check(
    result: PairwiseResult | None, rule: PairwiseRule | None, policy: Policy, alpha: float
) -> PairwiseCheck | None:
    """The diff's pairwise row: None without a result or a rule; never a pass by default."""
    if result is None and rule is None:
        return None
    floor = rule.min_win_rate if rule else None
    if result is None:
        return PairwiseCheck(
            "not_comparable",
            f"thresholds set pairwise.min_win_rate {floor:g} but no pairwise result was given; run "
            "`gate judge pairwise` and pass `gate diff --pairwise FILE`",
            False,
            min_win_rate=floor,
        )
    iv = win_rate(result.items, alpha)
    counts = {k: result.count(o) for k, o in (("wins", WIN), ("ties", TIE), ("losses", LOSS))}
    failures = result.count(JUDGE_FAILURE)
    base = dict(
        min_win_rate=floor, win_rate=iv.estimate, ci_low=iv.low, ci_high=iv.high, method=iv.method,
        n=len(result.items), judge_failures=failures, judge=judge_label(result.judge), tasks=result.tasks, **counts,
    )  # fmt: skip
    ci = f"{1 - alpha:.0%} CI {iv.low:.1%} to {iv.high:.1%}"
    summary = (
        f"win rate {iv.estimate:.1%} ({ci}) over {len(result.items)} prompts: {counts['wins']} won, "
        f"{counts['ties']} tied, {counts['losses']} lost, {failures} judge failure(s) counted as lost"
    )
    if rule is None:
        return PairwiseCheck("informational", summary + "; no pairwise rule in the thresholds", False, **base)
    diffs = judge_differences(result, rule)
    if diffs:
        why = "; ".join(diffs) + f": the floor {floor:g} was set for another judge ({summary})"
        return PairwiseCheck("not_comparable", why, False, **base)
    if iv.high < rule.min_win_rate:
        return PairwiseCheck("below_floor", f"{summary}; wholly below the floor {floor:.0%}", True, **base)
    if iv.low >= rule.min_win_rate:
        return PairwiseCheck("ok", f"{summary}; at or above the floor {floor:.0%}", False, **base)
    why = f"{summary}; the interval straddles the floor {floor:.0%}"
    return PairwiseCheck("inconclusive", why, policy.inconclusive_blocks, **base)
