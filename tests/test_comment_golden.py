"""Golden files: the PR comment, job summary and annotations, from real `gate diff` output.

The inputs (tests/data/github/<case>/comparison.json and report.md) are what compare() and
render_comparison() make of the EvalRecord pairs under tests/data/records/diff/; see
tests/data/github/make_inputs.py. Regenerate the goldens on purpose with:
GATE_UPDATE_GOLDEN=1 python -m pytest tests/test_comment_golden.py
"""

from __future__ import annotations

import importlib.util
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.github.comment import (
    COMMENT_LIMIT,
    ReportContext,
    error_lines,
    marker,
    mlflow_compare_url,
    render_comment,
    render_summary,
)
from gate.github.delivery import read_verdict

DATA = Path(__file__).parent / "data" / "github"
CASES = {"blocked": "failure", "inconclusive": "neutral", "passed": "success"}
NOW = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)


def rendered(case: str) -> dict[str, str]:
    v = read_verdict(DATA / case / "comparison.json")
    ctx = ReportContext(
        gate_name="model-gate",
        state=v.state,
        description=v.description,
        baseline_name=v.baseline_name,
        baseline_run_id=v.baseline_run_id,
        baseline_frozen_at=v.baseline_frozen_at,
        mlflow_run_url="http://mlflow.internal:5000/#/runs/5e1f0c0ffee",
        compare_url=mlflow_compare_url("http://mlflow.internal:5000", ["5e1f0c0ffee", v.baseline_run_id]),
        cause=v.cause,
        pointer="checkpoints/sft-v3.yaml",
        workflow_run_url="https://github.com/acme/models/actions/runs/4242",
        head_sha="2a6c97f6f5dc9166cc2e5d0d95415a386805ca07",
        now=NOW,
    )
    body = (DATA / case / "report.md").read_text()
    return {
        "comment.md": render_comment(body, ctx),
        "summary.md": render_summary(body, ctx),
        "annotations.txt": "".join(line + "\n" for line in error_lines(v.annotations)),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_matches_golden_files(case):
    for name, got in rendered(case).items():
        path = DATA / case / name
        if os.environ.get("GATE_UPDATE_GOLDEN"):
            path.write_text(got)
        assert got == path.read_text(), f"{path} differs; if intended, regenerate with GATE_UPDATE_GOLDEN=1"


@pytest.mark.parametrize(("case", "state"), list(CASES.items()))
def test_a_reviewer_reads_the_verdict_first(case, state):
    assert read_verdict(DATA / case / "comparison.json").state == state
    comment = rendered(case)["comment.md"]
    lines = comment.splitlines()
    assert lines[0] == marker("model-gate")
    assert lines[1].startswith(
        {"failure": "### ❌ model-gate: blocked — ", "neutral": "### ⚪ model-gate: inconclusive — ",
         "success": "### ✅ model-gate: passed — "}[state]
    )  # fmt: skip
    # The second paragraph is the one line of context: what, against what, how long, where to look.
    assert lines[2] == "" and lines[4] == ""
    context = lines[3]
    assert context.startswith("**checkpoints/sft-v3.yaml** @ `2a6c97f`")
    assert "vs baseline **main** (run `" in context and ", frozen 10 days ago)" in context
    assert " items, " in context and " on CPU" in context
    for link in ("[MLflow run](", "[compare with baseline](", "[workflow run]("):
        assert link in context
    assert "| task · metric | base → cand | Δ pts (95% CI) | allowed |" in comment
    assert len(comment) < COMMENT_LIMIT


def test_blocked_case_flags_forgetting_and_folds_flipped_items():
    out = rendered("blocked")
    comment = out["comment.md"]
    assert "catastrophic forgetting" in comment.splitlines()[1]  # the main cause, in the heading
    assert "<summary>Catastrophic forgetting (blocking by policy)</summary>" in comment
    assert "<summary>Flipped items: arc_easy 40 newly wrong" in comment
    # The blocking row comes first, with its move in bold and its interval in points.
    rows = [ln for ln in comment.splitlines() if ln.startswith("| ❌ |") or ln.startswith("| ⬆️ |")]
    assert rows[0].startswith("| ❌ | `arc_easy` acc |") and "**−20.0** (−25.6, −14.4)" in rows[0]
    assert out["annotations.txt"].splitlines()[-1].startswith("::error title=model-gate%3A catastrophic forgetting::")


@pytest.mark.skipif(
    importlib.util.find_spec("gate.decide.compare") is None, reason="needs gate.decide.compare (the diff branch)"
)
@pytest.mark.parametrize("case", list(CASES))
def test_inputs_are_what_gate_diff_renders_today(case, monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])  # the report prints the thresholds path as given
    spec = importlib.util.spec_from_file_location("make_inputs", DATA / "make_inputs.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    records_root = Path("tests/data/records/diff")
    for name, text in make.render(records_root, case).items():
        assert text == (DATA / case / name).read_text(), f"{case}/{name}: rerun tests/data/github/make_inputs.py"
