"""The early verdict on the real small model: it stops once a floor is decided, says why, and gives
the items it used exactly the prompts a full run gives them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gate import record as records
from gate.config import Thresholds, load_suite, load_thresholds
from gate.decide.floors import check
from gate.decide.sequential import seeded_order
from gate.domain.cases import CaseResult, ScoredTask
from gate.errors import ConfigError
from gate.lmeval.request_cache import RequestCache
from gate.record import JudgeInfo
from gate.run.early import chunk_ends, run_early_verdict
from gate.run.merge import merge_results
from gate.run.runner import RunOptions
from gate.run.sampling import stratified

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "suites/domain/support_policy"
POLICY_CASES = [json.loads(x) for x in (POLICY / "cases.jsonl").read_text().splitlines()]

SUITE = """name: early
version: 1
tasks:
  - task: arc_easy
    num_fewshot: 1
    metric: acc
    kind: general
"""
# SmolLM2-135M scores about 0.55 on ARC-Easy: 0.05 is far below it
THRESHOLDS = """alpha: 0.05
tasks:
  arc_easy:
    metric: acc
    higher_is_better: true
    floor: 0.05
"""


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on shared CI cores, two threads per process fight and run slower than one
    yield
    torch.set_num_threads(threads)


def test_chunks_grow_and_end_at_the_pool():
    assert chunk_ends(10, first=4) == [4, 6, 9, 10]
    assert chunk_ends(3, first=64) == [3]


@pytest.mark.slow
def test_stops_early_and_scores_items_as_a_full_run(smol_lm, data_dir, tmp_path, one_thread):
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "th.yaml").write_text(THRESHOLDS)
    suite, th = load_suite(tmp_path / "suite.yaml"), load_thresholds(tmp_path / "th.yaml")
    opts = RunOptions(data_dir=data_dir, sample=24, seed=1)
    rec = run_early_verdict(smol_lm, suite, th, opts, cache=RequestCache(tmp_path / "req"), first_chunk=8)
    (t,) = rec.tasks
    assert t.early_stop is not None, "far above its floor, the task should not need all 24 items"
    assert t.early_stop.decision == "above_floor"
    assert t.early_stop.items_used == t.n == len(t.items) < t.early_stop.items_available == 24
    assert "above the floor 0.05" in t.early_stop.reason
    # Each item kept the prompt a full run of the 24 gives it (lm-eval draws few-shot examples in run order):
    # rebuild the full run's requests with plain lm-eval, no model needed.
    full = _full_run_prompts(data_dir, 24, seed=1)
    assert {it.doc_id: it.prompt_hash for it in t.items} == {d: full[d] for d in (it.doc_id for it in t.items)}


def _full_run_prompts(data_dir, n: int, seed: int) -> dict[int, str]:
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml
    from lm_eval.utils import hash_string

    from gate.lmeval.data import DataDir, rewrite_config
    from gate.run.sampling import stratified

    cfg = load_yaml(Path(lm_eval.__file__).parent / "tasks/arc/arc_easy.yaml", resolve_func=True)
    cfg = {**rewrite_config(dict(cfg), DataDir(data_dir)), "num_fewshot": 1}
    (task,) = TaskManager(include_defaults=False).load([cfg])["tasks"].values()
    ids = stratified({"arc_easy": len(task.eval_docs)}, n, seed).doc_ids["arc_easy"]
    task.set_fewshot_seed(1234)  # as simple_evaluate does
    task.build_all_requests(samples=ids)
    first = {}
    for inst in task.instances:  # doc_id here is the position among the chosen docs
        if inst.idx == 0:
            first[ids[inst.doc_id]] = hash_string(inst.arguments[0])
    return first


DOMAIN_SUITE = """name: early-domain
version: 1
apply_chat_template: true
include_paths: [{inc}]
tasks:
  - {{task: domain_support_policy, num_fewshot: 0, metric: pass, kind: domain}}
"""
# SmolLM2-135M passes almost none of the policy cases: five items never decide a floor of 0.05, so every chunk runs
DOMAIN_THRESHOLDS = """alpha: 0.05
tasks:
  domain_support_policy: {metric: pass, higher_is_better: true, floor: 0.05}
"""


@pytest.mark.slow
def test_a_high_severity_failure_in_a_late_chunk_blocks(smol_lm, tmp_path, one_thread):
    (tmp_path / "suite.yaml").write_text(DOMAIN_SUITE.format(inc=POLICY))
    (tmp_path / "th.yaml").write_text(DOMAIN_THRESHOLDS)
    suite, th = load_suite(tmp_path / "suite.yaml"), load_thresholds(tmp_path / "th.yaml")
    opts = RunOptions(sample=5, seed=0, max_gen_toks=16)
    rec = run_early_verdict(smol_lm, suite, th, opts, cache=RequestCache(tmp_path / "req"), first_chunk=2)
    (t,) = rec.tasks
    assert t.n == 5 and t.early_stop is None, "the floor should stay undecided, so that every chunk runs"
    # Seed 0 evaluates the five sampled cases as low, medium | low | high, high (chunks of 2, 1, 2):
    # the first chunk holds no high-severity case.
    pool = stratified({"domain_support_policy": len(POLICY_CASES)}, 5, seed=0).doc_ids["domain_support_policy"]
    first = {pool[i] for i in seeded_order(len(pool), 0)[:2]}
    assert all(POLICY_CASES[d]["severity"] != "high" for d in first)
    high_failed = [i.doc_id for i in t.items if POLICY_CASES[i.doc_id]["severity"] == "high" and not i.score]
    assert high_failed, "the small model should fail a high-severity case of the last chunk (seed 0: sec-001, priv-003)"
    assert t.blocking_failures == tuple(sorted(POLICY_CASES[d]["id"] for d in high_failed))
    by_cat: dict[str, list[float]] = {}
    for it in t.items:
        by_cat.setdefault(POLICY_CASES[it.doc_id]["category"], []).append(it.score)
    assert t.category_scores == {k: pytest.approx(sum(v) / len(v)) for k, v in sorted(by_cat.items())}
    verdict = check(rec, Thresholds(tasks={}))
    assert not verdict.passed and verdict.exit_code == 1, verdict.reasons
    assert f"domain_support_policy: high-severity failures: {', '.join(t.blocking_failures)}" in verdict.reasons


JUDGE = JudgeInfo("hf:judge", 1, "sha256:" + "2" * 64, "support_quality", 1, n_judged=0, n_invalid=0)


def _halves(t):
    """A real record's task as two chunks, each a domain task whose cases are its items (category: its parity)."""
    parts = []
    for items in (t.items[: t.n // 2], t.items[t.n // 2 :]):
        cases = tuple(
            CaseResult(i.doc_id, f"case-{i.doc_id}", "even" if i.doc_id % 2 == 0 else "odd", "high", i.score)
            for i in items
        )
        result = replace(
            t,
            kind="domain",
            value=sum(i.score for i in items) / len(items),
            n=len(items),
            items=items,
            blocking_failures=tuple(c.case_id for c in cases if not c.passed),
            judge=replace(JUDGE, n_judged=len(items), n_invalid=1),
            notes=("from a data dir",),
        )
        parts.append(ScoredTask(result, cases))
    return parts


def test_merged_chunks_are_one_run_over_their_items():
    t = records.load(ROOT / "tests/data/records/smollm2-check.json").task("arc_easy")
    parts = _halves(t)
    merged = merge_results(parts, n_requested=t.n, early_stop=None)
    assert merged.items == t.items and merged.n == t.n
    assert merged.value == pytest.approx(t.value) and merged.stderr == pytest.approx(t.stderr)
    failed = [i for i in t.items if not i.score]
    assert merged.blocking_failures == tuple(sorted(f"case-{i.doc_id}" for i in failed))
    assert set(merged.blocking_failures) > set(parts[0].result.blocking_failures)  # the later chunk's count too
    even = [i.score for i in t.items if i.doc_id % 2 == 0]
    assert merged.category_scores["even"] == pytest.approx(sum(even) / len(even))
    assert merged.judge == replace(JUDGE, n_judged=t.n, n_invalid=2)
    assert merged.notes == ("from a data dir",)


def test_chunks_judged_differently_do_not_merge():
    t = records.load(ROOT / "tests/data/records/smollm2-check.json").task("arc_easy")
    a, b = _halves(t)
    other = ScoredTask(replace(b.result, judge=replace(b.result.judge, rubric_version=2)), b.cases)
    with pytest.raises(ConfigError, match="different judge"):
        merge_results([a, other], n_requested=t.n, early_stop=None)
