"""`gate check` acceptance tests over example folders, on a record from a real evaluation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import _register, cli
from gate.config import load_thresholds
from gate.record import load

_register()
DATA = Path(__file__).parent / "data"
RECORD = DATA / "records" / "smollm2-check.json"
T = DATA / "configs" / "thresholds"


def check(*args: str):
    return CliRunner().invoke(cli, ["check", str(RECORD), *args], catch_exceptions=False)


@pytest.mark.parametrize(
    "name, code, outcome",
    # inconclusive: shown as its own state, not blocking by default (policy.inconclusive_blocks)
    [("pass", 0, "pass"), ("below_floor", 1, "fail"), ("inconclusive", 0, "inconclusive")],
)
def test_valid_thresholds(name, code, outcome):
    r = check("--thresholds", str(T / "valid" / f"{name}.yaml"), "--format", "json")
    assert r.exit_code == code, r.output
    data = json.loads(r.stdout)
    assert data["passed"] is (code == 0) and data["exit_code"] == code
    arc = next(c for c in data["checks"] if c["task"] == "arc_easy")
    assert arc["outcome"] == outcome
    # the interval and the margin are reported, and they are consistent with the floor
    assert arc["ci_low"] < arc["value"] < arc["ci_high"]
    assert arc["margin"] == pytest.approx(arc["value"] - arc["floor"])


def test_inconclusive_is_its_own_state_and_can_be_made_to_block(tmp_path):
    r = check("--thresholds", str(T / "valid" / "inconclusive.yaml"), "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["state"] == "neutral", r.output
    assert "INCONCLUSIVE" in check("--thresholds", str(T / "valid" / "inconclusive.yaml")).stderr
    r = check("--thresholds", str(T / "valid" / "inconclusive.yaml"), "--inconclusive-blocks")
    assert r.exit_code == 1, r.output
    strict = tmp_path / "strict.yaml"
    strict.write_text((T / "valid" / "inconclusive.yaml").read_text() + "policy: {inconclusive_blocks: true}\n")
    assert check("--thresholds", str(strict)).exit_code == 1
    assert check("--thresholds", str(strict), "--inconclusive-passes").exit_code == 0


def test_the_old_inconclusive_key_says_what_replaced_it(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("inconclusive: fail\n" + (T / "valid" / "inconclusive.yaml").read_text())
    r = check("--thresholds", str(old))
    assert r.exit_code == 2 and "policy.inconclusive_blocks" in r.stderr, r.output


def test_text_table_names_floor_margin_and_near_chance():
    r = check("--thresholds", str(T / "valid" / "pass.yaml"))
    assert r.exit_code == 0, r.output
    assert "PASS" in r.stdout and "arc_easy" in r.stdout and ">= 25.0%" in r.stdout
    # MMLU at 135M parameters is within noise of 25%: the gate says so.
    assert "mmlu" in r.stdout and "near chance" in r.stdout


@pytest.mark.parametrize(
    "name, needle",
    [
        ("missing_metric", "tasks.arc_easy.metric: 'acc_norm' was not measured"),
        ("unknown_task", "tasks.hellaswag: the record has no task 'hellaswag'"),
        ("misspelt_key", "did you mean 'floor'"),
        ("floor_not_a_number", "tasks.arc_easy.floor"),
        ("no_direction", "higher_is_better"),
        ("not_yaml", "not valid YAML"),
    ],
)
def test_invalid_thresholds_are_exit_2_naming_the_problem(name, needle):
    path = T / "invalid" / f"{name}.yaml"
    r = check("--thresholds", str(path))
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert str(path) in r.output


def test_record_that_is_not_a_record(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"schema_version": 1, "tasks": []}))
    r = CliRunner().invoke(cli, ["check", str(bad), "--thresholds", str(T / "valid" / "pass.yaml")])
    assert r.exit_code == 2, r.output
    assert "is required" in r.output


def test_a_short_record_never_passes(tmp_path):
    data = json.loads(RECORD.read_text())
    data["tasks"][0]["n_requested"] = data["tasks"][0]["n"] + 5
    short = tmp_path / "short.json"
    short.write_text(json.dumps(data))
    r = CliRunner().invoke(cli, ["check", str(short), "--thresholds", str(T / "valid" / "pass.yaml")])
    # A record that claims more items than it holds disagrees with itself: refused on read (exit 2), never a
    # verdict about the model.
    assert r.exit_code == 2, r.output
    assert "tasks.0 (arc_easy).items" in r.stderr and "n_requested" in r.stderr
    # Built in code (no read to refuse it), the floors still fail it.
    from gate.decide.floors import check as check_floors

    rec = load(RECORD)
    arc = replace(rec.tasks[0], n_requested=rec.tasks[0].n + 5)
    verdict = check_floors(replace(rec, tasks=(arc, *rec.tasks[1:])), load_thresholds(T / "valid" / "pass.yaml"))
    assert not verdict.passed and any("items were evaluated" in r for r in verdict.reasons)


@pytest.mark.parametrize("decision, code", [("above_floor", 0), ("below_floor", 1)])
def test_an_early_verdict_decides_the_floor(decision, code, tmp_path):
    data = json.loads(RECORD.read_text())
    arc = data["tasks"][0]
    arc["early_stop"] = {
        "items_used": arc["n"],
        "items_available": 2376,
        "decision": decision,
        "reason": "betting confidence sequence wholly on one side of 0.45",
    }
    rec = tmp_path / "early.json"
    rec.write_text(json.dumps(data))
    # 0.45 is inside the fixed-sample interval: without the early verdict this would be inconclusive
    r = CliRunner().invoke(cli, ["check", str(rec), "--thresholds", str(T / "valid" / "inconclusive.yaml")])
    assert r.exit_code == code, r.output
    assert "early verdict after 60 of 2376 items" in r.stdout
