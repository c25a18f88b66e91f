"""The contamination probe, decided: does a task's score fall when its answer options are permuted?

Each probed task has a companion `<task>_permuted` in the record (`TaskResult.probe_of`): the same items,
options in a seeded new order, gold mapped. Per item, `permuted - original` is paired by (subtask, doc id):

    gap        = mean(permuted_i - original_i)                          one record
    growth     = mean((cand_perm_i - cand_orig_i) - (base_perm_i - base_orig_i))   a diff, items of all four

Small models prefer some positions, so a gap of a few points is the usual position bias; the baseline
checkpoint measures it on the same items, and the diff asks whether the candidate's gap grew beyond it.
Flagged when the paired interval lies wholly below `-max_gap`: a drop that noise and the allowed bias do
not explain, i.e. possible memorisation of the benchmark's option order. A warning unless the rule blocks.

Pure: numpy (through `gate.decide.stats`) only.
"""

from __future__ import annotations

from collections.abc import Iterator

from gate.config.thresholds import ContaminationRule
from gate.contamination import ContaminationCheck, ProbeGap
from gate.decide.stats import PairedDiff, paired_difference
from gate.record import EvalRecord, ItemOutcome, TaskResult
from gate.text import fmt_delta, fmt_score

_SUFFIX = "_permuted"  # gate.lmeval.probe.SUFFIX; decide/ imports nothing of lm-eval's boundary

Key = tuple[str, int]  # (subtask, doc id)


def _items(t: TaskResult) -> dict[Key, ItemOutcome]:
    # A companion's subtasks carry the suffix (mmlu_anatomy_permuted); a single task's group is not part of the key.
    return {((it.group or "").removesuffix(_SUFFIX) if t.subtasks else "", it.doc_id): it for it in t.items}


def probes(record: EvalRecord) -> Iterator[tuple[TaskResult, TaskResult]]:
    """Each measured (original, companion) pair of the record, in the record's order."""
    for t in record.tasks:
        if t.probe_of is None or t.status != "ok":
            continue
        try:
            original = record.task(t.probe_of)
        except KeyError:
            continue  # record_checks refuses such a record on read; one built in memory just has no probe
        if original.status == "ok":
            yield original, t


def _pairs(original: TaskResult, companion: TaskResult) -> list[tuple[Key, float, float]]:
    """(key, permuted, original) per item paired by (subtask, doc id), in the metric's better direction."""
    orig, perm = _items(original), _items(companion)
    sign = 1.0 if original.higher_is_better else -1.0
    return [(k, sign * perm[k].score, sign * orig[k].score) for k in orig if k in perm]


def probe_gap(original: TaskResult, companion: TaskResult, rule: ContaminationRule, alpha: float) -> ProbeGap | None:
    """One record's gap on one task, or None with fewer than 2 paired items."""
    pairs = _pairs(original, companion)
    if len(pairs) < 2:
        return None
    groups = [k[0] for k, _, _ in pairs] if original.subtasks else None
    d = paired_difference([p for _, p, _ in pairs], [o for _, _, o in pairs], groups, alpha)
    n = len(pairs)
    orig_mean = sum(o for _, _, o in pairs) / n
    flagged = d.high < -rule.max_gap
    percent = _percent(original)
    message = (
        f"{original.name}: {fmt_score(orig_mean, percent)} in the original option order, "
        f"{fmt_score(orig_mean + d.delta, percent)} with the options permuted ({fmt_delta(d.delta, percent)} on "
        f"{n} paired items, interval {fmt_delta(d.low, percent)} to {fmt_delta(d.high, percent)}, "
        f"allowed -{fmt_delta(rule.max_gap, percent, signed=False)})"
    )
    if flagged:
        message += ": possible memorisation of the benchmark's option order"
    return ProbeGap(
        task=original.name,
        companion=companion.name,
        n=n,
        original=orig_mean,
        permuted=orig_mean + d.delta,
        gap=d.delta,
        low=d.low,
        high=d.high,
        flagged=flagged,
        message=message,
    )


def record_probes(record: EvalRecord, rule: ContaminationRule, alpha: float = 0.05) -> tuple[ProbeGap, ...]:
    """Every probed task's gap in one record (`gate run`, `gate check`)."""
    gaps = (probe_gap(o, c, rule, alpha) for o, c in probes(record))
    return tuple(g for g in gaps if g is not None)


def _percent(t: TaskResult) -> bool:
    return all(0.0 <= i.score <= 1.0 for i in t.items)


def _growth(
    cand: tuple[TaskResult, TaskResult], base: tuple[TaskResult, TaskResult], alpha: float
) -> tuple[PairedDiff | None, int]:
    """The paired difference of the two records' per-item gaps, and the items it is measured on."""
    c = {k: (p - o) for k, p, o in _pairs(*cand)}
    b = {k: (p - o) for k, p, o in _pairs(*base)}
    c_docs, b_docs = _items(cand[0]), _items(base[0])
    keys = [k for k in c if k in b and c_docs[k].doc_hash == b_docs[k].doc_hash]  # the same items in both runs
    if len(keys) < 2:
        return None, len(keys)
    groups = [k[0] for k in keys] if cand[0].subtasks else None
    return paired_difference([c[k] for k in keys], [b[k] for k in keys], groups, alpha), len(keys)


def contamination_checks(
    candidate: EvalRecord, baseline: EvalRecord, rule: ContaminationRule, alpha: float = 0.05
) -> tuple[ContaminationCheck, ...]:
    """Per task the candidate probes: its gap, the baseline's, and whether the gap grew beyond `rule.max_gap`."""
    base = {o.name: (o, c) for o, c in probes(baseline)}
    out = []
    for cand in probes(candidate):
        gap = probe_gap(*cand, rule, alpha)
        if gap is None:
            continue
        percent = _percent(cand[0])
        b = base.get(cand[0].name)
        bgap = probe_gap(*b, rule, alpha) if b is not None else None
        diff, n = _growth(cand, b, alpha) if b is not None else (None, 0)
        if diff is None:
            flagged = gap.flagged
            why = "the baseline has no probe of this task to compare with" if b is None else "too few shared items"
            message = f"{gap.message} ({why})"
        else:
            assert bgap is not None
            flagged = diff.high < -rule.max_gap
            message = (
                f"{cand[0].name}: the drop under permuted options grew {fmt_delta(diff.delta, percent)} against the "
                f"baseline's (candidate {fmt_delta(gap.gap, percent)}, baseline {fmt_delta(bgap.gap, percent)} on "
                f"{n} paired items; interval {fmt_delta(diff.low, percent)} to {fmt_delta(diff.high, percent)}, "
                f"allowed -{fmt_delta(rule.max_gap, percent, signed=False)})"
            )
            if flagged:
                message += ": possible memorisation of the benchmark's option order"
        out.append(
            ContaminationCheck(
                task=cand[0].name,
                candidate=gap,
                baseline=bgap,
                growth=diff.delta if diff else None,
                growth_low=diff.low if diff else None,
                growth_high=diff.high if diff else None,
                n=n,
                max_gap=rule.max_gap,
                flagged=flagged,
                blocking=flagged and rule.blocks,
                message=message,
            )
        )
    return tuple(out)
