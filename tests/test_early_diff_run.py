"""`gate run --early-diff` on the real small model: a badly damaged checkpoint is decided regressed on a
fraction of the baseline's items, and `gate diff` blocks it saying it stopped early, after how many and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ModelSpec, load_suite, load_thresholds
from gate.record import EARLY_DIFF_REGRESSED
from tests.variants import variant

SUITE = Path(__file__).parent / "data" / "suites" / "resume.yaml"  # ARC-Easy 0-shot
POOL = 128  # the damaged checkpoint is decided at the first look (64 items)


@pytest.mark.slow
def test_a_clearly_worse_checkpoint_is_blocked_on_a_fraction_of_the_items(smol_dir, data_dir, tmp_path):
    from gate.decide.compare import compare, file_baseline_ref
    from gate.report.comparison import render_comparison
    from gate.run.pipeline import RunRequest, evaluate_checkpoint

    (tmp_path / "t.yaml").write_text(
        "alpha: 0.05\ndefaults:\n  max_drop: 0.03\ntasks:\n  arc_easy:\n    metric: acc\n"
        "    higher_is_better: true\n    max_drop: 0.03\n"
    )
    thresholds = load_thresholds(tmp_path / "t.yaml")
    common = {"suite": load_suite(SUITE), "data_dir": data_dir, "log_to_mlflow": False, "thresholds": thresholds}
    spec = ModelSpec(model=str(smol_dir), backend="gate-hf", batch_size=8)
    base = evaluate_checkpoint(RunRequest(spec=spec, output=tmp_path / "base.json", sample=POOL, **common)).record
    worse = variant(smol_dir, tmp_path / "worse", noise=1.0, seed=7)
    cand = evaluate_checkpoint(
        RunRequest(
            spec=ModelSpec(model=str(worse), backend="gate-hf", batch_size=8),
            output=tmp_path / "cand.json",
            early_diff=True,
            baseline_record=tmp_path / "base.json",
            **common,
        )
    ).record
    t = cand.task("arc_easy")
    assert t.early_stop is not None, "the damaged checkpoint was not decided early"
    assert t.early_stop.decision == EARLY_DIFF_REGRESSED
    assert t.n == t.early_stop.items_used < POOL and t.early_stop.items_available == POOL
    cmp = compare(cand, base, thresholds, file_baseline_ref(base, "base.json"))
    (tc,) = [x for x in cmp.tasks if x.name == "arc_easy"]
    assert tc.decision == "regressed" and tc.blocking
    assert tc.reason.startswith(f"stopped early after {t.n} of {POOL} items")
    assert not cmp.passed
    assert f"stopped early after {t.n} of {POOL} items" in render_comparison(cmp, "text")
