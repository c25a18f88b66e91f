"""compare(): pairing, comparability, decisions, forgetting and the blocking verdict."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as st

from gate.config import Policy, TaskThreshold, Thresholds
from gate.decide.compare import compare
from gate.decide.task_details import CategoryMove
from gate.errors import ConfigError
from gate.record import JudgeInfo
from gate.report.comparison import render_comparison
from tests.fixtures_diff import REF, base_scores, flip, record, task, thresholds

BASE = base_scores(1000, 0.7, seed=1)


def _one(c):
    assert len(c.tasks) >= 1
    return c.tasks[0]


def test_unchanged_candidate_passes_and_names_its_baseline():
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", BASE), candidate=True)
    r = compare(c, b, thresholds(arc_easy=0.02), REF)
    t = _one(r)
    assert (t.decision, t.blocking, r.exit_code, r.passed) == ("ok", False, 0, True), t.reason
    assert (t.delta, t.newly_wrong, t.newly_right, t.n_paired) == (0.0, 0, 0, 1000)
    assert "smol-main" in r.headline and "0123456789abcdef" in r.headline
    assert t.mde is not None and 0.02 < t.mde < 0.05  # power is reported even with no change


def test_damaged_candidate_regresses_and_blocks_with_its_flipped_items():
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", flip(BASE, 120)), candidate=True)
    r = compare(c, b, thresholds(arc_easy=0.02), REF)
    t = _one(r)
    assert t.decision == "regressed" and t.blocking, t.reason
    assert r.exit_code == 1 and r.headline.startswith("BLOCKED")
    assert t.delta == pytest.approx(-0.12)
    assert t.ci_high < -0.02 and t.p_adjusted < 0.05
    assert t.newly_wrong == 120 and t.newly_right == 0
    ex = t.newly_wrong_examples
    assert len(ex) == 5 and [e.doc_id for e in ex] == sorted(e.doc_id for e in ex)
    assert (ex[0].baseline_score, ex[0].candidate_score) == (1.0, 0.0)
    assert "\n" not in ex[0].excerpt and "Question" in ex[0].excerpt
    assert "arc_easy regressed -12.0 pts" in r.headline


def test_small_drop_within_allowance_on_many_items_is_ok():
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", flip(BASE, 15, 10)), candidate=True)
    t = _one(compare(c, b, thresholds(arc_easy=0.03), REF))
    assert t.decision == "ok", t.reason
    assert (t.newly_wrong, t.newly_right) == (15, 10)


def test_few_items_give_inconclusive_and_policy_decides_whether_it_blocks():
    small = BASE[:60]
    b = record(task("arc_easy", small))
    c = record(task("arc_easy", flip(small, 3)), candidate=True)
    lenient = compare(c, b, thresholds(arc_easy=0.02), REF)
    t = _one(lenient)
    assert t.decision == "inconclusive", t.reason
    assert "80% power only for drops of" in t.reason
    assert lenient.exit_code == 0 and "1 inconclusive" in lenient.headline
    strict = compare(c, b, thresholds(Policy(inconclusive_blocks=True), arc_easy=0.02), REF)
    assert strict.exit_code == 1 and "inconclusive" in strict.blocking_reasons[0]


def test_catastrophic_forgetting_is_flagged_with_tasks_and_sizes():
    dom = base_scores(300, 0.4, seed=2)
    b = record(task("arc_easy", BASE), task("medqa", dom, kind="domain"))
    c = record(task("arc_easy", flip(BASE, 100)), task("medqa", flip(dom, 0, 60), kind="domain"), candidate=True)
    r = compare(c, b, thresholds(arc_easy=0.05), REF)
    assert r.forgetting is not None
    msg = r.forgetting.message
    assert "medqa +20.0 pts (significant)" in msg and "arc_easy -10.0 pts" in msg
    assert r.exit_code == 1 and any("Catastrophic forgetting" in x for x in r.blocking_reasons)
    medqa = next(t for t in r.tasks if t.name == "medqa")
    assert medqa.decision == "improved" and not medqa.gated and not medqa.blocking


def test_forgetting_blocks_through_an_ungated_general_task_only_when_policy_says():
    dom = base_scores(300, 0.4, seed=2)
    b = record(task("arc_easy", BASE), task("medqa", dom, kind="domain"))
    c = record(task("arc_easy", flip(BASE, 100)), task("medqa", flip(dom, 0, 60), kind="domain"), candidate=True)
    th = Thresholds(
        tasks={
            "medqa": TaskThreshold("acc", True, max_drop=0.0),
            "arc_easy": TaskThreshold("acc", True, informational=True),
        }
    )
    r = compare(c, b, th, REF)
    general = next(t for t in r.tasks if t.name == "arc_easy")
    assert general.decision == "regressed" and not general.blocking
    assert r.forgetting is not None and r.exit_code == 1
    th_off = replace(th, policy=Policy(block_on_forgetting=False))
    r2 = compare(c, b, th_off, REF)
    assert r2.forgetting is not None and r2.exit_code == 0


def test_no_forgetting_when_domain_did_not_improve():
    dom = base_scores(300, 0.4, seed=2)
    b = record(task("arc_easy", BASE), task("medqa", dom, kind="domain"))
    c = record(task("arc_easy", flip(BASE, 100)), task("medqa", dom, kind="domain"), candidate=True)
    r = compare(c, b, thresholds(arc_easy=0.05), REF)
    assert r.forgetting is None and r.exit_code == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"dtype": "bfloat16"}, "model dtype differs (baseline float32, candidate bfloat16)"),
        ({"quantization": "4bit"}, "model quantization differs"),
        ({"batch_size": 1}, "model batch_size differs"),
        ({"chat_template": True}, "model chat_template differs"),
    ],
)
def test_different_model_setup_is_not_comparable_and_blocks(change, words):
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", BASE), candidate=True, **change)
    r = compare(c, b, thresholds(arc_easy=0.02), REF)
    t = _one(r)
    assert t.decision == "not_comparable" and words in t.reason
    assert r.exit_code == 1
    lenient = compare(c, b, thresholds(Policy(block_on_not_comparable=False), arc_easy=0.02), REF)
    assert lenient.exit_code == 0 and _one(lenient).decision == "not_comparable"


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"task_hash": "other"}, "lm-eval task hash differs"),
        ({"num_fewshot": 5}, "few-shot count differs (baseline 0, candidate 5)"),
        ({"status": "skipped", "skip_reason": "data missing"}, "skipped in the candidate record: data missing"),
    ],
)
def test_different_task_setup_is_not_comparable(override, words):
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", BASE, **override), candidate=True)
    t = _one(compare(c, b, thresholds(arc_easy=0.02), REF))
    assert t.decision == "not_comparable" and t.blocking and words in t.reason


JUDGE = JudgeInfo(
    model="hf:judge-a", prompt_version=1, prompt_hash="sha256:aa", rubric_id="policy", rubric_version=2,
    n_judged=40, n_invalid=1,
)  # fmt: skip


@pytest.mark.parametrize(
    ("base_judge", "cand_judge", "words"),
    [
        (JUDGE, replace(JUDGE, model="hf:judge-b"), "judge model differs (baseline hf:judge-a, candidate hf:judge-b)"),
        (JUDGE, replace(JUDGE, rubric_version=3), "judge rubric version differs (baseline 2, candidate 3)"),
        (JUDGE, replace(JUDGE, prompt_hash="sha256:bb"), "judge prompt hash differs"),
        (JUDGE, None, "only the baseline was scored by an LLM judge"),
    ],
)
def test_scores_from_a_different_judge_are_not_comparable(base_judge, cand_judge, words):
    b = record(task("arc_easy", BASE, judge=base_judge))
    c = record(task("arc_easy", BASE, judge=cand_judge), candidate=True)
    t = _one(compare(c, b, thresholds(arc_easy=0.02), REF))
    assert t.decision == "not_comparable" and t.blocking and words in t.reason


def test_same_judge_with_other_reply_counts_stays_comparable():
    b = record(task("arc_easy", BASE, judge=JUDGE))
    c = record(task("arc_easy", BASE, judge=replace(JUDGE, n_invalid=3)), candidate=True)
    assert _one(compare(c, b, thresholds(arc_easy=0.02), REF)).decision == "ok"


def test_failed_high_severity_case_blocks_a_diff_whatever_the_average():
    def policy(failed, cats):
        return task("policy", BASE, kind="domain", blocking_failures=failed, category_scores=cats)

    b = record(task("arc_easy", BASE), policy(("sec-004",), {"refunds": 0.5}))
    c = record(
        task("arc_easy", BASE), policy(("sec-004", "sec-007"), {"privacy": 0.5, "refunds": 0.75}), candidate=True
    )
    cmp = compare(c, b, thresholds(arc_easy=0.02), REF)
    assert cmp.exit_code == 1
    assert cmp.blocking_reasons == (
        "policy: 2 high-severity cases failed (sec-004, sec-007); 1 of them failed in the baseline too",
    )
    t = {t.name: t for t in cmp.tasks}["policy"]
    assert t.decision == "ok"  # the average did not move: the failures alone block
    assert t.context.categories == (CategoryMove("privacy", None, 0.5), CategoryMove("refunds", 0.5, 0.75))
    text = render_comparison(cmp, "text")
    assert "categories: privacy n/a -> 50.0% (n/a); refunds 50.0% -> 75.0% (+25.0 pts)" in text
    assert "high-severity cases failed (block): sec-004, sec-007" in render_comparison(cmp, "markdown")
    clean = record(task("arc_easy", BASE), policy((), {"refunds": 0.75}), candidate=True)
    assert compare(clean, b, thresholds(arc_easy=0.02), REF).exit_code == 0


def test_run_notes_and_the_judge_are_shown_in_the_diff():
    note = "few-shot examples drawn first-n from the 'test' split"
    b = record(task("arc_easy", BASE, notes=(note,), judge=JUDGE))
    c = record(task("arc_easy", BASE, notes=(note,), judge=JUDGE), candidate=True)
    cmp = compare(c, b, thresholds(arc_easy=0.02), REF)
    assert _one(cmp).context.notes == (
        note,
        "scored by LLM judge hf:judge-a (rubric policy v2, prompt v1); 1 of 40 replies broke the reply schema "
        "and count as failed",
    )
    assert f"note: {note}" in render_comparison(cmp, "text")


def test_lm_eval_version_difference_is_not_comparable():
    b = record(task("arc_easy", BASE))
    c = replace(record(task("arc_easy", BASE), candidate=True), versions=replace(b.versions, lm_eval="0.4.9"))
    t = _one(compare(c, b, thresholds(arc_easy=0.02), REF))
    assert t.decision == "not_comparable" and "lm-eval version differs" in t.reason


def test_gated_task_missing_from_candidate_never_reads_as_pass():
    b = record(task("arc_easy", BASE), task("hellaswag", BASE))
    c = record(task("hellaswag", BASE), candidate=True)
    r = compare(c, b, thresholds(arc_easy=0.02), REF)
    t = next(t for t in r.tasks if t.name == "arc_easy")
    assert t.decision == "not_comparable" and t.reason == "missing from the candidate record"
    assert r.exit_code == 1
    shown = next(t for t in r.tasks if t.name == "hellaswag")
    assert not shown.gated and shown.decision == "ok" and not shown.blocking


def test_items_pair_only_where_doc_and_prompt_hashes_agree():
    b = record(task("arc_easy", BASE[:200]))
    ct = task("arc_easy", BASE[:200])
    items = list(ct.items)
    for i in range(10):
        items[i] = replace(items[i], prompt_hash="changed")
    c = record(replace(ct, items=tuple(items[:190])), candidate=True)
    t = _one(compare(c, b, thresholds(arc_easy=0.05), REF))
    assert t.n_paired == 180 and t.n_unpaired == 20
    assert "20 items unpaired" in t.reason
    none_shared = record(replace(ct, items=tuple(replace(i, doc_hash="x") for i in ct.items)), candidate=True)
    t2 = _one(compare(none_shared, b, thresholds(arc_easy=0.05), REF))
    assert t2.decision == "not_comparable" and "200 have the same doc id but a different doc or prompt" in t2.reason


def test_grouped_items_pair_by_group_and_doc_id_and_use_clustered_errors():
    groups = [f"subject_{i % 20}" for i in range(1000)]
    bt = task("mmlu", BASE, groups=groups)
    # doc ids restart in each subject, as lm-eval numbers them per subtask
    per_group: dict[str, int] = {}
    items = []
    for it in bt.items:
        k = per_group.get(it.group, 0)
        per_group[it.group] = k + 1
        items.append(replace(it, doc_id=k))
    bt = replace(bt, items=tuple(items))
    ct = replace(bt, items=tuple(replace(it, score=0.0) if i < 100 else it for i, it in enumerate(bt.items)))
    t = _one(compare(record(ct, candidate=True), record(bt), thresholds(mmlu=0.02), REF))
    assert t.n_paired == 1000 and t.method == "cluster-t" and t.n_clusters == 20


def test_lower_is_better_metric_regresses_when_it_rises():
    err = [1.0 - s for s in BASE]
    th = Thresholds(tasks={"arc_easy": TaskThreshold("error", False, max_drop=0.02)})
    b = record(task("arc_easy", err, metric="error", higher_is_better=False, chance=None))
    worse = flip([1 - s for s in err], 100)  # 100 items go from right (err 0) to wrong (err 1)
    c = record(
        task("arc_easy", [1 - s for s in worse], metric="error", higher_is_better=False, chance=None), candidate=True
    )
    t = _one(compare(c, b, th, REF))
    assert t.delta == pytest.approx(0.10)
    assert t.decision == "regressed" and t.newly_wrong == 100 and t.newly_right == 0


def test_threshold_metric_that_the_record_did_not_measure_is_a_config_error():
    b = record(task("arc_easy", BASE))
    th = Thresholds(tasks={"arc_easy": TaskThreshold("acc_norm", True, max_drop=0.02)})
    with pytest.raises(ConfigError, match="tasks.arc_easy.metric: 'acc_norm' but the record measured 'acc'"):
        compare(b, b, th, REF)


def test_holm_adjusts_across_gated_tasks():
    names = ["a", "b", "c"]
    b = record(*(task(n, BASE[:300]) for n in names))
    c = record(*(task(n, flip(BASE[:300], k)) for n, k in zip(names, (12, 3, 0), strict=True)), candidate=True)
    r = compare(c, b, thresholds(a=0.0, b=0.0, c=0.0), REF)
    a = r.tasks[0]
    assert a.p_adjusted == pytest.approx(min(1.0, 3 * a.p_value))


def test_near_chance_is_said():
    low = base_scores(200, 0.27, seed=3)
    b = record(task("arc_challenge", low, chance=0.25))
    c = record(task("arc_challenge", low, chance=0.25), candidate=True)
    t = _one(compare(c, b, thresholds(arc_challenge=0.03), REF))
    assert t.near_chance and "near chance" in t.reason


def test_no_thresholds_gates_every_baseline_task_with_no_drop_allowed():
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", flip(BASE, 60)), candidate=True)
    r = compare(c, b, None, REF)
    assert _one(r).gated and _one(r).decision == "regressed" and r.exit_code == 1
    assert r.thresholds_source.startswith("default")


def _simulated(rng, n, p, drop):
    """Paired 0/1 outcomes sharing a latent item difficulty; the candidate loses `drop` on average."""
    p_item = st.norm.cdf(st.norm.ppf(p) + rng.normal(0, 1.5, n))
    u = rng.random(n)
    base = (u < p_item).astype(float)
    cand = (u < np.clip(p_item - drop, 0, 1)).astype(float)
    noise = rng.random(n) < 0.04
    cand[noise] = 1 - cand[noise]
    return list(cand), list(base)


def test_simulated_unchanged_checkpoints_rarely_block():
    rng = np.random.default_rng(31)
    reps, blocked = 300, 0
    for _ in range(reps):
        cand, base = _simulated(rng, 300, 0.6, 0.0)
        r = compare(record(task("t", cand), candidate=True), record(task("t", base)), thresholds(t=0.0), REF)
        blocked += r.exit_code
    assert blocked / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


def test_simulated_five_point_drop_on_1000_items_blocks():
    rng = np.random.default_rng(32)
    reps, blocked = 40, 0
    for _ in range(reps):
        cand, base = _simulated(rng, 1000, 0.6, 0.05)
        r = compare(record(task("t", cand), candidate=True), record(task("t", base)), thresholds(t=0.0), REF)
        blocked += r.exit_code
    assert blocked / reps >= 0.9


def test_real_smollm2_record_says_mmlu_is_near_chance_and_arc_easy_is_not():
    """On a real SmolLM2-135M record (tests/data/records/README.md), MMLU cannot show a regression; ARC-Easy can."""
    from pathlib import Path

    from gate import record as records

    real = records.load(Path(__file__).parent / "data" / "records" / "smollm2-check.json")
    th = Thresholds(tasks={t.name: TaskThreshold(t.metric, True, max_drop=0.02) for t in real.tasks})
    r = compare(real, real, th, REF)
    mmlu = next(t for t in r.tasks if t.name == "mmlu")
    arc = next(t for t in r.tasks if t.name == "arc_easy")
    assert mmlu.baseline_near_chance and "a regression here is nearly invisible" in mmlu.reason
    assert "even a fall to chance would likely go undetected" in mmlu.reason
    assert not arc.near_chance and "near chance" not in arc.reason
    assert r.exit_code == 0
