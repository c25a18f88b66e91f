"""The early verdict on the real small model: it stops once a floor is decided, says why, and scores
the items it used exactly as a full run does."""

from __future__ import annotations

import pytest

from gate.config import load_suite, load_thresholds
from gate.early import chunk_ends, run_early_verdict
from gate.runner import RunOptions, run_suite
from gate.setup_cache import RequestCache

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
    full = run_suite(smol_lm, suite, opts)
    by_doc = {i.doc_id: i for i in full.tasks[0].items}
    for it in t.items:  # the same 1-shot prompt (lm-eval draws few-shot examples per run order) and answer
        assert (it.prompt_hash, it.score) == (by_doc[it.doc_id].prompt_hash, by_doc[it.doc_id].score)
