"""`gate diff` driven through the real CLI over the example folders in tests/data/records/diff/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import gate.cli.diff  # noqa: F401  (registers the command on the root group)
from gate.cli import cli

CASES = Path(__file__).parent / "data" / "records" / "diff"
PASS = sorted(p for p in (CASES / "pass").iterdir() if p.is_dir())
REGRESS = sorted(p for p in (CASES / "regress").iterdir() if p.is_dir())


def run(*args: str):
    return CliRunner().invoke(cli, ["diff", *args])


def _args(case: Path, *extra: str) -> list[str]:
    return [
        str(case / "candidate.json"),
        "--baseline-record",
        str(case / "baseline.json"),
        "--thresholds",
        str(case / "thresholds.yaml"),
        *extra,
    ]


@pytest.mark.parametrize("case", PASS, ids=lambda p: p.name)
def test_passing_cases_exit_0(case):
    r = run(*_args(case))
    assert r.exit_code == 0, r.output
    # A gated task the sample cannot decide passes, said as inconclusive (a neutral check), never as passed.
    word = "INCONCLUSIVE" if "inconclusive" in case.name else "PASSED"
    assert r.output.startswith(f"{word} against baseline")


@pytest.mark.parametrize("case", REGRESS, ids=lambda p: p.name)
def test_regressing_cases_exit_1_and_say_why(case):
    r = run(*_args(case, "--format", "json"))
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["passed"] is False and data["blocking_reasons"]
    assert data["baseline"]["name"].endswith("baseline.json")


def test_forgetting_case_says_so_in_every_format():
    case = CASES / "regress" / "forgetting"
    for fmt in ("text", "markdown", "json"):
        r = run(*_args(case, "--format", fmt))
        assert r.exit_code == 1, r.output
        assert "Catastrophic forgetting" in r.stdout and "medqa" in r.stdout and "arc_easy" in r.stdout


def test_markdown_to_a_file_with_the_headline_on_stderr(tmp_path):
    out = tmp_path / "comment" / "diff.md"
    r = run(*_args(CASES / "regress" / "damaged", "--format", "markdown", "--output", str(out)))
    assert r.exit_code == 1, r.output
    md = out.read_text()
    assert md.startswith("### ❌ blocked — arc_easy −")
    assert "run `a1b2c3d4e5f6`" in md and "<details>" in md and "80% power for" in md
    assert r.stdout == "" and r.stderr.startswith("gate: BLOCKED: against baseline")


def test_without_thresholds_every_task_is_gated():
    case = CASES / "regress" / "damaged"
    r = run(str(case / "candidate.json"), "--baseline-record", str(case / "baseline.json"))
    assert r.exit_code == 1, r.output
    assert "default: every baseline task gated" in r.output


def test_bad_thresholds_exit_2_with_the_key(tmp_path):
    case = CASES / "pass" / "unchanged"
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("tasks:\n  arc_easy:\n    metric: acc\n    higher_is_better: true\n    max_dorp: 0.02\n")
    r = run(str(case / "candidate.json"), "--baseline-record", str(case / "baseline.json"), "--thresholds", str(bad))
    assert r.exit_code == 2, r.output
    assert "max_dorp" in r.stderr and "did you mean 'max_drop'" in r.stderr


def test_thresholds_metric_the_record_lacks_exits_2(tmp_path):
    case = CASES / "pass" / "unchanged"
    th = tmp_path / "t.yaml"
    th.write_text("tasks:\n  arc_easy:\n    metric: acc_norm\n    higher_is_better: true\n    max_drop: 0.02\n")
    r = run(str(case / "candidate.json"), "--baseline-record", str(case / "baseline.json"), "--thresholds", str(th))
    assert r.exit_code == 2, r.output
    assert "acc_norm" in r.stderr


def test_missing_or_broken_record_exits_2(tmp_path):
    case = CASES / "pass" / "unchanged"
    r = run(str(tmp_path / "nope.json"), "--baseline-record", str(case / "baseline.json"))
    assert r.exit_code == 2 and "record file not found" in r.stderr, r.output
    broken = tmp_path / "broken.json"
    shutil.copy(case / "candidate.json", broken)
    broken.write_text(broken.read_text().replace('"schema_version": 1', '"schema_version": 7'))
    r = run(str(broken), "--baseline-record", str(case / "baseline.json"))
    assert r.exit_code == 2 and "schema_version" in r.stderr, r.output


@pytest.mark.parametrize(
    "args",
    [[], ["--baseline", "main", "--baseline-record", "x.json"]],
    ids=["neither", "both"],
)
def test_exactly_one_baseline_source(args):
    case = CASES / "pass" / "unchanged"
    r = run(str(case / "candidate.json"), *args)
    assert r.exit_code == 2, r.output
    assert "exactly one of --baseline NAME or --baseline-record FILE" in r.output


def test_help_carries_an_example():
    r = CliRunner().invoke(cli, ["diff", "--help"])
    assert r.exit_code == 0 and "Example: gate diff" in r.output


def test_named_baseline_from_a_real_mlflow_store(tmp_path, monkeypatch):
    """--baseline NAME loads the frozen run from MLflow (sqlite); unknown name exits 2, dead server exits 3."""
    store = pytest.importorskip("gate.store.tracking", reason="the MLflow store lands with the store branch")
    from gate import record as records

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    case = CASES / "regress" / "damaged"
    ref = store.Store(uri).freeze("main", record=records.load(case / "baseline.json"), who="ci")
    cand = str(case / "candidate.json")
    r = run(cand, "--baseline", "main", "--tracking-uri", uri, "--format", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["baseline"]["name"] == "main" and data["baseline"]["run_id"] == ref.run_id
    ok = run(str(case / "baseline.json"), "--baseline", "main", "--tracking-uri", uri)
    assert ok.exit_code == 0, ok.output
    # --trend: each gated task over the name's freezes (one here), then this run, as a sparkline column.
    md = run(cand, "--baseline", "main", "--tracking-uri", uri, "--format", "markdown", "--trend", "4")
    assert md.exit_code == 1, md.output
    head = next(ln for ln in md.stdout.splitlines() if "task · metric" in ln)
    assert head.endswith("| allowed | trend |")
    assert re.search(r"\| `[▁-█]{2}` \|$", next(ln for ln in md.stdout.splitlines() if ln.startswith("| ❌ |")))
    missing = run(cand, "--baseline", "nope", "--tracking-uri", uri)
    assert missing.exit_code == 2 and "no baseline named 'nope'" in missing.stderr, missing.output
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    dead = run(cand, "--baseline", "main", "--tracking-uri", "http://127.0.0.1:9")
    assert dead.exit_code == 3 and "unreachable" in dead.stderr, dead.output


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "cmp.md"
    out.write_text("yesterday's report")
    args = _args(CASES / "regress" / "damaged", "--format", "markdown", "-o", str(out))
    r = run(*args)
    assert r.exit_code == 2 and "already exists" in r.stderr and "--overwrite" in r.stderr, r.output
    assert out.read_text() == "yesterday's report"
    r = run(*args, "--overwrite")
    assert r.exit_code == 1, r.output
    assert out.read_text().startswith("### ❌ blocked — ")


def test_a_record_diffed_against_itself_says_so():
    case = CASES / "regress" / "damaged"
    r = run(str(case / "baseline.json"), "--baseline-record", str(case / "baseline.json"))
    assert r.exit_code == 0, r.output
    assert "gate: warning: the candidate is the baseline's own record" in r.stderr
    other = run(*_args(case))
    assert "gate: warning" not in other.stderr
