"""render_comparison: golden files for text, markdown and JSON, and what every format must say.

Regenerate the golden files on purpose with: GATE_UPDATE_GOLDEN=1 python -m pytest tests/test_report.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gate.decide.compare import compare
from gate.report.comparison import render_comparison
from gate.report.markdown import ordered
from tests.fixtures_diff import REF, base_scores, flip, record, task, thresholds

GOLDEN = Path(__file__).parent / "data" / "golden"
BASE = base_scores(400, 0.7, seed=11)
DOM = base_scores(200, 0.4, seed=12)
MMLU_GROUPS = [f"subject_{i % 12}" for i in range(240)]
MMLU = base_scores(240, 0.3, seed=13)


def _blocked():
    b = record(
        task("arc_easy", BASE),
        task("mmlu", MMLU, groups=MMLU_GROUPS),
        task("medqa", DOM, kind="domain", chance=0.2),
        task("hellaswag", BASE[:100]),
    )
    c = record(
        task("arc_easy", flip(BASE, 60, 5)),
        task("mmlu", flip(MMLU, 4, 3), groups=MMLU_GROUPS),
        task("medqa", flip(DOM, 2, 40), kind="domain", chance=0.2),
        task("hellaswag", BASE[:100], num_fewshot=10),
        candidate=True,
        run_id="fedcba9876543210",
    )
    return compare(c, b, thresholds(arc_easy=0.03, mmlu=0.02, hellaswag=0.02), REF)


def _passed():
    b = record(task("arc_easy", BASE))
    c = record(task("arc_easy", flip(BASE, 2, 3)), candidate=True)
    return compare(c, b, thresholds(arc_easy=0.03), REF)


SCENARIOS = {"blocked": _blocked, "passed": _passed}
EXT = {"text": "txt", "markdown": "md", "json": "json"}


@pytest.mark.parametrize("fmt", list(EXT))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_matches_golden_file(scenario, fmt):
    got = render_comparison(SCENARIOS[scenario](), fmt)
    path = GOLDEN / f"diff_{scenario}.{EXT[fmt]}"
    if os.environ.get("GATE_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    assert got == path.read_text(), f"{path} differs; if intended, regenerate with GATE_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("fmt", list(EXT))
def test_every_format_names_baseline_power_forgetting_and_flipped_items(fmt):
    out = render_comparison(_blocked(), fmt)
    for needle in ("smol-main", "0123456789abcdef", "Catastrophic forgetting", "arc_easy", "medqa", "Question 0"):
        assert needle in out, needle
    assert {"text": "MDE", "markdown": "80% power for", "json": '"mde"'}[fmt] in out
    assert "few-shot count differs" in out
    assert "near chance" in out  # mmlu at ~30% with chance 25% on 240 items


def test_markdown_leads_with_the_verdict_and_folds_items():
    md = render_comparison(_blocked(), "markdown")
    lines = md.splitlines()
    # One line with the state and the main cause, then one line of context naming the baseline.
    assert lines[0] == "### ❌ blocked — arc_easy −13.8 pts, allowed −3.0; catastrophic forgetting (+1 more)"
    assert "vs baseline **smol-main** (run `0123456789abcdef`" in lines[2]
    assert "<details>" in md and "</details>" in md
    assert render_comparison(_passed(), "markdown").startswith("### ✅ passed — no gated task dropped")


def test_json_carries_the_verdict_and_is_strict_json():
    data = json.loads(render_comparison(_blocked(), "json"))
    assert data["passed"] is False and data["exit_code"] == 1
    assert data["baseline"]["run_id"] == "0123456789abcdef"
    tasks = {t["name"]: t for t in data["tasks"]}
    assert tasks["arc_easy"]["decision"] == "regressed"
    assert tasks["hellaswag"]["decision"] == "not_comparable"
    assert data["forgetting"]["general_losses"][0]["name"] == "arc_easy"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        render_comparison(_passed(), "html")


def test_underpowered_is_marked_only_where_the_mde_exceeds_the_allowed_drop():
    c = _blocked()
    md = render_comparison(c, "markdown")
    for t in c.tasks:
        row = next(ln for ln in md.splitlines() if ln.startswith("| ") and f"`{t.name}` " in ln)
        weak = t.gated and t.mde is not None and t.mde > t.allowance
        assert (" † |" in row) == weak, row
    weak = [t.name for t in ordered(c) if t.gated and t.mde is not None and t.mde > t.allowance]
    assert weak and f"† underpowered: {', '.join(weak)} could miss" in md
    assert "† |" not in next(ln for ln in md.splitlines() if "`medqa` " in ln)  # informational: no allowed drop
