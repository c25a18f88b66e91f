"""Compare a candidate record with a baseline record, item by item: `compare(...) -> Comparison`.

Pure: a function of two EvalRecords and the thresholds. The verdict is computed here, once;
renderers only format it.

Per task the decision is a non-inferiority call on the paired (1 - alpha) interval of
candidate - baseline, read in the metric's better direction, against the allowed drop
(`max_drop`, called the allowance):

    regressed     the interval lies wholly below -allowance, and the no-change p-value is
                  significant after Holm across the family (gated tasks form one family,
                  ungated tasks another)
    improved      the interval lies wholly above 0, significant after Holm (a kind of ok)
    ok            the interval lies at or above -allowance
    inconclusive  the interval straddles -allowance: a drop larger than allowed is not ruled out
    not_comparable the task cannot be paired: missing, skipped, different setup, no shared items

Tasks with `max_drop` in the thresholds are gated; others are compared with an allowance of
0 and shown, and they only block through the forgetting rule. A failed high-severity domain case
in the candidate blocks whatever the averages, as in `gate check` (gate.decide.task_details).
"""

from __future__ import annotations

from dataclasses import fields, replace

from gate.config import Policy, TaskThreshold, Thresholds
from gate.decide import stats
from gate.decide.contamination import contamination_checks
from gate.decide.early_diff import early_decision
from gate.decide.jagged import jagged_tasks
from gate.decide.operational import operational_checks
from gate.decide.pairing import (
    environment_differences,
    flipped_items,
    pair_items,
    setup_differences,
    task_differences,
)
from gate.decide.pairwise import check_records, pairwise_check
from gate.decide.task_details import failure_reason, task_context
from gate.errors import ConfigError
from gate.pairwise import PairwiseResult
from gate.record import BaselineRef, EvalRecord, TaskResult
from gate.results import Comparison, Forgetting, RunSummary, TaskComparison, TaskMove, fmt_delta

MAX_EXAMPLES = 5


def default_thresholds(baseline: EvalRecord, candidate: EvalRecord) -> Thresholds:
    """Without a thresholds file: every baseline task is gated and no significant drop is allowed; a task
    the baseline did not measure is shown, informational."""
    tasks = {
        t.name: TaskThreshold(metric=t.metric, higher_is_better=t.higher_is_better, max_drop=0.0)
        for t in baseline.tasks
        if t.status == "ok" and t.probe_of is None
    }
    for t in (*baseline.tasks, *candidate.tasks):
        if t.probe_of is None:
            tasks.setdefault(t.name, TaskThreshold(t.metric, t.higher_is_better, informational=True))
    return Thresholds(tasks=tasks)


def file_baseline_ref(baseline: EvalRecord, path: str) -> BaselineRef:
    """The reference of a baseline given as a record file rather than a frozen MLflow run."""
    return BaselineRef(
        name=path,
        run_id=baseline.mlflow_run_id or "none",
        frozen_at=baseline.created_at,
        frozen_by="record file",
        tracking_uri="",
    )


def _not_comparable(
    name: str, kind: str, th: TaskThreshold | None, t: TaskResult | None, reason: str, policy: Policy,
    c: TaskResult | None = None, b: TaskResult | None = None,
) -> TaskComparison:  # fmt: skip
    gated = th is not None and th.max_drop is not None and not th.informational
    return TaskComparison(
        baseline_value=b.value if b else None,
        candidate_value=c.value if c else None,
        name=name,
        kind=kind,
        metric=(t.metric if t else th.metric if th else ""),
        higher_is_better=(t.higher_is_better if t else th.higher_is_better if th else True),
        gated=gated,
        decision="not_comparable",
        reason=reason,
        blocking=gated and policy.block_on_not_comparable,
        allowance=(th.max_drop or 0.0) if gated and th else 0.0,
        chance=t.chance if t else None,
    )


def _check_threshold(name: str, th: TaskThreshold, t: TaskResult, thresholds: Thresholds) -> None:
    where = thresholds.path or "thresholds"
    if th.metric != t.metric:
        raise ConfigError(
            f"{where}: tasks.{name}.metric: '{th.metric}' but the record measured '{t.metric}'; "
            f"set metric: {t.metric} or re-run the suite with that metric"
        )
    if th.higher_is_better != t.higher_is_better:
        raise ConfigError(
            f"{where}: tasks.{name}.higher_is_better: {th.higher_is_better} but lm-eval says "
            f"{t.higher_is_better} for {t.metric}; fix the thresholds file"
        )


def _compare_task(name, c, b, th, setup, alpha, policy) -> tuple[TaskComparison, stats.PairedDiff | None]:
    """A task's comparison before Holm: the decision is finished in `compare`."""
    kind = (c or b).kind
    if c is None:
        return _not_comparable(name, kind, th, b, "missing from the candidate record", policy, c, b), None
    if b is None:
        return _not_comparable(name, kind, th, c, "missing from the baseline record", policy, c, b), None
    for who, t in (("candidate", c), ("baseline", b)):
        if t.status != "ok":
            why = f"skipped in the {who} record" + (f": {t.skip_reason}" if t.skip_reason else "")
            return _not_comparable(name, kind, th, c, why, policy, c, b), None
    diffs = setup + task_differences(c, b)
    if diffs:
        return _not_comparable(name, kind, th, c, "; ".join(diffs), policy, c, b), None
    pairing = pair_items(c, b)
    if isinstance(pairing, str):
        return _not_comparable(name, kind, th, c, pairing, policy, c, b), None
    if len(pairing.pairs) < 2:
        why = f"only {len(pairing.pairs)} items share doc id, doc hash and prompt hash"
        if pairing.hash_mismatch:
            why += f" ({pairing.hash_mismatch} have the same doc id but a different doc or prompt)"
        return _not_comparable(name, kind, th, c, why, policy, c, b), None
    pairs = pairing.pairs
    cs = [ic.score for ic, _ in pairs]
    bs = [ib.score for _, ib in pairs]
    groups = [ic.group for ic, _ in pairs]
    diff = stats.paired_difference(cs, bs, groups, alpha)
    percent = all(0.0 <= s <= 1.0 for s in cs + bs)
    gated = th is not None and th.max_drop is not None and not th.informational
    allowance = th.max_drop if gated and th and th.max_drop is not None else 0.0
    mde = stats.minimum_detectable_drop(
        diff.n, diff.item_variance, alpha, stats.DEFAULT_POWER, allowance, diff.df, bounded=percent
    )
    near = [False, False]  # baseline, candidate
    if c.chance is not None:
        for k, scores in enumerate((bs, cs)):
            near[k] = stats.near_chance(stats.mean_interval(scores, groups, alpha), c.chance, c.higher_is_better)
    sign = 1 if c.higher_is_better else -1
    wrong, right = flipped_items(pairs, sign, True), flipped_items(pairs, sign, False)
    tc = TaskComparison(
        name=name,
        kind=kind,
        metric=c.metric,
        higher_is_better=c.higher_is_better,
        gated=gated,
        decision="",
        reason="",
        blocking=False,
        allowance=allowance,
        baseline_value=sum(bs) / len(bs),
        candidate_value=sum(cs) / len(cs),
        delta=diff.delta,
        ci_low=diff.low,
        ci_high=diff.high,
        p_value=diff.p_value,
        mde=mde,
        method=diff.method,
        n_paired=diff.n,
        n_clusters=diff.n_clusters,
        n_unpaired=pairing.unpaired,
        percent=percent,
        chance=c.chance,
        near_chance=near[0] or near[1],
        baseline_near_chance=near[0],
        newly_wrong=len(wrong),
        newly_right=len(right),
        newly_wrong_examples=tuple(wrong[:MAX_EXAMPLES]),
        newly_right_examples=tuple(right[:MAX_EXAMPLES]),
    )
    return tc, diff


def classify(lo: float, hi: float, delta: float, p_adj: float, allowance: float, alpha: float) -> str:
    """The decision for a paired interval [lo, hi] and estimate `delta`, all in the metric's better
    direction (a drop is negative), against the allowed drop; `p_adj` is the Holm-adjusted p-value.

        regressed         wholly below -allowance, and significant
        likely_regressed  significant, and the estimate is beyond -allowance, but the interval reaches inside it
        inconclusive      below -allowance but not significant, or a drop beyond it not ruled out
        improved          wholly above 0, and significant
        ok                at or above -allowance
    """
    sig = p_adj < alpha
    if hi < -allowance and sig:
        return "regressed"
    if sig and delta < 0 and delta < -allowance:
        return "likely_regressed"
    if hi < -allowance:
        return "inconclusive"
    if lo > 0 and sig:
        return "improved"
    if lo >= -allowance:
        return "ok"
    return "inconclusive"


def blocks(decision: str, policy: Policy) -> bool:
    """Whether a gated task's decision blocks the merge under the policy."""
    return (
        decision == "regressed"
        or (decision == "likely_regressed" and policy.block_on_likely_regression)
        or (decision == "inconclusive" and policy.inconclusive_blocks)
    )


def _decide(tc: TaskComparison, p_adj: float, alpha: float, family: int, policy: Policy) -> TaskComparison:
    assert tc.delta is not None and tc.ci_low is not None and tc.ci_high is not None
    sign = 1 if tc.higher_is_better else -1
    lo, hi = sorted((sign * tc.ci_low, sign * tc.ci_high))
    a, pc = tc.allowance, tc.percent
    ci = f"{int(round((1 - alpha) * 100))}% CI {fmt_delta(tc.ci_low, pc)} to {fmt_delta(tc.ci_high, pc)}"
    allowed = f"allowed drop {fmt_delta(a, pc, signed=False)}"
    decision = classify(lo, hi, sign * tc.delta, p_adj, a, alpha)
    drop = fmt_delta(abs(tc.delta), pc, signed=False)
    if decision == "regressed":
        why = f"dropped {drop} ({ci}), beyond the {allowed}"
    elif decision == "likely_regressed":
        why = (
            f"dropped {drop}, significant (Holm p={p_adj:.3g}, {ci}); the {allowed}; "
            "more items would tell whether it exceeds it"
        )
    elif decision == "inconclusive" and hi < -a:
        why = f"interval below the {allowed} but not significant after Holm over {family} tasks (p={p_adj:.3g})"
    elif decision == "improved":
        why = f"improved {fmt_delta(tc.delta, pc)} ({ci})"
    elif decision == "ok":
        why = f"no drop beyond the {allowed} ({ci})"
    else:
        why = f"a drop beyond the {allowed} is not ruled out ({ci})"
    if decision in ("ok", "inconclusive") and tc.mde is not None:
        why += f"; 80% power only for drops of {fmt_delta(tc.mde, pc, signed=False)} or more at n={tc.n_paired}"
    if tc.near_chance and tc.chance is not None and tc.baseline_value is not None:
        chance = f"{tc.chance:.1%}" if pc else f"{tc.chance:g}"
        if tc.baseline_near_chance:
            why += f"; the baseline is near chance ({chance}), so a regression here is nearly invisible"
            headroom = abs(tc.baseline_value - tc.chance)
            if tc.mde is not None and tc.mde > headroom:
                why += " (even a fall to chance would likely go undetected at this n)"
        else:
            why += f"; the candidate scores near chance ({chance})"
    if tc.n_unpaired:
        why += f"; {tc.n_unpaired} items unpaired (only in one record, or doc/prompt hash differs)"
    values = {f.name: getattr(tc, f.name) for f in fields(tc)}
    values.update(decision=decision, reason=why, blocking=tc.gated and blocks(decision, policy), p_adjusted=p_adj)
    return TaskComparison(**values)


def _forgetting(tasks: list[TaskComparison]) -> Forgetting | None:
    def move(t: TaskComparison) -> TaskMove:
        assert t.delta is not None and t.ci_low is not None and t.ci_high is not None
        sig = t.decision in ("regressed", "likely_regressed", "improved")
        return TaskMove(t.name, t.delta, t.ci_low, t.ci_high, sig, t.percent)

    # A significant drop counts as a loss, beyond the allowance for sure (regressed) or by its estimate.
    losses = [move(t) for t in tasks if t.kind == "general" and t.decision in ("regressed", "likely_regressed")]
    gains = [
        move(t)
        for t in tasks
        if t.kind == "domain" and t.delta is not None and (t.delta > 0) == t.higher_is_better and t.delta != 0
    ]
    if not losses or not gains:
        return None

    def say(m: TaskMove) -> str:
        note = "significant" if m.significant else "not significant"
        return f"{m.name} {fmt_delta(m.delta, m.percent)} ({note})"

    msg = (
        "Catastrophic forgetting: domain tasks improved ("
        + ", ".join(say(m) for m in gains)
        + ") while general tasks regressed ("
        + ", ".join(say(m) for m in losses)
        + ")"
    )
    return Forgetting(tuple(gains), tuple(losses), msg)


def compare(
    candidate: EvalRecord,
    baseline: EvalRecord,
    thresholds: Thresholds | None,
    baseline_ref: BaselineRef,
    pairwise: PairwiseResult | None = None,
    pairwise_source: str = "pairwise result",
) -> Comparison:
    """Pair the two records' items task by task and decide, once, whether the candidate blocks.

    `pairwise` (`gate judge pairwise`'s result for these two records) adds the win-rate row."""
    if pairwise is not None:
        check_records(pairwise, candidate, baseline, pairwise_source)
    source = str(thresholds.path) if thresholds and thresholds.path else "thresholds (in memory)"
    if thresholds is None:
        thresholds = default_thresholds(baseline, candidate)
        source = "default: every baseline task gated, no significant drop allowed"
    policy, alpha = thresholds.policy, thresholds.alpha
    # A probe's companion (`<task>_permuted`) is no task of its own: it is read by the contamination check only.
    ctasks = {t.name: t for t in candidate.tasks if t.probe_of is None}
    btasks = {t.name: t for t in baseline.tasks if t.probe_of is None}
    # Every task of either record is compared, in the thresholds file's order first. Rules for tasks in
    # neither record (a file shared by the fast and full stages) are listed, not compared.
    names = [n for n in thresholds.tasks if n in ctasks or n in btasks]
    names += [n for n in list(ctasks) + list(btasks) if n not in names]
    names = list(dict.fromkeys(names))
    unmatched = tuple(n for n, th in thresholds.tasks.items() if n not in names and not th.informational)
    setup = setup_differences(candidate, baseline)
    environment = environment_differences(candidate, baseline)
    if policy.block_on_setup_change:
        setup = setup + environment
    drafts: list[tuple[TaskComparison, stats.PairedDiff | None]] = []
    for name in names:
        c, b = ctasks.get(name), btasks.get(name)
        measured = [t for t in (c, b) if t is not None and t.status == "ok"] or [t for t in (c, b) if t is not None]
        th = thresholds.rule(name, measured[0].metric, measured[0].higher_is_better)
        if not th.from_defaults:
            for t in (c, b):
                if t is not None and t.status == "ok":
                    _check_threshold(name, th, t, thresholds)
        tc, diff = _compare_task(name, c, b, th, setup, alpha, policy)
        drafts.append((tc, diff))
    finished: dict[str, TaskComparison] = {}
    for gated in (True, False):
        family = [(tc, d) for tc, d in drafts if d is not None and tc.gated == gated]
        adjusted = stats.holm([d.p_value for _, d in family])
        for (tc, _), p_adj in zip(family, adjusted, strict=True):
            finished[tc.name] = _decide(tc, p_adj, alpha, len(family), policy)
            if gated and (early := early_decision(ctasks.get(tc.name))) is not None:  # anytime-valid; its own alpha
                done = finished[tc.name]
                finished[tc.name] = replace(done, decision=early[0], reason=early[1], blocking=blocks(early[0], policy))
    tasks = [
        replace(finished.get(tc.name, tc), context=task_context(ctasks.get(tc.name), btasks.get(tc.name)))
        for tc, _ in drafts
    ]
    forgetting = _forgetting(tasks)
    jagged = jagged_tasks(tasks, {tc.name: d.stderr for tc, d in drafts if d is not None}, thresholds.jagged)
    reasons = []
    for t in tasks:
        if t.context.blocking_failures:  # as in `gate check`: whatever the average
            reasons.append(failure_reason(t.name, t.context))
        if t.blocking:
            if t.decision == "regressed":
                reasons.append(
                    f"{t.name} regressed {fmt_delta(t.delta, t.percent)} "
                    f"(allowed -{_pts(t)}; {t.newly_wrong} items newly wrong, {t.newly_right} newly right)"
                )
            elif t.decision == "likely_regressed":
                reasons.append(
                    f"{t.name} likely regressed {fmt_delta(t.delta, t.percent)} (significant; allowed -{_pts(t)}; "
                    f"{t.newly_wrong} items newly wrong, {t.newly_right} newly right)"
                )
            elif t.decision == "inconclusive":
                reasons.append(f"{t.name} inconclusive: a drop beyond {_pts(t)} not ruled out")
            else:
                reasons.append(f"{t.name} not comparable: {t.reason}")
    if forgetting and policy.block_on_forgetting:
        reasons.append(forgetting.message)
    reasons += [f"jagged profile: {j.message}" for j in jagged if j.blocking]
    operational = operational_checks(candidate, baseline, thresholds)  # latency, length, memory, cost
    reasons += [o.reason for o in operational if o.blocking]
    contamination = contamination_checks(candidate, baseline, thresholds.contamination, alpha)
    reasons += [f"contamination probe: {p.message}" for p in contamination if p.blocking]
    judged = pairwise_check(pairwise, thresholds.pairwise, policy, alpha)
    if judged is not None and judged.blocking:
        reasons.append(f"pairwise {judged.decision.replace('_', ' ')}: {judged.reason}")
    return Comparison(
        baseline=baseline_ref,
        baseline_model=baseline.model.id,
        baseline_fingerprint=baseline.model.fingerprint,
        candidate_model=candidate.model.id,
        candidate_fingerprint=candidate.model.fingerprint,
        candidate_run_id=candidate.mlflow_run_id,
        alpha=alpha,
        power=stats.DEFAULT_POWER,
        policy=policy,
        thresholds_source=source,
        setup_differences=tuple(setup),
        tasks=tuple(tasks),
        forgetting=forgetting,
        blocking_reasons=tuple(reasons),
        unmatched_rules=unmatched,
        jagged=jagged,
        environment_differences=tuple(environment),
        candidate_setup=RunSummary.of(candidate),
        baseline_setup=RunSummary.of(baseline),
        operational=operational,
        contamination=contamination,
        pairwise=judged,
    )


def _pts(t: TaskComparison) -> str:
    return fmt_delta(t.allowance, t.percent, signed=False)
