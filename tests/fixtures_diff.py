"""Synthetic EvalRecords for testing the comparison plumbing (not scores of any real model).

Scores are chosen by the tests; model ids say "synthetic" so no one mistakes them for a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from gate.config import Policy, TaskThreshold, Thresholds
from gate.record import (
    BaselineRef,
    EvalRecord,
    ItemOutcome,
    ModelInfo,
    Sampling,
    SuiteInfo,
    TaskResult,
    Timing,
    Versions,
)

FP_BASE = "sha256:" + "a" * 64
FP_CAND = "sha256:" + "b" * 64


def task(
    name: str,
    scores: Sequence[float],
    *,
    kind: str = "general",
    groups: Sequence[str | None] | None = None,
    metric: str = "acc",
    higher_is_better: bool = True,
    chance: float | None = 0.25,
    predictions: Sequence[str] | None = None,
    **overrides,
) -> TaskResult:
    items = tuple(
        ItemOutcome(
            doc_id=i,
            score=float(s),
            doc_hash=f"doc-{name}-{i}",
            prompt_hash=f"prompt-{name}-{i}",
            group=None if groups is None else groups[i],
            excerpt=f"Question {i} of {name}: which answer is right?\nAnswer:",
            prediction=(predictions[i] if predictions else ("A" if s else "B")),
        )
        for i, s in enumerate(scores)
    )
    value = float(np.mean(scores)) if len(scores) else None
    fields = dict(
        name=name,
        kind=kind,
        metric=metric,
        higher_is_better=higher_is_better,
        value=value,
        stderr=None,
        n=len(scores),
        n_requested=len(scores),
        num_fewshot=0,
        task_hash=f"taskhash-{name}",
        chance=chance,
        items=items,
    )
    fields.update(overrides)
    return TaskResult(**fields)


def record(*tasks: TaskResult, candidate: bool = False, run_id: str | None = None, **model) -> EvalRecord:
    info = ModelInfo(
        id="synthetic/candidate" if candidate else "synthetic/baseline",
        revision=None,
        fingerprint=FP_CAND if candidate else FP_BASE,
        dtype="float32",
        device="cpu",
        batch_size=8,
    )
    return EvalRecord(
        model=replace(info, **model),
        suite=SuiteInfo(name="synthetic", version=1, hash="sha256:suite"),
        versions=Versions(gate="0.1.0", lm_eval="0.4.13", transformers="5.23.0", torch="2.13.0", python="3.11"),
        tasks=tasks,
        timing=Timing(wall_seconds=1.0, items_per_second=100.0),
        sampling=Sampling(n=None, seed=None, source="all"),
        created_at="2025-01-01T00:00:00Z",
        mlflow_run_id=run_id,
    )


# Tasks these fixtures build that a test does not gate are shown, informational (none is ungated by omission).
SHOWN = ("arc_easy", "medqa", "policy", "hellaswag")


def thresholds(policy: Policy | None = None, alpha: float = 0.05, **tasks: float) -> Thresholds:
    """thresholds(arc_easy=0.05): gate those tasks on acc with that allowed drop; the others of SHOWN informational."""
    rules = {n: TaskThreshold(metric="acc", higher_is_better=True, max_drop=d) for n, d in tasks.items()}
    for n in SHOWN:
        rules.setdefault(n, TaskThreshold(metric="acc", higher_is_better=True, informational=True))
    return Thresholds(tasks=rules, alpha=alpha, policy=policy or Policy())


REF = BaselineRef(
    name="smol-main",
    run_id="0123456789abcdef",
    frozen_at="2025-01-01T00:00:00Z",
    frozen_by="ci",
    tracking_uri="sqlite:///mlflow.db",
)


def flip(scores: Sequence[float], n_wrong: int, n_right: int = 0, start: int = 0) -> list[float]:
    """Copy of scores with the first n_wrong right items made wrong and n_right wrong ones made right."""
    out = list(scores)
    for i in range(start, len(out)):
        if n_wrong and out[i] == 1:
            out[i], n_wrong = 0.0, n_wrong - 1
        elif n_right and out[i] == 0:
            out[i], n_right = 1.0, n_right - 1
    return out


def base_scores(n: int, p: float, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(x) for x in (rng.random(n) < p)]
