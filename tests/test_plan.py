"""Power before the run: `gate plan` and `gate run` say whether the sample can resolve each allowance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import gate.cli.plan  # noqa: F401 - registers `gate plan`
import gate.cli.run  # noqa: F401 - registers `gate run`
from gate.cli import cli
from gate.decide.power import needed_items, plan_task

DATA = Path(__file__).parent / "data"
SUITE = DATA / "suites" / "check.yaml"  # arc_easy + mmlu, the suite of the real record below
RECORD = DATA / "records" / "smollm2-check.json"  # SmolLM2-135M, 60 items per task


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "th.yaml"
    p.write_text(text)
    return p


def test_477_items_cannot_resolve_2_points_at_the_measured_discordance():
    # The case: ARC-Easy, 477 paired items, 42 + 19 of them changed (12.8%), allowed drop 2 points.
    p = plan_task("arc_easy", 477, 0.02, 0.05, discordance=61 / 477)
    assert round(p.mde * 100, 1) == 6.6 and not p.resolvable
    assert 2400 < p.n_needed < 2600
    assert "6.6 pts" in p.line() and "needs about" in p.line()
    assert plan_task("arc_easy", 3000, 0.02, 0.05, discordance=61 / 477).resolvable
    assert needed_items(0.0, 0.1, 0.05) is None  # an allowance of 0 is never shown to hold


def test_plan_reads_the_baseline_items(tmp_path):
    th = write(
        tmp_path,
        "defaults: {max_drop: 0.10}\ntasks:\n  mmlu: {metric: acc, higher_is_better: true, informational: true}\n",
    )
    r = CliRunner().invoke(
        cli,
        ["plan", "--suite", str(SUITE), "--thresholds", str(th), "--baseline-record", str(RECORD), "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    (arc,) = json.loads(r.stdout)["tasks"]  # mmlu is informational: not planned
    assert arc["task"] == "arc_easy" and arc["n"] == 60  # what the baseline holds, so what the diff can pair
    assert arc["mde"] > 0.10 and not arc["resolvable"]


def test_require_power_refuses_before_any_model_loads(tmp_path):
    th = write(
        tmp_path,
        "policy: {require_power: true}\ndefaults: {max_drop: 0.02}\n"
        "tasks:\n  mmlu: {metric: acc, higher_is_better: true, informational: true}\n",
    )
    out = tmp_path / "rec.json"
    args = ["--model", "smollm2-135m", "--suite", str(SUITE), "--sample", "20", "--thresholds", str(th)]
    r = CliRunner().invoke(cli, ["run", *args, "--output", str(out), "--no-mlflow"])
    assert r.exit_code == 2, r.output
    assert "policy.require_power" in r.stderr and "arc_easy" in r.stderr
    assert "loading smollm2-135m" not in r.stderr and not out.exists()
    r = CliRunner().invoke(cli, ["plan", "--suite", str(SUITE), "--thresholds", str(th), "--sample", "20"])
    assert r.exit_code == 2 and "require_power" in r.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "tasks:\n  arc_easy: {metric: acc, higher_is_better: true, max_drop: 0.05}\n",
            "'mmlu' is evaluated but has no rule",
        ),
        (
            "defaults: {max_drop: 0.05}\ntasks:\n  arc_eazy: {metric: acc, higher_is_better: true, max_drop: 0.05}\n",
            "arc_eazy: not in",
        ),
    ],
)
def test_a_task_without_a_rule_or_a_rule_without_a_task_is_exit_2(tmp_path, text, words):
    r = CliRunner().invoke(
        cli, ["plan", "--suite", str(SUITE), "--thresholds", str(write(tmp_path, text)), "--sample", "50"]
    )
    assert r.exit_code == 2 and words in r.stderr, r.output
