"""Jagged profiles: a general task far out of line with the others is named in every diff, a warning unless
the thresholds make it block. Records are synthetic (tests/fixtures_diff.py): the scores are the scenario."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gate.config import load_thresholds
from gate.config.thresholds import JaggedRule
from gate.decide.compare import compare
from gate.decide.jagged import robust_z
from gate.errors import ConfigError
from gate.github.delivery import check_verdict
from gate.report.comparison import render_comparison
from gate.results import Comparison
from tests.fixtures_diff import REF, base_scores, flip, record, task, thresholds

GENERAL = ("arc_easy", "hellaswag", "mmlu", "piqa", "winogrande", "gsm8k")


def _records(moves: dict[str, tuple[int, int]], n: int = 600):
    """Baseline and candidate with the GENERAL tasks; moves[name] = (items made wrong, items made right)."""
    base = {name: base_scores(n, 0.6, seed=k) for k, name in enumerate(GENERAL)}
    b = record(*(task(name, s) for name, s in base.items()))
    c = record(*(task(name, flip(s, *moves.get(name, (5, 5)))) for name, s in base.items()), candidate=True)
    return c, b


def _thresholds(rule: JaggedRule | None = None):
    th = thresholds(**dict.fromkeys(GENERAL, 0.1))
    return replace(th, jagged=rule) if rule else th


def test_one_task_up_nine_points_while_the_rest_stay_put_is_named_jagged_without_blocking():
    c, b = _records({"gsm8k": (0, 54), "mmlu": (8, 3), "piqa": (2, 6)})
    r = compare(c, b, _thresholds(), REF)
    assert [j.name for j in r.jagged] == ["gsm8k"], [j.message for j in r.jagged]
    j = r.jagged[0]
    assert j.z > 3.5 and not j.blocking and j.delta == pytest.approx(0.09)
    assert j.message.startswith("gsm8k +9.0 pts while the other five general tasks moved within ±0.8 pts")
    assert "targeted training or contamination" in j.message
    assert r.exit_code == 0 and r.passed, r.headline  # a warning, not a block
    for fmt in ("text", "markdown"):
        out = render_comparison(r, fmt)
        line = next(x for x in out.splitlines() if "gsm8k +9.0 pts while the other five" in x)
        assert "(blocks)" not in line and "jagged profile" in line.lower(), out


def test_tasks_that_all_moved_alike_are_not_jagged():
    c, b = _records(dict.fromkeys(GENERAL, (0, 30)))
    r = compare(c, b, _thresholds(), REF)
    assert r.jagged == () and all(t.delta == pytest.approx(0.05) for t in r.tasks)


def test_a_drop_out_of_line_says_so_and_blocks_when_the_thresholds_say_so():
    c, b = _records({"hellaswag": (70, 0)})
    r = compare(c, b, _thresholds(JaggedRule(blocks=True)), REF)
    assert [j.name for j in r.jagged] == ["hellaswag"] and r.jagged[0].z < -3.5
    assert "damage targeted at this task" in r.jagged[0].message
    assert r.exit_code == 1 and r.state == "failure"
    assert any(reason.startswith("jagged profile: hellaswag -11.7 pts") for reason in r.blocking_reasons)
    assert "hellaswag -11.7 pts while" in r.headline
    assert "Jagged profile (blocks)" in render_comparison(r, "markdown")
    check = check_verdict(r)  # the GitHub check says the same: failure, with the jagged task annotated
    assert check.state == "failure" and any(a.title == "model-gate: jagged profile" for a in check.annotations)


def test_the_threshold_and_the_minimum_of_tasks_come_from_the_rule():
    c, b = _records({"gsm8k": (0, 54)})
    assert compare(c, b, _thresholds(JaggedRule(z=1000.0)), REF).jagged == ()
    assert compare(c, b, _thresholds(JaggedRule(min_tasks=7)), REF).jagged == ()


def test_domain_tasks_take_no_part():
    base = {name: base_scores(600, 0.6, seed=k) for k, name in enumerate(GENERAL[:4])}
    dom = base_scores(600, 0.6, seed=9)
    b = record(*(task(n, s) for n, s in base.items()), task("medqa", dom, kind="domain"))
    c = record(
        *(task(n, flip(s, 5, 5)) for n, s in base.items()),
        task("medqa", flip(dom, 0, 90), kind="domain"),
        candidate=True,
    )
    r = compare(c, b, _thresholds(), REF)
    assert r.jagged == () and r.tasks[-1].delta == pytest.approx(0.15)


def test_jagged_round_trips_through_the_json_of_gate_diff():
    c, b = _records({"gsm8k": (0, 54)})
    r = compare(c, b, _thresholds(), REF)
    back = Comparison.from_dict(json.loads(render_comparison(r, "json")))
    assert back.jagged == r.jagged and back == r


def test_robust_z_floors_its_scale_at_one_standard_error():
    assert robust_z(5.0, [0.0, 0.0, 0.0]) == 5.0  # MAD 0 would make any move infinitely jagged
    assert robust_z(10.0, [0.0, 4.0, -4.0, 2.0, -2.0]) == pytest.approx(10.0 / (1.4826 * 2.0))


def test_thresholds_file_sets_the_rule_and_refuses_unknown_keys(tmp_path):
    p = tmp_path / "t.yaml"
    head = "tasks:\n  arc_easy: {metric: acc, higher_is_better: true, max_drop: 0.02}\n"
    p.write_text(head + "jagged: {z: 4, blocks: true}\n")
    assert load_thresholds(p).jagged == JaggedRule(z=4.0, min_tasks=4, blocks=True)
    p.write_text(head)
    assert load_thresholds(p).jagged == JaggedRule()
    p.write_text(head + "jagged: {zz: 4}\n")
    with pytest.raises(ConfigError, match="jagged"):
        load_thresholds(p)
