"""Where and how a run ran, as `gate diff` reads it: a different context window or tokenizer is not
comparable; a different GPU, driver, CUDA or library version is shown (blocking only by policy)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gate import record as records
from gate.config import Policy, load_thresholds
from gate.decide.compare import compare
from gate.record import RunSetup
from gate.report.comparison import render_comparison
from tests.fixtures_diff import REF

PAIR = Path(__file__).parent / "data/records/diff/pass/unchanged"
CPU = RunSetup("cpu", 0, None, None, max_length=8192, tokenizer_hash="sha256:" + "a" * 64)
GPU = RunSetup("NVIDIA H200", 1, "570.86", "12.8", max_length=8192, tokenizer_hash="sha256:" + "a" * 64)


def _diff(cand_setup, base_setup, *, block=False, versions=None):
    base, cand = records.load(PAIR / "baseline.json"), records.load(PAIR / "candidate.json")
    th = load_thresholds(PAIR / "thresholds.yaml")
    th = replace(th, policy=replace(th.policy, block_on_setup_change=block))
    cand = replace(cand, setup=cand_setup, versions=versions or cand.versions)
    return compare(cand, replace(base, setup=base_setup), th, REF)


def test_same_setup_is_compared_and_shows_nothing():
    c = _diff(GPU, GPU)
    assert c.environment_differences == () and c.passed
    assert all(t.decision != "not_comparable" for t in c.tasks)


@pytest.mark.parametrize(
    "change, says",
    [
        ({"max_length": 4096}, "context window (max_length) differs"),
        ({"tokenizer_hash": "sha256:" + "b" * 64}, "tokenizer differs"),
    ],
)
def test_a_different_context_window_or_tokenizer_is_not_comparable(change, says):
    c = _diff(replace(GPU, **change), GPU)
    assert all(t.decision == "not_comparable" and says in t.reason for t in c.tasks), [t.reason for t in c.tasks]
    assert not c.passed  # the policy blocks a gated task that is not comparable


def test_a_different_gpu_or_library_is_shown_and_blocks_only_by_policy():
    other = replace(GPU, accelerator="NVIDIA A100-SXM4-80GB", driver="535.104")
    base = records.load(PAIR / "baseline.json")
    newer = replace(base.versions, torch="9.9.9")
    c = _diff(other, GPU, versions=newer)
    assert c.passed and all(t.decision != "not_comparable" for t in c.tasks)
    assert "accelerator differs (baseline NVIDIA H200, candidate NVIDIA A100-SXM4-80GB)" in c.environment_differences
    assert any("NVIDIA driver differs" in d for d in c.environment_differences)
    assert any("torch version differs" in d for d in c.environment_differences)
    for fmt in ("text", "markdown"):
        assert "may move scores by a few tenths" in render_comparison(c, fmt)
    blocked = _diff(other, GPU, block=True)
    assert not blocked.passed and all("accelerator differs" in t.reason for t in blocked.tasks)


def test_how_a_run_was_spread_is_not_a_setup_difference():
    c = _diff(replace(CPU, processes=2, shards=3), CPU)
    assert c.environment_differences == () and c.passed


def test_policy_key_reads_from_a_thresholds_file(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text((PAIR / "thresholds.yaml").read_text() + "\npolicy: {block_on_setup_change: true}\n")
    assert load_thresholds(f).policy == replace(Policy(), block_on_setup_change=True)
