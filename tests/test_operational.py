"""Operational metrics (issue 17): measured in real runs of the small model, and their rules in `gate diff`.

The candidate is the bundled model with a generation config, made here, that suppresses the end-of-sequence
token and allows more new tokens: the same weights and the same answers' first words, but far longer
answers. The output-length rule must flag it while the accuracy rule stays as it was.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import gate.cli.diff  # noqa: F401  (registers the command on the root group)
from gate import record as records
from gate.cli import cli
from gate.config import load_suite
from gate.config.thresholds import load_thresholds
from gate.decide.compare import compare, file_baseline_ref
from gate.errors import ConfigError
from gate.report.comparison import comparison_dict, render_comparison
from gate.results import Comparison

HERE = Path(__file__).parent
SUITE = HERE / "data" / "suites" / "operational.yaml"
DIFF_CASE = HERE / "data" / "records" / "diff" / "pass" / "unchanged"

RULES = """\
tasks:
  short_answers: {metric: pass, higher_is_better: true, max_drop: 0.25}
operational:
  max_increase: {output_tokens_mean: 0.50}
"""


# ---------------------------------------------------------------- bad input (no model)


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ("max_increase: {latency_p96: 0.2}", "operational.max_increase"),
        ("max_increase: {latency_p95: -0.2}", "operational.max_increase.latency_p95"),
        ("max_decrease: {latency_p95: 0.2}", "operational.max_decrease"),
        ("max_growth: {latency_p95: 0.2}", "operational"),
    ],
)
def test_a_bad_operational_rule_is_exit_2_naming_the_key(tmp_path, block, where):
    bad = tmp_path / "thresholds.yaml"
    bad.write_text(
        (DIFF_CASE / "thresholds.yaml").read_text() + f"operational:\n  {block}\n",
    )
    with pytest.raises(ConfigError, match=rf"{bad}: {where}\b"):
        load_thresholds(bad)
    r = CliRunner().invoke(
        cli,
        ["diff", str(DIFF_CASE / "candidate.json"), "--baseline-record", str(DIFF_CASE / "baseline.json"),
         "--thresholds", str(bad)],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert where in r.output and "Traceback" not in r.output


def test_records_without_operational_metrics_are_not_comparable_and_never_block(tmp_path):
    th = tmp_path / "thresholds.yaml"
    th.write_text((DIFF_CASE / "thresholds.yaml").read_text() + "operational:\n  max_increase: {peak_memory: 0.1}\n")
    base, cand = records.load(DIFF_CASE / "baseline.json"), records.load(DIFF_CASE / "candidate.json")
    cmp = compare(cand, base, load_thresholds(th), file_baseline_ref(base, "baseline.json"))
    (check,) = cmp.operational
    assert check.decision == "not_comparable" and not check.blocking
    assert "has no operational metrics" in check.reason
    assert cmp.state == "neutral" and cmp.exit_code == 0


# ---------------------------------------------------------------- real runs of the small model


@pytest.fixture(scope="module")
def verbose_dir(smol_dir, tmp_path_factory) -> Path:
    """The small model's files, with a generation config that never ends an answer early."""
    d = tmp_path_factory.mktemp("verbose")
    for f in smol_dir.iterdir():
        if f.name != "generation_config.json":
            (d / f.name).symlink_to(f)
    gen = json.loads((smol_dir / "generation_config.json").read_text())
    gen.update(max_new_tokens=32, suppress_tokens=[gen["eos_token_id"]])
    (d / "generation_config.json").write_text(json.dumps(gen))
    return d


@pytest.fixture(scope="module")
def runs(smol_lm, verbose_dir):
    from gate.config import ModelSpec
    from gate.run.models import load_lm
    from gate.run.runner import RunOptions, run_suite

    suite = load_suite(SUITE)
    baseline = run_suite(smol_lm, suite, RunOptions(price_per_hour=1.5))
    verbose = load_lm(ModelSpec(model=str(verbose_dir), batch_size=8))
    candidate = run_suite(verbose, suite, RunOptions(price_per_hour=1.5))
    return baseline, candidate


@pytest.mark.slow
def test_every_record_carries_operational_metrics_per_task_and_run(runs):
    for rec in runs:
        t = rec.task("short_answers")
        g = t.operational.generation
        assert g.requests == t.n == 4 and len(t.operational.latencies_s) == 4
        assert 0 < g.latency_p50_s <= g.latency_p95_s <= g.latency_p99_s
        assert 0 < g.output_tokens_mean <= g.output_tokens_p95 and g.tokens_per_second > 0
        assert sorted(i.doc_id for i in t.operational.output_tokens) == [0, 1, 2, 3]
        run = rec.operational
        assert run.hardware.startswith("cpu: ") and run.timing_method == "batch"  # batch size 8: batch time / rows
        assert run.peak_memory_kind == "peak_rss" and run.peak_memory_bytes > 100 * 2**20
        assert run.generation.requests == 4 and run.failed_requests == 0
        assert run.estimated_cost == pytest.approx(rec.timing.wall_seconds / 3600 * 1.5, rel=1e-3)
        again = records.loads(records.dumps(rec), "record")
        assert again == records.seal(rec)


@pytest.mark.slow
def test_a_more_verbose_candidate_is_flagged_by_the_output_length_rule_only(runs, tmp_path):
    baseline, candidate = runs
    th = tmp_path / "thresholds.yaml"
    th.write_text(RULES)
    b, c = baseline.task("short_answers"), candidate.task("short_answers")
    assert c.operational.generation.output_tokens_mean > 1.5 * b.operational.generation.output_tokens_mean
    cmp = compare(candidate, baseline, load_thresholds(th), file_baseline_ref(baseline, "baseline.json"))
    (acc,) = cmp.tasks
    assert not acc.blocking and acc.decision == "ok", acc.reason  # same answers' content: accuracy as it was
    (length,) = cmp.operational
    assert (length.scope, length.metric, length.decision, length.blocking) == (
        "short_answers",
        "output_tokens_mean",
        "exceeded",
        True,
    ), length.reason
    assert length.ci_low > 0.5 and "paired per item (4 items in both)" in length.reason
    assert cmp.exit_code == 1 and cmp.blocking_reasons == (length.reason,)
    text, md = render_comparison(cmp, "text"), render_comparison(cmp, "markdown")
    assert (
        "output_tokens_mean" in text
        and "exceeded (blocks)" in text
        and "**Operational: latency, output length, memory, cost**" in md
    )
    back = Comparison.from_dict(json.loads(json.dumps(comparison_dict(cmp))))
    assert back.operational == cmp.operational and back.state == cmp.state == "failure"


@pytest.mark.slow
def test_timings_from_different_hardware_are_not_compared(runs, tmp_path):
    baseline, candidate = runs
    th = tmp_path / "thresholds.yaml"
    th.write_text(RULES)
    elsewhere = replace(baseline, operational=replace(baseline.operational, hardware="cuda: NVIDIA H100 80GB HBM3"))
    cmp = compare(candidate, elsewhere, load_thresholds(th), file_baseline_ref(elsewhere, "baseline.json"))
    (length,) = cmp.operational
    assert length.decision == "not_comparable" and not length.blocking
    assert length.reason.startswith("not comparable: different hardware")
    assert cmp.exit_code == 0 and cmp.state == "neutral"
