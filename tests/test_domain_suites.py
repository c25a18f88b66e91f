"""The two example domain suites and the judged cases, end to end through lm-eval on the real small model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate import record as records
from gate.config import Thresholds, load_suite
from gate.decide.floors import check
from gate.domain.judge_model import LmEvalJudge
from gate.domain.scorers import check_case
from gate.errors import ConfigError
from gate.lmeval.results import PREDICTION_CHARS
from gate.run.runner import RunOptions, run_suite

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SUITE = Path(__file__).parent / "data" / "suites" / "domain_e2e.yaml"
POLICY_CASES = [json.loads(x) for x in (ROOT / "suites/domain/support_policy/cases.jsonl").read_text().splitlines()]
EXTRACTION_CASES = [json.loads(x) for x in (ROOT / "suites/domain/extraction/cases.jsonl").read_text().splitlines()]
JUDGE_NAME = "hf:smollm2-135m-instruct (test judge)"


@pytest.fixture(scope="module")
def domain_record(smol_lm):
    # The small model judges its own replies: weak, but a real judge reply through the real path.
    judge = LmEvalJudge(smol_lm.lm, name=JUDGE_NAME, max_gen_toks=48)
    return run_suite(smol_lm, load_suite(SUITE), RunOptions(max_gen_toks=24, judge=judge, seed=3))


def test_every_domain_task_has_per_item_outcomes_and_round_trips(domain_record):
    again = records.from_dict(json.loads(json.dumps(records.to_dict(domain_record))))
    assert again == domain_record
    for t in domain_record.tasks:
        assert t.status == "ok" and t.kind == "domain", t.name
        assert t.n == t.n_requested and len(t.items) == t.n > 0, t.name
        assert t.value == pytest.approx(sum(i.score for i in t.items) / t.n), t.name
        assert t.generation is not None and t.generation.max_gen_toks == 24, t.name
    assert domain_record.model.chat_template is True


def test_policy_items_are_the_rule_verdicts_and_high_severity_failures_block(domain_record):
    t = domain_record.task("domain_support_policy")
    cases = {i.doc_id: POLICY_CASES[i.doc_id] for i in t.items}
    for it in t.items:
        case = cases[it.doc_id]
        assert it.score in (0.0, 1.0)
        if len(it.prediction) < PREDICTION_CHARS:  # the record keeps the whole reply: re-score it
            assert it.score == float(check_case(it.prediction, case["must_include"], case["must_not"]).passed)
    high_failed = tuple(cases[i.doc_id]["id"] for i in t.items if cases[i.doc_id]["severity"] == "high" and not i.score)
    assert high_failed, "the sample should hold a failed high-severity case (seed 3: sec-004 among 4 of 29 cases)"
    assert t.blocking_failures == high_failed
    by_cat: dict[str, list[float]] = {}
    for it in t.items:
        by_cat.setdefault(cases[it.doc_id]["category"], []).append(it.score)
    assert t.category_scores == {k: pytest.approx(sum(v) / len(v)) for k, v in by_cat.items()}
    verdict = check(domain_record, Thresholds(tasks={}))
    assert not verdict.passed and verdict.exit_code == 1
    assert any(r.startswith("domain_support_policy: high-severity failures") for r in verdict.reasons)


def test_extraction_scores_fields_per_document(domain_record):
    t = domain_record.task("domain_extraction")
    assert set(t.category_scores) <= {"invoice", "purchase_order"}
    assert t.category_scores and all(0.0 <= v <= 1.0 for v in t.category_scores.values())
    assert all(0.0 <= i.score <= 1.0 for i in t.items)
    assert t.blocking_failures == ()  # extraction cases carry no severity


def test_judged_task_records_the_judge_and_counts_bad_replies_as_fail(domain_record):
    t = domain_record.task("domain_support_judged")
    assert t.metric == "judge_pass"
    assert t.judge is not None and t.judge.model == JUDGE_NAME
    assert t.judge.rubric_id == "support_quality" and t.judge.rubric_version == 1
    assert t.judge.prompt_hash.startswith("sha256:") and t.judge.n_judged == t.n
    assert all(i.score in (0.0, 1.0) for i in t.items)
    assert sum(i.score for i in t.items) <= t.n - t.judge.n_invalid  # an invalid reply is never a pass


def test_judged_task_without_a_judge_is_skipped_if_optional_else_exit_2(smol_lm, tmp_path):
    rubric = ROOT / "suites/domain/support_policy/rubrics/support_quality.yaml"
    base = (
        "name: judged\nversion: 1\ninclude_paths: [{inc}]\ntasks:\n"
        "  - {{task: domain_support_judged, num_fewshot: 0, metric: judge_pass, kind: domain,\n"
        "      judge_rubric: {rubric}{opt}}}\n"
    )
    inc = ROOT / "suites/domain/support_policy"
    optional = tmp_path / "optional.yaml"
    optional.write_text(base.format(inc=inc, rubric=rubric, opt=", optional: true"))
    record = run_suite(smol_lm, load_suite(optional), RunOptions())  # skipped before any generation
    judged = record.task("domain_support_judged")
    assert judged.status == "skipped" and "no judge model" in judged.skip_reason and judged.n == 0
    strict = tmp_path / "strict.yaml"
    strict.write_text(base.format(inc=inc, rubric=rubric, opt=""))
    with pytest.raises(ConfigError, match="--judge-model"):
        run_suite(smol_lm, load_suite(strict), RunOptions())
