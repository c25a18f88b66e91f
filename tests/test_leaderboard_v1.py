"""`suites/leaderboard_v1.yaml` (issue 17): the Open LLM Leaderboard v1 settings, resolved offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import load_suite
from gate.config.thresholds import load_thresholds

ROOT = Path(__file__).resolve().parents[1]
V1 = {
    # task: (shots, metric, filter)
    "arc_challenge": (25, "acc_norm", "none"),
    "hellaswag": (10, "acc_norm", "none"),
    "mmlu": (5, "acc", "none"),
    "truthfulqa_mc2": (0, "acc", "none"),  # lm-eval's name for the mc2 score
    "winogrande": (5, "acc", "none"),
    "gsm8k": (5, "exact_match", "strict-match"),
}
NO_OFFLINE_DATA = {"winogrande", "truthfulqa_mc2"}


@pytest.fixture(scope="module")
def suite():
    return load_suite(ROOT / "suites" / "leaderboard_v1.yaml")


def test_the_leaderboard_v1_settings(suite):
    assert {t.task: (t.num_fewshot, t.metric, t.filter) for t in suite.tasks} == V1
    assert {t.task for t in suite.tasks if t.optional} == NO_OFFLINE_DATA
    th = load_thresholds(ROOT / "thresholds" / "leaderboard_v1.yaml")
    for t in suite.tasks:
        rule = th.tasks[t.task]
        assert rule.metric == t.metric and rule.higher_is_better, t.task
        assert rule.informational == (t.task in NO_OFFLINE_DATA), t.task
    assert th.operational.max_increase["output_tokens_mean"] == 0.5


def test_offline_tasks_resolve_and_the_missing_ones_are_skipped_visibly(suite, data_dir):
    from gate.lmeval.tasks import draws_fewshot_from, load_task
    from gate.run.runner import RunOptions, measure_task, validate_suite

    validate_suite(suite, data_dir)  # unknown names or missing data of a required task would raise
    for spec in suite.tasks:
        if spec.task in NO_OFFLINE_DATA:
            # skipped before anything is evaluated: no model is needed to say so
            result = measure_task(None, suite, spec, RunOptions(data_dir=data_dir)).result
            assert result.status == "skipped" and result.skip_reason.startswith("skipped: no data"), spec.task
            continue
        task = load_task(spec, suite, data_dir)
        assert sum(task.sizes().values()) > 0, spec.task
        if spec.task == "hellaswag":  # no train split offline: 10 exemplars from validation, noted
            assert draws_fewshot_from(list(task.leaves.values()), "validation")
