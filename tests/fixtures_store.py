"""Records built from the dataclasses, for tests of the MLflow plumbing (not of scores)."""

from __future__ import annotations

import hashlib

from gate.record import EvalRecord, ItemOutcome, ModelInfo, Sampling, SuiteInfo, TaskResult, Timing, Versions


def make_record(
    model_id: str = "smollm2-135m", scores: tuple[float, ...] = (1, 0, 1, 1), seed: str = "a"
) -> EvalRecord:
    """A small two-task record; `seed` changes the fingerprint so two records differ."""
    items = tuple(
        ItemOutcome(doc_id=i, score=float(s), doc_hash=f"d{i}", prompt_hash=f"p{i}", group=None, excerpt=f"q{i}")
        for i, s in enumerate(scores)
    )
    acc = sum(scores) / len(scores)
    tasks = (
        TaskResult(
            name="arc_easy",
            kind="general",
            metric="acc_norm,none",
            higher_is_better=True,
            value=acc,
            stderr=0.1,
            n=len(items),
            n_requested=len(items),
            num_fewshot=0,
            task_hash="t1",
            chance=0.25,
            items=items,
        ),
        TaskResult(
            name="demo_policy",
            kind="domain",
            metric="acc",
            higher_is_better=True,
            value=sum(scores[:2]) / 2,  # the mean of its two items, as a real run's record has
            stderr=None,
            n=2,
            n_requested=2,
            num_fewshot=0,
            task_hash="t2",
            items=items[:2],
            category_scores={"refunds": 0.5},
        ),
    )
    return EvalRecord(
        model=ModelInfo(
            id=model_id,
            revision=None,
            fingerprint="sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
            dtype="float32",
            device="cpu",
            batch_size=4,
        ),
        suite=SuiteInfo(name="fast", version=1, hash="sha256:suite"),
        versions=Versions(gate="0.1.0", lm_eval="0.4.13", transformers="5", torch="2", python="3.11"),
        tasks=tasks,
        timing=Timing(wall_seconds=12.5, items_per_second=0.5),
        sampling=Sampling(n=None, seed=None, source="all"),
        created_at="2026-01-01T00:00:00+00:00",
    )
