"""`gate correlate`: Spearman's rho between general and domain tasks across checkpoints, read from a real
MLflow sqlite store. Scores here are synthetic records (tests/fixtures_diff.py), chosen by each test;
tests/test_correlate_e2e.py fills the store with real runs of the small model."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from scipy import stats as st

import gate.cli.correlate  # noqa: F401  (registers the command)
from gate.cli import cli
from gate.correlation import CheckpointScores, TaskPoint
from gate.decide.correlate import band, correlate
from gate.report.correlation import render_correlation
from gate.store.runs_query import RunFilter, checkpoint_scores
from gate.store.tracking import Store
from tests.fixtures_diff import flip, record, task

GENERAL = [0.40, 0.45, 0.43, 0.52, 0.60, 0.58]
DOMAIN = [0.30, 0.50, 0.35, 0.55, 0.70, 0.52]


def _checkpoint(k: int, general: float, domain: float, general_lower_is_better: bool = False) -> CheckpointScores:
    return CheckpointScores(
        fingerprint=f"sha256:{k:064d}",
        model_id=f"ckpt-{k}",
        started_at=f"2025-01-0{k + 1}T00:00:00+00:00",
        tasks=(
            TaskPoint("arc_easy", "general", "acc", not general_lower_is_better, general, f"run{k}"),
            TaskPoint("policy", "domain", "acc", True, domain, f"run{k}"),
        ),
    )


def test_rho_and_p_are_scipys_on_the_same_numbers_with_the_sources_bands():
    r = correlate([_checkpoint(k, g, d) for k, (g, d) in enumerate(zip(GENERAL, DOMAIN, strict=True))])
    (p,) = r.pairs
    want = st.spearmanr(GENERAL, DOMAIN)
    assert (p.n, p.rho, p.p_value) == (6, pytest.approx(want.statistic), pytest.approx(want.pvalue))
    assert p.band == "strong" and p.rho > 0.7 and "strong predictor of policy" in p.reading
    assert r.warnings == () and p.reliable
    assert [band(x) for x in (0.71, -0.71, 0.7, 0.41, 0.4, -0.1, None)] == [
        *("strong", "strong", "moderate", "moderate", "weak", "weak", "undefined")
    ]


def test_under_five_checkpoints_is_unreliable_and_a_constant_task_has_no_rho():
    r = correlate([_checkpoint(k, g, d) for k, (g, d) in enumerate(zip(GENERAL[:4], DOMAIN[:4], strict=True))])
    assert any("fewer than 5" in w for w in r.warnings) and not r.pairs[0].reliable
    assert "unreliable" in r.pairs[0].reading
    flat = correlate([_checkpoint(k, g, 0.5) for k, g in enumerate(GENERAL)]).pairs[0]
    assert (flat.rho, flat.band) == (None, "undefined") and "same on every checkpoint" in flat.reading


def test_a_lower_is_better_benchmark_is_read_in_its_better_direction():
    r = correlate([_checkpoint(k, -g, d, True) for k, (g, d) in enumerate(zip(GENERAL, DOMAIN, strict=True))])
    assert r.pairs[0].rho == pytest.approx(st.spearmanr(GENERAL, DOMAIN).statistic)


def test_renders_text_markdown_html_json_with_a_scatter_per_pair():
    r = correlate([_checkpoint(k, g, d) for k, (g, d) in enumerate(zip(GENERAL, DOMAIN, strict=True))])
    md = render_correlation(r, "markdown")
    assert md.count("<svg") == 1 and md.count("<circle") == 6 and "| `arc_easy` (acc) | `policy` (acc) | 6 |" in md
    assert render_correlation(r, "html").count("<circle") == 6
    assert "arc_easy      policy       6  +0.94" in render_correlation(r, "text")
    data = json.loads(render_correlation(r, "json"))
    assert data["pairs"][0]["rho"] == pytest.approx(r.pairs[0].rho)


def _log(store: Store, k: int, scores: dict[str, list[float]], suite: str = "both") -> None:
    """One run of checkpoint k, as `gate run` logs it: arc_easy is general, policy the domain task."""
    rec = record(*(task(n, s, kind="domain" if n == "policy" else "general") for n, s in scores.items()))
    model = replace(rec.model, id=f"ckpt-{k}", fingerprint=f"sha256:{k:064x}")
    store.log_record(replace(rec, model=model, suite=replace(rec.suite, name=suite)))


def test_checkpoint_scores_group_runs_by_fingerprint_and_follow_the_filter(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    base = [1.0] * 10 + [0.0] * 10
    for k in range(5):
        _log(store, k, {"arc_easy": flip(base, k), "policy": flip(base, 2 * k + 1)})
    _log(store, 0, {"policy": base}, suite="domain")  # the same checkpoint again, newer: its policy score counts
    got = checkpoint_scores(store, RunFilter())
    assert len(got) == 5 and {len(c.tasks) for c in got} == {2}
    ck = {c.model_id: c for c in got}
    assert ck["ckpt-3"].task("arc_easy").value == pytest.approx(0.35)
    assert ck["ckpt-3"].task("policy").value == pytest.approx(0.15) and ck["ckpt-3"].task("policy").kind == "domain"
    assert ck["ckpt-0"].task("policy").value == pytest.approx(0.5)  # the newest run of it
    only = checkpoint_scores(store, RunFilter(suites=("domain",)))
    assert [(c.model_id, [t.task for t in c.tasks]) for c in only] == [("ckpt-0", ["policy"])]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert checkpoint_scores(store, RunFilter(since=later)) == []
    assert len(checkpoint_scores(store, RunFilter(until=later))) == 5
    assert checkpoint_scores(store, RunFilter(experiment="nothing-here")) == []

    r = CliRunner().invoke(cli, ["correlate", "--format", "json", "--tracking-uri", store.tracking_uri])
    assert r.exit_code == 0, r.output
    pair = json.loads(r.stdout)["pairs"][0]
    xs = [ck[f"ckpt-{k}"].task("arc_easy").value for k in range(5)]
    ys = [ck[f"ckpt-{k}"].task("policy").value for k in range(5)]
    assert pair["n"] == 5 and pair["rho"] == pytest.approx(st.spearmanr(xs, ys).statistic)
    bad = CliRunner().invoke(cli, ["correlate", "--suite", "x'y", "--tracking-uri", store.tracking_uri])
    assert bad.exit_code == 2 and "--suite" in bad.output
