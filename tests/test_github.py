"""gate.github.client and `gate comment` against a local server that answers like api.github.com."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

import gate.cli.comment  # noqa: F401 - registers `gate comment`
from gate.cli import cli
from gate.config import Policy
from gate.errors import ConfigError, GitHubUnavailable
from gate.github.client import GitHubClient, RetryPolicy
from gate.github.comment import COMMENT_LIMIT, marker
from gate.record import BaselineRef
from gate.report.comparison import comparison_dict
from gate.results import Comparison, TaskComparison
from tests.github_server import GitHubServer

TOKEN = "ghp_Gate0Test0Token0000000000000000000000"
SHA = "2a6c97f6f5dc9166cc2e5d0d95415a386805ca07"
PR = 12


@pytest.fixture
def gh():
    with GitHubServer(token=TOKEN) as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(gh: GitHubServer, token: str = TOKEN, **policy) -> tuple[GitHubClient, Sleeps]:
    sleeps = Sleeps()
    c = GitHubClient("acme/models", token, api_url=gh.base_url, retry=RetryPolicy(**policy), sleep=sleeps)
    return c, sleeps


def body(text: str, name: str = "model-gate") -> str:
    return f"{marker(name)}\n{text}"


# -- the sticky comment ---------------------------------------------------------------------


def test_two_runs_leave_one_comment_edited_in_place(gh):
    c, _ = client(gh)
    gh.add_recorded_comments(PR)
    first = c.upsert_comment(PR, marker("model-gate"), body("run 1: failed"))
    second = c.upsert_comment(PR, marker("model-gate"), body("run 2: passed"))
    ours = [x for x in gh.comments_on(PR) if x["body"].startswith(marker("model-gate"))]
    assert [x["body"] for x in ours] == [body("run 2: passed")]
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id
    assert len(gh.comments_on(PR)) == 5  # the four people's comments are untouched
    assert len(gh.requests_to("POST", r".*/comments")) == 1
    assert len(gh.requests_to("PATCH", r".*/issues/comments/\d+")) == 1


def test_same_text_again_sends_no_write(gh):
    c, _ = client(gh)
    c.upsert_comment(PR, marker("model-gate"), body("same"))
    again = c.upsert_comment(PR, marker("model-gate"), body("same"))
    assert again.action == "unchanged"
    assert gh.requests_to("PATCH", r".*") == []


def test_other_markers_and_quotes_are_left_alone(gh):
    other_tool = gh.add_comment(PR, "<!-- other-tool:model-gate -->\nCoverage 91%")
    other_gate = gh.add_comment(PR, body("the full-suite gate", name="full"))
    quoting = gh.add_comment(PR, f"Why does it say this?\n> {marker('model-gate')}", user={"login": "alice"})
    c, _ = client(gh)
    result = c.upsert_comment(PR, marker("model-gate"), body("fast gate"))
    assert result.action == "created"
    texts = {x["id"]: x["body"] for x in gh.comments_on(PR)}
    assert texts[other_tool] == "<!-- other-tool:model-gate -->\nCoverage 91%"
    assert texts[other_gate] == body("the full-suite gate", name="full")
    assert texts[quoting].startswith("Why does it say this?")
    assert len(texts) == 4


def test_finds_the_comment_on_a_later_page(gh):
    gh.add_recorded_comments(PR)
    for i in range(40):  # a long discussion: the gate's comment is past the first page of 30
        gh.add_comment(PR, f"comment {i}", user={"login": "bob"})
    ours = gh.add_comment(PR, body("old"))
    c, _ = client(gh)
    result = c.upsert_comment(PR, marker("model-gate"), body("new"))
    assert (result.id, result.action) == (ours, "updated")
    assert any("/repositories/" in r.path for r in gh.requests_to("GET", r".*/comments"))


def test_duplicates_from_racing_runs_are_removed(gh):
    a = gh.add_comment(PR, body("run A"))
    gh.add_comment(PR, body("run B"))
    c, _ = client(gh)
    result = c.upsert_comment(PR, marker("model-gate"), body("run C"))
    assert (result.id, result.duplicates_removed) == (a, 1)
    assert [x["body"] for x in gh.comments_on(PR)] == [body("run C")]


# -- the check -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["success", "failure", "neutral"])
def test_check_run_carries_the_verdict(gh, state):
    c, _ = client(gh)
    res = c.post_check_run(
        SHA, name="model-gate", conclusion=state, title="mmlu -2.1 pts\nsecond line", summary="## table"
    )
    (run,) = gh.check_runs.values()
    assert (run["name"], run["head_sha"], run["status"], run["conclusion"]) == ("model-gate", SHA, "completed", state)
    assert run["output"]["title"] == "mmlu -2.1 pts second line"  # one line
    assert run["output"]["summary"] == "## table"
    assert res.url == run["html_url"]


@pytest.mark.parametrize(
    ("state", "sent", "description"),
    [
        ("success", "success", "all 4 tasks ok"),
        ("failure", "failure", "mmlu regressed"),
        ("neutral", "success", "inconclusive: 2 tasks could not be decided"),
    ],
)
def test_commit_status_carries_the_verdict(gh, state, sent, description):
    c, _ = client(gh)
    desc_in = description.removeprefix("inconclusive: ")
    c.post_status(SHA, context="model-gate", state=state, description=desc_in, target_url="https://ci.example/run/1")
    (st,) = gh.statuses
    assert (st["sha"], st["context"], st["state"], st["description"]) == (SHA, "model-gate", sent, description)


def test_status_description_is_cut_to_githubs_140(gh):
    c, _ = client(gh)
    c.post_status(SHA, context="model-gate", state="failure", description="x" * 500)
    assert len(gh.statuses[0]["description"]) == 140


# -- retries and failures -------------------------------------------------------------------


def test_a_502_then_200_succeeds_after_one_backoff(gh):
    gh.fail("GET", r"/comments$", status=502, times=1)
    c, sleeps = client(gh, base_delay_s=2.0)
    result = c.upsert_comment(PR, marker("model-gate"), body("x"))
    assert result.action == "created"
    assert sleeps == [2.0]
    assert len(gh.comments_on(PR)) == 1


def test_a_post_that_failed_after_storing_is_not_posted_twice(gh):
    # The whole find-or-create is retried, so the second attempt finds the first one's comment.
    gh.add_comment(PR, body("from the attempt that got a 502"))
    gh.fail("PATCH", r"/issues/comments/", status=503, times=1)
    c, sleeps = client(gh)
    c.upsert_comment(PR, marker("model-gate"), body("final"))
    assert [x["body"] for x in gh.comments_on(PR)] == [body("final")]
    assert len(sleeps) == 1


def test_persistent_5xx_gives_up_with_github_unavailable(gh):
    gh.fail("POST", r"/check-runs$", status=502, times=99)
    c, sleeps = client(gh, attempts=4, base_delay_s=1.0)
    with pytest.raises(GitHubUnavailable, match=r"502 Server Error after 4 attempts"):
        c.post_check_run(SHA, name="model-gate", conclusion="success", title="t", summary="s")
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(gh.requests_to("POST", r".*/check-runs")) == 4


def test_secondary_rate_limit_waits_retry_after(gh):
    gh.fail("POST", r"/statuses/", status=403, headers={"Retry-After": "60"})
    c, sleeps = client(gh)
    c.post_status(SHA, context="model-gate", state="success", description="ok")
    assert sleeps == [60.0]
    assert gh.statuses[0]["state"] == "success"


def test_rate_limit_wait_beyond_the_budget_fails_at_once(gh):
    gh.fail("POST", r"/statuses/", status=403, headers={"Retry-After": "3600"})
    c, sleeps = client(gh, budget_s=120)
    with pytest.raises(GitHubUnavailable, match=r"would pass the 120s retry budget"):
        c.post_status(SHA, context="model-gate", state="success", description="ok")
    assert sleeps == []


def test_bad_token_is_unavailable_without_the_token_in_the_message(gh):
    wrong = "ghp_Wrong0Token00000000000000000000000000"
    c, sleeps = client(gh, token=wrong)
    with pytest.raises(GitHubUnavailable) as e:
        c.upsert_comment(PR, marker("model-gate"), body("x"))
    assert "401 Bad credentials" in str(e.value)
    assert wrong not in str(e.value) and wrong not in repr(c)
    assert e.value.__suppress_context__  # the PyGithub exception, with its request, is not chained
    assert sleeps == []  # a 401 is not retried


def test_primary_rate_limit_waits_for_the_reset(gh):
    gh.fail("POST", r"/check-runs$", status=403, headers={"X-RateLimit-Reset": "1000030"})
    sleeps = Sleeps()
    c = GitHubClient("acme/models", TOKEN, api_url=gh.base_url, sleep=sleeps, clock=lambda: 1_000_000.0)
    c.post_check_run(SHA, name="model-gate", conclusion="success", title="t", summary="s")
    assert sleeps == [30.0]
    assert len(gh.check_runs) == 1


def test_429_is_a_rate_limit_too(gh):
    gh.fail(
        "POST",
        r"/comments$",
        status=429,
        headers={"Retry-After": "5"},
        message="You have exceeded a secondary rate limit",
    )
    c, sleeps = client(gh)
    c.upsert_comment(PR, marker("model-gate"), body("x"))
    assert sleeps == [5.0]


def test_read_only_token_names_the_permissions(gh):
    gh.fail("POST", r"/comments$", status=403, message="Resource not accessible by integration")
    c, sleeps = client(gh)
    with pytest.raises(
        GitHubUnavailable, match=r"403 Resource not accessible by integration.*pull-requests: write.*forks"
    ):
        c.upsert_comment(PR, marker("model-gate"), body("x"))
    assert sleeps == []


def test_unknown_pr_is_a_clear_404(gh):
    gh.fail("GET", r"/issues/999/comments", status=404, times=1)
    c, _ = client(gh)
    with pytest.raises(GitHubUnavailable, match=r"404 Not Found .* acme/models"):
        c.upsert_comment(999, marker("model-gate"), body("x"))


def test_unreachable_github_retries_then_gives_up():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    c = GitHubClient(
        "acme/models",
        TOKEN,
        api_url=f"http://127.0.0.1:{port}",
        retry=RetryPolicy(attempts=3, base_delay_s=0.5),
        sleep=sleeps,
    )
    with pytest.raises(GitHubUnavailable, match=r"ConnectionError.*after 3 attempts"):
        c.post_check_run(SHA, name="model-gate", conclusion="success", title="t", summary="s")
    assert sleeps == [0.5, 1.0]


def test_validation_error_is_a_config_error(gh):
    c, _ = client(gh)
    with pytest.raises(ConfigError, match="too long"):
        c.upsert_comment(PR, marker("model-gate"), body("x" * (COMMENT_LIMIT + 10)))


# -- the command, as a workflow runs it ------------------------------------------------------


@pytest.fixture
def actions_env(tmp_path, gh, monkeypatch):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PR, "head": {"sha": SHA}}}))
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": "f" * 40,  # the merge commit; the check must go on the head sha instead
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": gh.base_url,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_TOKEN": TOKEN,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return summary


def run_comment(*args: str):
    return CliRunner().invoke(cli, ["comment", *args])


def test_command_posts_check_comment_summary_and_annotations(gh, actions_env, tmp_path):
    report = tmp_path / "report.md"
    report.write_text("**FAIL**: mmlu regressed\n\n| task | Δ |\n|---|---|\n| mmlu | -2.1 |\n")
    args = [
        "--report",
        str(report),
        "--state",
        "failure",
        "--description",
        "mmlu -2.1 pts (p=0.003)",
        "--error",
        "mmlu: dropped 2.1 points, CI [-3.0, -1.2]",
        "--baseline-name",
        "main",
    ]
    r = run_comment(*args)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["::error title=model-gate%3A mmlu::dropped 2.1 points, CI [-3.0, -1.2]"]
    (run,) = gh.check_runs.values()
    assert (run["head_sha"], run["conclusion"], run["details_url"]) == (
        SHA,
        "failure",
        "https://github.com/acme/models/actions/runs/4242",
    )
    (c,) = gh.comments_on(PR)
    assert c["body"].startswith(marker("model-gate") + "\n### ❌")
    assert "[workflow run](https://github.com/acme/models/actions/runs/4242)" in c["body"]
    assert "| mmlu | -2.1 |" in actions_env.read_text()
    assert marker("model-gate") not in actions_env.read_text()

    r2 = run_comment(*args[:3], "success", "--description", "all ok")
    assert r2.exit_code == 0, r2.output
    assert len(gh.comments_on(PR)) == 1 and "passed — all ok" in gh.comments_on(PR)[0]["body"]
    assert [x["conclusion"] for x in gh.check_runs.values()] == ["failure", "success"]


def test_a_comment_about_a_commit_the_pr_has_moved_past_says_so(gh, actions_env, tmp_path):
    report = tmp_path / "report.md"
    report.write_text("| task | Δ |\n|---|---|\n| mmlu | -2.1 |\n")
    args = ["--report", str(report), "--state", "failure", "--description", "mmlu -2.1 pts"]
    gh.pr_heads[PR] = SHA  # the evaluated commit is still the head: no marker
    assert run_comment(*args).exit_code == 0
    assert "describes" not in gh.comments_on(PR)[0]["body"].splitlines()[3]
    gh.pr_heads[PR] = "9" * 40  # a push landed while the gate ran
    assert run_comment(*args).exit_code == 0
    line = gh.comments_on(PR)[0]["body"].splitlines()[3]
    assert line.startswith(f"⚠️ **describes `{SHA[:7]}`; the PR head is now `9999999`**")


def test_command_truncates_a_70kb_report(gh, actions_env, tmp_path):
    rows = "".join(f"| item {i:05d} | {'x' * 60} |\n" for i in range(900))
    report = tmp_path / "big.md"
    report.write_text(f"verdict\n\n<details><summary>flipped</summary>\n\n{rows}</details>\n")
    assert len(report.read_text()) > 70_000
    r = run_comment("--report", str(report), "--state", "failure", "--description", "many flips")
    assert r.exit_code == 0, r.output
    (c,) = gh.comments_on(PR)
    assert len(c["body"]) <= COMMENT_LIMIT
    assert "Report truncated" in c["body"] and "of 70," in c["body"]
    assert c["body"].count("<details") == c["body"].count("</details>")
    assert "[workflow run](" in c["body"].splitlines()[3]  # the links come before the cut, under the heading


def test_command_with_a_bad_token_exits_3_and_never_prints_it(gh, actions_env, tmp_path, monkeypatch):
    wrong = "ghp_Wrong0Token00000000000000000000000000"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)
    report = tmp_path / "r.md"
    report.write_text("ok")
    r = run_comment("--report", str(report), "--state", "success", "--description", "ok")
    assert r.exit_code == 3, r.output
    assert "401 Bad credentials" in r.output and "GITHUB_TOKEN" in r.output
    assert wrong not in r.output
    assert gh.check_runs == {}


def test_command_without_a_token_is_a_config_error(gh, actions_env, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    report = tmp_path / "r.md"
    report.write_text("ok")
    r = run_comment("--report", str(report), "--state", "success", "--description", "ok")
    assert r.exit_code == 2, r.output
    assert "set GITHUB_TOKEN" in r.output


def test_command_on_a_push_posts_a_status_and_no_comment(gh, tmp_path, monkeypatch):
    for k, v in {
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": SHA,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_EVENT_NAME": "push",
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    report = tmp_path / "r.md"
    report.write_text("ok")
    r = run_comment(
        "--report",
        str(report),
        "--state",
        "neutral",
        "--description",
        "2 tasks inconclusive",
        "--check",
        "status",
        "--api-url",
        gh.base_url,
    )
    assert r.exit_code == 0, r.output
    assert (gh.statuses[0]["state"], gh.statuses[0]["description"]) == ("success", "inconclusive: 2 tasks inconclusive")
    assert gh.comments == {}
    assert "skipped PR comment: not a pull request" in r.stderr


def test_dry_run_prints_the_comment_and_posts_nothing(gh, actions_env, tmp_path):
    report = tmp_path / "r.md"
    report.write_text("the table")
    r = run_comment("--report", str(report), "--state", "success", "--description", "ok", "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(marker("model-gate"))
    assert gh.requests == []


def comparison_json(passed: bool, decisions: dict[str, tuple[str, bool]]) -> dict:
    """The JSON `gate diff --format json` writes for a comparison with these task decisions."""
    tasks = tuple(
        TaskComparison(
            name=n, kind="general", metric="acc", higher_is_better=True, gated=True, decision=d, reason=f"{n}: {d}",
            blocking=b, allowance=0.02,
        )
        for n, (d, b) in decisions.items()
    )  # fmt: skip
    c = Comparison(
        baseline=BaselineRef("main", "r-base", "2025-01-01T00:00:00Z", "ci", ""),
        baseline_model="base", baseline_fingerprint="sha256:b",
        candidate_model="cand", candidate_fingerprint="sha256:c",
        candidate_run_id="r-cand", alpha=0.05, power=0.8, policy=Policy(), thresholds_source="thresholds.yaml",
        setup_differences=(), tasks=tasks, forgetting=None,
        blocking_reasons=() if passed else tuple(f"{t.name} {t.decision}" for t in tasks if t.blocking),
    )  # fmt: skip
    return comparison_dict(c)


@pytest.mark.parametrize(
    ("passed", "decisions", "state", "errors"),
    [
        (False, {"mmlu": ("regressed", True), "arc": ("ok", False)}, "failure", 1),
        (True, {"mmlu": ("inconclusive", False), "arc": ("ok", False)}, "neutral", 0),
        (True, {"mmlu": ("ok", False), "arc": ("improved", False)}, "success", 0),
    ],
)
def test_comparison_json_sets_state_annotations_and_links(
    gh, actions_env, tmp_path, monkeypatch, passed, decisions, state, errors
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    cmp = tmp_path / "cmp.json"
    cmp.write_text(json.dumps(comparison_json(passed, decisions)))
    report = tmp_path / "report.md"
    report.write_text("### verdict heading from gate diff\n\ntable\n")
    r = run_comment("--report", str(report), "--comparison", str(cmp))
    assert r.exit_code == 0, r.output
    assert [x["conclusion"] for x in gh.check_runs.values()] == [state]
    assert len(r.stdout.splitlines()) == errors
    (c,) = gh.comments_on(PR)
    assert "[MLflow run](http://mlflow.internal:5000/#/runs/r-cand)" in c["body"]
    assert "baseline **main** (run `r-base`, frozen " in c["body"].splitlines()[3]


def test_comparison_and_state_together_is_a_usage_error(gh, actions_env, tmp_path):
    cmp = tmp_path / "cmp.json"
    cmp.write_text(json.dumps(comparison_json(True, {})))
    r = run_comment("--report", str(cmp), "--comparison", str(cmp), "--state", "success")
    assert r.exit_code == 2
    r = run_comment("--report", str(cmp))
    assert r.exit_code == 2 and "--comparison" in r.output


def test_a_file_that_is_not_a_comparison_is_a_config_error(gh, actions_env, tmp_path):
    cmp = tmp_path / "cmp.json"
    cmp.write_text(json.dumps({"passed": True}))
    r = run_comment("--report", str(cmp), "--comparison", str(cmp))
    assert r.exit_code == 2 and "not the JSON of `gate diff --format json`" in r.output
