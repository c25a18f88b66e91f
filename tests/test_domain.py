"""Per-category scores, the high-severity blocking rule and judge rescoring, on crafted samples."""

from __future__ import annotations

import json

import pytest

from gate.config import Thresholds
from gate.decide.floors import check
from gate.domain.cases import domain_summary, judged_result, read_cases
from gate.domain.judge import JudgedSamples, Rubric, judge_info, parse_reply
from gate.errors import EvalFailed
from gate.lmeval.results import Sample, parse_leaf
from gate.record import (
    EvalRecord,
    ItemOutcome,
    ModelInfo,
    Sampling,
    SuiteInfo,
    TaskResult,
    Timing,
    Versions,
    from_dict,
    to_dict,
)

RUBRIC = Rubric("r", 1, "help", ("be kind",), 1, 5, 4, ("rude",))


def sample(doc_id, case_id, category, severity, passed):
    doc = {"id": case_id, "category": category, "severity": severity, "user_input": f"question {case_id}"}
    return Sample(doc_id=doc_id, doc=doc, response=f"reply {case_id}", metrics={"pass": float(passed)})


SAMPLES = [
    sample(0, "sec-1", "security", "high", True),
    sample(1, "sec-2", "security", "high", False),
    sample(2, "bill-1", "billing", "medium", False),
    sample(3, "bill-2", "billing", "low", True),
    sample(4, "bill-3", "billing", "low", True),
]


def task_result(samples, **kw) -> TaskResult:
    items = tuple(ItemOutcome(s.doc_id, s.metrics["pass"], "d", "p", s.doc["category"]) for s in samples)
    base = dict(
        name="domain_support_policy",
        kind="domain",
        metric="pass",
        higher_is_better=True,
        value=sum(i.score for i in items) / len(items),
        stderr=None,
        n=len(items),
        n_requested=len(items),
        num_fewshot=0,
        task_hash="h",
        output_type="generate_until",
        items=items,
    )
    base.update(kw)
    return TaskResult(**base)


def record(*tasks) -> EvalRecord:
    return EvalRecord(
        model=ModelInfo("m", None, "sha256:" + "0" * 64, "float32", "cpu", 1),
        suite=SuiteInfo("full", 1, "sha256:" + "1" * 64),
        versions=Versions("0.1.0", "0.4.13", "5", "2", "3.11"),
        tasks=tasks,
        timing=Timing(1.0, 1.0),
        sampling=Sampling(None, None),
        created_at="2025-01-01T00:00:00Z",
    )


def test_category_scores_and_blocking_failures():
    s = domain_summary(SAMPLES, "pass")
    assert s.category_scores == {"billing": pytest.approx(2 / 3), "security": 0.5}
    assert s.category_counts == {"billing": 3, "security": 2}
    assert s.blocking_failures == ("sec-2",)  # the failed medium case does not block


def test_a_high_severity_failure_blocks_whatever_the_average_says():
    good_average = SAMPLES[:2] + [sample(i, f"ok-{i}", "billing", "low", True) for i in range(2, 40)]
    s = domain_summary(good_average, "pass")
    t = task_result(good_average, category_scores=s.category_scores, blocking_failures=s.blocking_failures)
    assert t.value > 0.97
    verdict = check(record(t), Thresholds(tasks={}))
    assert not verdict.passed and verdict.exit_code == 1
    assert any("sec-2" in r and "domain_support_policy" in r for r in verdict.reasons)
    clean = domain_summary([x for x in good_average if x.doc["id"] != "sec-2"], "pass")
    assert clean.blocking_failures == ()
    assert check(record(task_result(good_average)), Thresholds(tasks={})).passed


def test_domain_fields_round_trip_through_the_record_json():
    s = domain_summary(SAMPLES, "pass")
    t = task_result(SAMPLES, category_scores=s.category_scores, blocking_failures=s.blocking_failures)
    back = from_dict(json.loads(json.dumps(to_dict(record(t)))))
    assert back.tasks[0].category_scores == s.category_scores
    assert back.tasks[0].blocking_failures == ("sec-2",)


def test_samples_that_disagree_with_the_task_are_eval_failures():
    with pytest.raises(EvalFailed, match="no metric 'field_acc'"):
        domain_summary(SAMPLES, "field_acc")
    with pytest.raises(EvalFailed, match="severity 'critical'"):
        domain_summary([sample(0, "x", "c", "critical", True)], "pass")


def test_judge_rescoring_counts_invalid_replies_as_fail_and_records_the_judge():
    ok = json.dumps({"score": 5, "pass": True, "reason": "fine", "failure_mode": None})
    verdicts = {
        0: parse_reply(ok, RUBRIC),
        1: parse_reply("garbage", RUBRIC),
        2: parse_reply(ok, RUBRIC),
        3: parse_reply(ok, RUBRIC),
        4: parse_reply(ok, RUBRIC),
    }
    judged = JudgedSamples(verdicts, judge_info("hf:judge", RUBRIC, verdicts.values()))
    t = judged_result(task_result(SAMPLES), judged, read_cases(SAMPLES, "pass"))
    assert t.metric == "judge_pass" and [i.score for i in t.items] == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert t.value == pytest.approx(0.8)
    assert t.blocking_failures == ("sec-2",)  # the judge failure on a high-severity case blocks
    assert t.judge.model == "hf:judge" and t.judge.n_invalid == 1 and t.judge.rubric_version == 1
    back = from_dict(json.loads(json.dumps(to_dict(record(t)))))
    assert back.tasks[0].judge == t.judge
    with pytest.raises(EvalFailed, match="no verdict"):
        judged_result(task_result(SAMPLES), JudgedSamples({0: verdicts[0]}, judged.info), read_cases(SAMPLES, "pass"))


def test_samples_are_read_once_from_lm_evals_logged_dicts():
    def logged(doc_id, filtered, resps, passed):
        return {
            "doc_id": doc_id,
            "doc": {"id": f"c-{doc_id}", "user_input": "hi"},
            "arguments": [("prompt", {"until": []})],
            "resps": resps,
            "filtered_resps": filtered,
            "filter": "none",
            "metrics": ["pass", "checks"],
            "pass": passed,
            "checks": [True, False],  # one verdict per instruction (as IFEval): not one number
            "doc_hash": "d",
            "prompt_hash": "p",
        }

    results = {
        "results": {"t": {"pass,none": 0.5}},
        "configs": {"t": {"output_type": "generate_until", "generation_kwargs": {"until": ["\n"]}}},
        "samples": {"t": [logged(1, ["the reply"], [["the raw reply"]], True), logged(0, [], [["raw only"]], False)]},
        "higher_is_better": {"t": {"pass": True}},
        "versions": {"t": 1.0},
    }
    leaf = parse_leaf(results, "t", "pass", "none", group=None)
    assert [s.doc_id for s in leaf.samples] == [1, 0]  # lm-eval's order; items are sorted by doc id
    assert [s.response for s in leaf.samples] == ["the reply", "raw only"]  # filtered, else raw: the first
    assert leaf.samples[0].metrics == {"pass": 1.0} and leaf.samples[0].doc["id"] == "c-1"
    assert [c.case_id for c in read_cases(leaf.samples, "pass")] == ["c-0", "c-1"]
