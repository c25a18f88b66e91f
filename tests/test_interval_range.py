"""Intervals that stay in the metric's range, and the prediction shown being the choice the metric scored."""

from __future__ import annotations

from gate.decide.floors import task_interval
from gate.decide.stats import mean_interval
from gate.lmeval.results import _prediction
from gate.record import ItemOutcome, TaskResult


def _mmlu(scores: list[float]) -> TaskResult:
    items = tuple(
        ItemOutcome(doc_id=i, score=s, doc_hash=f"d{i}", prompt_hash=f"p{i}", group=f"mmlu_subject_{i % 12}")
        for i, s in enumerate(scores)
    )
    return TaskResult(
        name="mmlu", kind="general", metric="acc", higher_is_better=True, value=sum(scores) / len(scores),
        stderr=None, n=len(scores), n_requested=len(scores), num_fewshot=0, task_hash="h", items=items,
        subtasks=tuple(sorted({i.group for i in items})),
    )  # fmt: skip


def test_a_24_item_mmlu_interval_does_not_read_below_zero():
    # 3 of 24 right, in 12 subjects: the cluster-t interval alone reaches below 0.
    scores = [1.0 if i in (0, 5, 13) else 0.0 for i in range(24)]
    raw = mean_interval(scores, [f"s{i % 12}" for i in range(24)])
    assert raw.low < 0 and raw.method == "cluster-t"  # what the gate showed before
    iv = task_interval(_mmlu(scores))
    assert 0.0 <= iv.low < iv.estimate < iv.high <= 1.0
    assert iv.low == 0.0 and iv.method == "cluster-t, clipped to [0, 1]"
    assert iv.stderr == raw.stderr and iv.high == raw.high  # only the end outside the range moved


def test_an_unclustered_accuracy_gets_wilson_inside_the_range():
    iv = mean_interval([0.0] * 23 + [1.0])
    assert iv.method == "wilson" and iv.low >= 0.0 and iv.high <= 1.0


def _sample(lls: list[float], choices: list[str]) -> dict:
    # One multiple-choice item as lm-eval 0.4.13 logs it: one (context, " " + choice) request per
    # choice, and per request (log-likelihood, is_greedy) after the filter.
    return {
        "arguments": [("Q: which? A:", f" {c}") for c in choices],
        "filtered_resps": [[ll, False] for ll in lls],
    }


def test_the_prediction_of_acc_norm_is_the_length_normalised_choice():
    # Raw log-likelihoods favour the short choice; divided by length (lm-eval's acc_norm) the long one wins.
    s = _sample([-4.0, -9.0], ["cat", "malleable"])
    assert _prediction(s, "multiple_choice", "acc") == "cat"
    assert _prediction(s, "multiple_choice", "acc_norm") == "malleable"  # -9/9 = -1.0 > -4/3
