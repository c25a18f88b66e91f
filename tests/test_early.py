"""The early verdict on the real small model: it stops once a floor is decided, says why, and gives
the items it used exactly the prompts a full run gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import load_suite, load_thresholds
from gate.lmeval.request_cache import RequestCache
from gate.run.early import chunk_ends, run_early_verdict
from gate.run.runner import RunOptions

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
