"""What the gate knows about a metric from its name: the range its scores take, and whether lm-eval
reports it as the mean of its per-item scores.

Both checks of an input use this: a record's scores must lie in the range (`gate.record_checks`),
and so must a thresholds file's floors and allowed drops (`gate.config.thresholds`). A metric not
named here has no known range; its numbers must still be finite.
"""

from __future__ import annotations

UNIT = (0.0, 1.0)

# Shares of items (or of a case's checks) that passed: per item 0..1, so every mean is too.
_UNIT_METRICS = frozenset(
    {
        "acc",
        "acc_norm",
        "acc_mutual_info",
        "exact_match",
        "em",
        "prompt_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_strict_acc",
        "inst_level_loose_acc",
        "judge_pass",  # gate.domain.cases: the LLM judge's verdict
        "pass",  # the rule-scored domain suites
        "field_acc",
        "schema_valid",
        "f1",
    }
)
_RANGES: dict[str, tuple[float, float]] = {m: UNIT for m in _UNIT_METRICS} | {"mcc": (-1.0, 1.0)}

# Metrics lm-eval aggregates over the whole corpus, or over something other than the items the
# record holds (IFEval's instruction-level accuracies pool every instruction of every prompt): their
# task value is not the mean of the record's per-item scores, so it cannot be checked against them.
_NOT_ITEM_MEANS = frozenset(
    {
        "inst_level_strict_acc",
        "inst_level_loose_acc",
        "bleu",
        "chrf",
        "ter",
        "mcc",
        "f1",
        "perplexity",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
        "brier_score",
    }
)


def base_name(metric: str) -> str:
    """`acc_norm,none` -> `acc_norm`: the metric without lm-eval's filter suffix."""
    return metric.partition(",")[0].strip()


def metric_range(metric: str) -> tuple[float, float] | None:
    """The closed range every score and every mean of `metric` lies in, when the gate knows it."""
    return _RANGES.get(base_name(metric))


def is_item_mean(metric: str) -> bool:
    """Whether lm-eval's value of `metric` is the mean of its per-item scores (most metrics)."""
    return base_name(metric) not in _NOT_ITEM_MEANS
