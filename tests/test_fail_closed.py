"""The helpers behind "fail closed": what a good input still does (tests/test_bad_inputs.py has the bad ones).

A record's checks accept every rule the runner aggregates by; the digest survives save and load and
ignores only what may change after a run; the strict YAML loader still reads merges; write_output
replaces only when told; redact leaves no piece of a credential.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gate import record as records
from gate.config.read import parse_yaml
from gate.errors import ConfigError
from gate.files import write_output
from gate.record import EarlyStop
from gate.record_checks import problems, record_digest
from gate.text import redact
from tests.fixtures_diff import record, task

RECORD = Path(__file__).parent / "data" / "records" / "smollm2-check.json"


def _group(value_rule: str):
    # Two subtasks of unequal size: the plain mean (0.8) and the mean of the subtask means (0.75) differ.
    scores = [1, 0, 1, 1, 1]
    groups = ["a", "a", "b", "b", "b"]
    t = task("g", scores, groups=groups, subtasks=("a", "b"))
    return replace(t, value={"items": 0.8, "subtasks": 0.75, "neither": 0.7}[value_rule])


@pytest.mark.parametrize("rule", ["items", "subtasks"])
def test_a_group_may_weight_by_items_or_average_its_subtasks(rule):
    assert list(problems(record(_group(rule)))) == []


def test_a_group_value_matching_neither_rule_is_refused():
    (problem,) = problems(record(_group("neither")))
    assert "not the mean of its 5 item scores (0.8) nor the mean of its 2 subtasks' means (0.75)" in problem


def test_an_early_stopped_group_reports_the_plain_mean_of_the_items_it_kept():
    t = replace(_group("subtasks"), early_stop=EarlyStop(5, 100, "above_floor", "decided"))
    assert any("not the mean" in p for p in problems(record(t)))
    assert list(problems(record(replace(t, value=0.8)))) == []


def test_a_corpus_level_metric_is_not_checked_against_its_items():
    t = replace(task("ifeval", [1, 0, 1], metric="inst_level_strict_acc"), value=0.9)
    assert list(problems(record(t))) == []


def test_a_skipped_task_and_an_early_stop_are_consistent_records():
    skipped = replace(task("gpqa", []), value=None, status="skipped", skip_reason="skipped: no data")
    early = replace(task("arc", [1, 1, 0, 1]), n_requested=4, early_stop=EarlyStop(4, 2376, "above_floor", "r"))
    assert list(problems(record(skipped, early))) == []


def test_the_digest_survives_save_and_load_and_ignores_the_mlflow_run_id(tmp_path):
    rec = records.load(RECORD)
    assert rec.digest is None  # written before records carried one: read, not required
    first = records.save(rec, tmp_path / "a.json")
    sealed = records.load(first, require_digest=True)
    assert sealed.digest and sealed.digest.startswith("sha256:") and sealed == rec
    again = records.save(sealed.with_run_id("run-123"), tmp_path / "b.json")
    assert json.loads(again.read_text())["digest"] == sealed.digest
    assert records.load(again, require_digest=True).mlflow_run_id == "run-123"
    data = json.loads(first.read_text())
    assert record_digest(data) == data["digest"]
    data["tasks"][0]["items"][0]["prediction"] = "edited"
    with pytest.raises(ConfigError, match="changed after `gate run` wrote it"):
        records.from_dict(data, "edited.json")


def test_a_record_without_a_digest_is_refused_only_when_one_is_required():
    with pytest.raises(ConfigError, match="digest: missing; because"):
        records.load(RECORD, require_digest=True, why="because")


def test_the_same_measurement_is_found_whatever_its_digest_and_run_id():
    rec = records.load(RECORD)
    assert records.self_comparison(records.seal(rec).with_run_id("x"), rec) is not None
    other = replace(rec, model=replace(rec.model, fingerprint="sha256:" + "c" * 64))
    assert records.self_comparison(other, rec) is None


def test_yaml_merges_may_override_but_a_key_written_twice_may_not():
    data = parse_yaml("base: &b {metric: acc, floor: 0.5}\nrule:\n  <<: *b\n  floor: 0.6\n", "t.yaml")
    assert data["rule"] == {"metric": "acc", "floor": 0.6}
    with pytest.raises(ConfigError, match=r"t.yaml: key 'floor' appears twice: at line 2 and at line 3"):
        parse_yaml("rule:\n  floor: 0.5\n  floor: 0.6\n", "t.yaml")


def test_write_output_replaces_only_when_told(tmp_path):
    p = tmp_path / "deep" / "out.md"
    write_output(p, "one")
    with pytest.raises(ConfigError, match="already exists"):
        write_output(p, "two")
    assert p.read_text() == "one"
    write_output(p, "two", overwrite=True)
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["out.md"]  # no temporary file left behind


def test_redact_leaves_no_piece_of_a_credential():
    token = "ghp_Abcdefghij0123456789\nKLMNOPQRSTUV"
    msg = f"Invalid header value b'token {token!r}' for https://u:pw12345@h/x and {token.split()[1]}"
    out = redact(msg, [token])
    assert "Abcdefghij" not in out and "KLMNOPQRSTUV" not in out and "pw12345" not in out


def test_a_sample_larger_than_the_task_is_noted_in_the_record():
    from gate.config import TaskSpec
    from gate.run.runner import RunOptions, sample_note

    spec = TaskSpec(task="t", num_fewshot=0, metric="acc", kind="general")
    note = sample_note(spec, {"t": 2}, RunOptions(sample=50))
    assert note == "--sample 50 asked for more items than the task has (2); all 2 were evaluated"
    assert sample_note(spec, {"t": 200}, RunOptions(sample=50)) is None
    assert sample_note(replace(spec, limit=5), {"t": 3}, RunOptions()) == (
        "limit 5 asked for more items than the task has (3); all 3 were evaluated"
    )
