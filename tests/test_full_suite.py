"""The full stage (`suites/full.yaml`) on the real small model: a couple of items of every task, short generations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate import record as records
from gate.config import load_suite
from gate.run.runner import RunOptions, run_suite

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
V2 = (
    "leaderboard_mmlu_pro",
    "leaderboard_bbh",
    "leaderboard_gpqa",
    "leaderboard_math_hard",
    "leaderboard_ifeval",
    "leaderboard_musr",
)


@pytest.fixture(scope="module")
def full_record(smol_gate_lm, data_dir):
    suite = load_suite(ROOT / "suites" / "full.yaml")
    return run_suite(smol_gate_lm, suite, RunOptions(data_dir=data_dir, sample=2, seed=0, max_gen_toks=16))


def test_all_six_v2_tasks_and_both_domain_suites_are_in_the_record(full_record):
    names = full_record.task_names()
    assert set(V2) | {"domain_extraction", "domain_support_policy"} <= set(names)
    again = records.from_dict(json.loads(json.dumps(records.to_dict(full_record))))
    assert again == full_record
    for name in (*V2, "domain_extraction", "domain_support_policy"):
        t = full_record.task(name)
        if name == "leaderboard_gpqa":
            continue
        assert t.status == "ok" and t.n == t.n_requested == 2 and len(t.items) == 2, name
        assert all(i.prompt_hash and i.doc_hash for i in t.items), name
    assert {t.kind for t in full_record.tasks if t.name in V2} == {"general"}
    assert full_record.model.chat_template and full_record.model.fewshot_as_multiturn
    assert full_record.model.backend == "gate-hf"


def test_gpqa_is_skipped_offline_and_says_why(full_record):
    gpqa = full_record.task("leaderboard_gpqa")
    assert gpqa.status == "skipped" and gpqa.n == 0 and gpqa.items == ()
    assert gpqa.skip_reason.startswith("skipped: no data") and "Idavidrein/gpqa" in gpqa.skip_reason


def test_leaderboard_shots_and_generation_settings(full_record):
    shots = {t.name: t.num_fewshot for t in full_record.tasks}
    assert shots["leaderboard_mmlu_pro"] == 5 and shots["leaderboard_bbh"] == 3
    assert shots["leaderboard_math_hard"] == 4 and shots["leaderboard_ifeval"] == 0 and shots["leaderboard_musr"] == 0
    math = full_record.task("leaderboard_math_hard").generation
    assert math.max_gen_toks == 16 and math.until == ("Problem:",) and not math.do_sample  # override recorded
    ifeval = full_record.task("leaderboard_ifeval").generation
    assert ifeval.max_gen_toks == 16 and ifeval.temperature == 0.0
    assert full_record.task("leaderboard_bbh").generation is None  # multiple choice


def test_mmlu_pro_few_shot_source_is_recorded(full_record):
    notes = full_record.task("leaderboard_mmlu_pro").notes
    assert len(notes) == 1 and "'test' split" in notes[0] and "left out" in notes[0]


def test_ifeval_is_scored_by_lm_evals_instruction_checkers(full_record, data_dir):
    from lm_eval.tasks.leaderboard.ifeval.utils import process_results

    rows = [json.loads(x) for x in (data_dir / "wis-k/instruction-following-eval/default/train.jsonl").open()]
    t = full_record.task("leaderboard_ifeval")
    assert t.metric == "prompt_level_strict_acc"
    for it in t.items:
        expected = process_results(rows[it.doc_id], [it.prediction])["prompt_level_strict_acc"]
        assert it.score == float(expected)
