"""The job summary and PR comment of a workflow run: one table for both stages, blocking rows first;
the floors table instead of a diff when the fast stage fails its floors.

The stages' comparisons are the golden `gate diff` outputs under tests/data/github/ (written by
tests/data/github/make_inputs.py from real records); the floor verdict is built by `gate.decide.floors`
from the blocked pair's candidate record against a floor it misses.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gate import record as records
from gate.ci.changes import Pick
from gate.ci.stage import _result
from gate.ci.summary import StageJob, StageResult, summarize
from gate.config.thresholds import TaskThreshold
from gate.decide.floors import check
from gate.github.comment import ReportContext, render_comment
from gate.github.delivery import read_comparison

DATA = Path(__file__).parent / "data"
RUN = Pick(True, "checkpoints/sft.yaml", "main", "changed")


def columns(row: str) -> int:
    return row.replace("\\|", "").strip().strip("|").count("|") + 1


def job(result: StageResult) -> StageJob:
    return StageJob(result.stage, "success", result.encode())


def test_both_stages_share_one_table_with_the_blocking_row_first():
    fast = _result("fast", None, read_comparison(DATA / "github/passed/comparison.json"), "run-fast")
    full = _result("full", None, read_comparison(DATA / "github/blocked/comparison.json"), "run-full")
    s = summarize(RUN, [job(fast), job(full)])
    assert s.outcome == "blocked" and s.state == "failure"
    lines = s.body.splitlines()
    assert lines[0].startswith("### ❌ blocked — full: arc_easy −20.0 pts, allowed −5.0; catastrophic forgetting")
    table = [ln for ln in lines if ln.startswith("| ") and "→" in ln and "task · metric" not in ln]
    assert table[0].startswith("| ❌ full | `arc_easy` acc |")  # blocking first, though fast comes first
    assert any(ln.startswith("| ✅ fast |") for ln in table[1:])
    assert sum(ln.startswith("|  | task · metric |") for ln in lines) == 1  # one table for both stages
    assert max(columns(ln) for ln in lines if ln.startswith("|")) <= 6
    ctx = ReportContext("model-gate", s.state, s.description, cause=s.cause, head_sha="2a6c97f" + "0" * 33)
    comment = render_comment(s.body, ctx).splitlines()
    assert comment[1] == lines[0].replace("### ❌ ", "### ❌ model-gate: ")  # the same cause, once
    assert comment[3].startswith("commit `2a6c97f` · fast: ") and " · full: " in comment[3]


def test_a_fast_stage_below_its_floors_shows_the_floors_table_instead_of_the_diff():
    folder = DATA / "records/diff/regress/forgetting"
    cand = records.load(folder / "candidate.json")
    cmp = read_comparison(DATA / "github/blocked/comparison.json")
    th = replace(
        _thresholds(),
        tasks={"arc_easy": TaskThreshold(metric="acc", higher_is_better=True, floor=0.9)},
    )
    verdict = check(cand, th)
    assert not verdict.passed
    r = _result("fast", verdict, cmp, "run-fast")
    assert r.outcome == "blocked" and r.rows == ()
    assert r.cause == "below a floor: arc_easy"
    floors, diff = r.body.index("#### Floors"), r.body.index("<summary>Baseline diff</summary>")
    assert floors < diff  # the floors table is shown; the diff is folded after it
    s = summarize(RUN, [job(r), StageJob("full", "skipped")])
    assert s.body.splitlines()[0] == "### ❌ blocked — fast: below a floor: arc_easy"


def _thresholds():
    from gate.config import load_thresholds

    return load_thresholds(DATA / "records/diff/regress/forgetting/thresholds.yaml")


def test_a_stage_with_history_adds_a_sparkline_column_to_the_shared_table():
    cmp = read_comparison(DATA / "github/blocked/comparison.json")
    history = {"arc_easy": [0.69, 0.71, 0.70, 0.72], "medqa": [0.30, 0.33]}
    full = _result("full", None, cmp, "run-full", history)
    fast = _result("fast", None, read_comparison(DATA / "github/passed/comparison.json"), "run-fast")
    lines = summarize(RUN, [job(fast), job(full)]).body.splitlines()
    head = next(ln for ln in lines if "task · metric" in ln)
    assert head.endswith("| allowed | trend |")
    rows = [ln for ln in lines if ln.startswith("| ") and "→" in ln and "task · metric" not in ln]
    assert all(columns(r) == 6 for r in rows)  # the stage without history gets an empty cell
    # 0.69 0.71 0.70 0.72, then this run's 0.505: the fall shows as the last, lowest bar.
    assert rows[0].startswith("| ❌ full | `arc_easy`") and rows[0].endswith("| `▇█▇█▁` |")
