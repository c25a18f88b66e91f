"""`gate ci`: the workflow's decisions, driven directly (the act tests run them inside the workflow)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.ci.changes import Pick, pick
from gate.ci.summary import StageJob, StageResult, summarize
from gate.cli import _register, cli
from gate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
POINTER = (ROOT / "checkpoints" / "smollm2-135m-instruct.yaml").read_text()


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env)
    return r.stdout.strip()


def commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    git(tmp_path, "init", "-q")
    commit(tmp_path, {"README.md": "x\n"})
    return tmp_path


def test_pick_finds_the_one_changed_pointer(repo):
    base = git(repo, "rev-parse", "HEAD")
    head = commit(repo, {"checkpoints/sft.yaml": POINTER})
    p = pick("pull_request", base, head, None, repo)
    assert p == Pick(True, "checkpoints/sft.yaml", "main", "checkpoints/sft.yaml changed")


def test_pick_says_why_nothing_runs(repo):
    base = git(repo, "rev-parse", "HEAD")
    head = commit(repo, {"README.md": "y\n"})
    assert pick("pull_request", base, head, None, repo) == Pick(False, "", "", "no checkpoint pointer changed")
    assert not pick("push", "0" * 40, head, None, repo).run


def test_two_pointers_or_a_bad_one_break_the_gate_with_a_reason(repo):
    base = git(repo, "rev-parse", "HEAD")
    head = commit(repo, {"checkpoints/a.yaml": POINTER, "checkpoints/b.yaml": POINTER})
    p = pick("pull_request", base, head, None, repo)
    assert (p.run, p.state, p.exit_code) == (False, "failure", 2)
    assert "2 checkpoint pointers changed" in p.reason
    bad = commit(repo, {"checkpoints/a.yaml": POINTER + "trust_remote_code: true\n"})
    p = pick("pull_request", head, bad, None, repo)
    assert (p.run, p.exit_code) == (False, 2) and p.reason.startswith("checkpoints/a.yaml: ")
    p = pick("repository_dispatch", None, None, "../etc/passwd", repo)
    assert (p.run, p.exit_code) == (False, 2) and "not a checkpoints/NAME.yaml path" in p.reason


def test_pick_writes_github_output(repo, tmp_path, monkeypatch):
    commit(repo, {"checkpoints/sft.yaml": POINTER})
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    _register()
    r = CliRunner().invoke(
        cli,
        ["ci", "pick", "--event", "workflow_dispatch", "--pointer", "checkpoints/sft.yaml", "--repo-dir", str(repo)],
    )
    assert r.exit_code == 0, r.output
    lines = dict(ln.split("=", 1) for ln in out.read_text().splitlines())
    assert lines["run"] == "true" and lines["pointer"] == "checkpoints/sft.yaml"
    assert Pick.from_json(lines["pick"]).baseline == "main"
    assert (lines["shards"], lines["shard_list"]) == ("1", "[1]")  # one runner unless GATE_SHARDS says more


@pytest.mark.parametrize(
    ("shards", "want"),
    [("3", ("true", "3", "[1, 2, 3]")), ("", ("true", "1", "[1]")), ("two", ("false", "1", "[1]")),
     ("0", ("false", "1", "[1]"))],
)  # fmt: skip
def test_gate_shards_sizes_the_matrix_and_a_bad_count_breaks_the_gate(repo, shards, want):
    commit(repo, {"checkpoints/sft.yaml": POINTER})
    _register()
    args = ["ci", "pick", "--event", "workflow_dispatch", "--pointer", "checkpoints/sft.yaml", "--repo-dir", str(repo)]
    r = CliRunner().invoke(cli, args, env={"GATE_SHARDS": shards})
    assert r.exit_code == 0, r.output  # pick always answers; publish reports a broken pick
    lines = dict(ln.split("=", 1) for ln in r.stdout.splitlines())
    assert (lines["run"], lines["shards"], lines["shard_list"]) == want
    if want[0] == "false":
        p = Pick.from_json(lines["pick"])
        assert (p.state, p.exit_code) == ("failure", 2)
        assert p.reason == f"GATE_SHARDS {shards!r}: expected a whole number of runners, 1 to 64; e.g. 2"


RUN = Pick(True, "checkpoints/sft.yaml", "main", "changed")


def stage(name: str, outcome: str, **kw) -> StageJob:
    code = {"blocked": 1, "broke": 3}.get(outcome, 0)
    return StageJob(name, "success", StageResult(name, outcome, code, f"{name} {outcome}", **kw).encode())


@pytest.mark.parametrize(
    ("outcomes", "want", "code"),
    [
        (("passed", "passed"), "passed", 0),
        (("passed", "inconclusive"), "inconclusive", 0),
        (("blocked", None), "blocked", 1),
        (("broke", None), "broke", 3),
        (("inconclusive", "blocked"), "blocked", 1),
    ],
)
def test_one_outcome_for_both_stages(outcomes, want, code):
    jobs = [stage("fast", outcomes[0])]
    jobs.append(stage("full", outcomes[1]) if outcomes[1] else StageJob("full", "skipped", ""))
    s = summarize(RUN, jobs)
    assert (s.outcome, s.exit_code) == (want, code)
    if outcomes[1] is None:
        assert s.stages[1].outcome == "not run" and "not run: the fast stage" in s.stages[1].headline
        assert "not run: the fast stage" in s.body


def test_the_comment_warns_of_an_old_baseline():
    frozen = "2026-01-01T00:00:00+00:00"
    jobs = [stage("fast", "passed", baseline_name="main-fast", baseline_run_id="r1", baseline_frozen_at=frozen)]
    s = summarize(RUN, jobs, now=datetime(2026, 3, 1, tzinfo=UTC), max_age_days=30)
    assert "Baseline **main-fast** was frozen 59 days ago, older than the 30-day limit" in s.body
    assert "older than" not in summarize(RUN, jobs, now=datetime(2026, 1, 5, tzinfo=UTC), max_age_days=30).body


def test_a_stage_result_survives_the_job_output_round_trip():
    r = StageResult("fast", "blocked", 1, "arc_easy regressed", "body " * 5000, "run1", annotations=(("a", "b"),))
    assert StageResult.decode(r.encode()) == r
    assert len(r.encode()) < 2000  # compressed: job outputs hold 1 MB in all
    with pytest.raises(Exception, match="not the output of `gate ci stage`"):
        StageResult.decode("bm90IGpzb24=")


def test_a_stage_that_cannot_find_its_baseline_says_the_gate_broke(tmp_path):
    # MLflow is a real (sqlite) store with no baseline: exit 2, before any model loads.
    _register()
    (tmp_path / "p.yaml").write_text(POINTER)
    r = CliRunner().invoke(
        cli,
        ["ci", "stage", "fast", "--pointer", str(tmp_path / "p.yaml"), "--suite", str(ROOT / "suites" / "fast.yaml"),
         "--thresholds", str(ROOT / "thresholds" / "default.yaml"), "--out-dir", str(tmp_path / "out")],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    lines = dict(ln.split("=", 1) for ln in r.stdout.splitlines())
    res = StageResult.decode(lines["result"])
    assert res.outcome == "broke" and "no baseline named 'main-fast'" in res.headline
    assert json.loads(json.dumps(lines["passing"])) == "false"


def test_sharded_stages_find_their_shards_by_the_workflow_run_and_nothing_else():
    from gate.ci.shards import exchange_key

    env = {"GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2"}
    assert exchange_key(env, "fast").tag == "acme/models#77:fast" and exchange_key(env, "fast").attempt == 2
    assert exchange_key({**env, "GITHUB_RUN_ATTEMPT": ""}, "full").attempt == 1
    # Outside Actions there is no workflow run to find shards by: a usage error (exit 2), one line.
    with pytest.raises(ConfigError) as e:
        exchange_key({"GITHUB_RUN_ID": "77"}, "fast")
    assert str(e.value).startswith("GITHUB_REPOSITORY: not set; sharded stages find each other's records by")
    assert e.value.exit_code == 2
