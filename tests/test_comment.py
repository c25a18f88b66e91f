"""gate.github.comment (pure rendering) and gate.github.actions (where to report)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gate.errors import ConfigError
from gate.github import actions as actions_env
from gate.github.comment import (
    COMMENT_LIMIT,
    Annotation,
    ReportContext,
    error_lines,
    format_age,
    marker,
    render_comment,
    render_summary,
    truncate,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SHA = "2a6c97f6f5dc9166cc2e5d0d95415a386805ca07"


def ctx(**kw) -> ReportContext:
    base = dict(
        gate_name="model-gate",
        state="failure",
        description="mmlu regressed by 2.1 points",
        baseline_name="main",
        baseline_run_id="0f3a9c",
        baseline_frozen_at="2025-03-07T09:30:00Z",
        mlflow_run_url="http://mlflow.internal:5000/#/experiments/1/runs/abc",
        workflow_run_url="https://github.com/acme/models/actions/runs/4242",
        head_sha=SHA,
        now=NOW,
    )
    return ReportContext(**{**base, **kw})


def test_comment_leads_with_marker_then_verdict_then_one_line_of_context():
    text = render_comment("| task | Δ |\n|---|---|\n| mmlu | -2.1 |", ctx())
    lines = text.splitlines()
    assert lines[0] == "<!-- checkpoint-gate:model-gate -->"
    assert lines[1] == "### ❌ model-gate: blocked — mmlu regressed by 2.1 points"
    assert lines[3] == (
        "commit `2a6c97f` · baseline **main** (run `0f3a9c`, frozen 3 days ago) · "
        "[MLflow run](http://mlflow.internal:5000/#/experiments/1/runs/abc) · "
        "[workflow run](https://github.com/acme/models/actions/runs/4242)"
    )
    assert lines[5] == "| task | Δ |"


def test_a_comment_about_an_older_commit_than_the_pr_head_says_so():
    head = "9" * 40
    line = render_comment("body", ctx(pr_head_sha=head)).splitlines()[3]
    assert line.startswith("⚠️ **describes `2a6c97f`; the PR head is now `9999999`**")
    assert "describes" not in render_comment("body", ctx(pr_head_sha=ctx().head_sha)).splitlines()[3]


def test_another_gate_is_named_in_the_heading():
    assert render_comment("x", ctx(gate_name="fast")).splitlines()[1].startswith("### ❌ model-gate `fast`: blocked — ")


@pytest.mark.parametrize(("state", "head"), [("success", "✅"), ("neutral", "⚪"), ("failure", "❌")])
def test_verdict_icon_follows_state(state, head):
    assert render_comment("x", ctx(state=state)).splitlines()[1].startswith(f"### {head} ")


def test_summary_is_the_same_report_without_the_marker():
    summary = render_summary("body", ctx())
    assert marker("model-gate") not in summary
    assert summary.splitlines()[0].startswith("### ❌")
    assert render_comment("body", ctx()).split("\n", 1)[1] == summary


@pytest.mark.parametrize(
    ("frozen", "age"),
    [
        ("2025-03-10T11:59:30Z", "just now"),
        ("2025-03-10T11:15:00+00:00", "45 minutes ago"),
        ("2025-03-10T11:00:00", "1 hour ago"),
        ("2025-01-09T12:00:00Z", "60 days ago"),
    ],
)
def test_baseline_age(frozen, age):
    assert format_age(frozen, NOW) == age


def test_bad_timestamp_is_a_config_error():
    with pytest.raises(ConfigError, match="not an ISO 8601"):
        format_age("last tuesday", NOW)


@pytest.mark.parametrize("name", ["", "a b", "x-->", "a--b", "-x"])
def test_gate_names_that_would_break_the_marker_are_refused(name):
    with pytest.raises(ConfigError, match="gate name"):
        ctx(gate_name=name)


def test_oversized_report_is_cut_at_a_line_with_open_blocks_closed():
    rows = "".join(f"| {i} | {'y' * 80} |\n" for i in range(2000))
    body = f"verdict\n\n<details><summary>newly wrong</summary>\n\n```\n{rows}"
    text = render_comment(body, ctx())
    assert len(text) <= COMMENT_LIMIT
    assert len(text) > COMMENT_LIMIT - 2000  # uses the room it has
    assert text.count("<details") == text.count("</details>")
    assert text.count("```") % 2 == 0
    assert "**Report truncated** to fit GitHub's size limit: showing" in text
    assert "[workflow run](https://github.com/acme/models/actions/runs/4242)" in text.split("Report truncated")[1]


def test_truncate_leaves_a_fitting_body_alone_and_cuts_one_long_line():
    assert truncate("short", 100) == "short"
    cut = truncate("z" * 5000, 1000)
    assert len(cut) <= 1000 and cut.startswith("zzz") and "Report truncated" in cut


def test_summary_limit_counts_bytes():
    body = "é" * 600_000  # 1.2 MB in UTF-8 though 600k characters
    assert len(render_summary(body, ctx()).encode()) <= 1_000_000


def test_error_lines_escape_and_stop_at_ten():
    lines = error_lines([Annotation("model-gate: mmlu", "dropped 2.1%\nCI [-3, -1]")])
    assert lines == ["::error title=model-gate%3A mmlu::dropped 2.1%25%0ACI [-3, -1]"]
    many = error_lines([Annotation(f"task{i}", "regressed") for i in range(14)])
    assert len(many) == 10
    assert many[-1] == "::error title=model-gate::and 5 more regressed tasks; see the job summary"


# -- actions_env -----------------------------------------------------------------------------


def test_pull_request_event_gives_pr_and_head_sha(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": SHA}}}))
    where = actions_env.resolve(
        {
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": "f" * 40,
            "GITHUB_RUN_ID": "99",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_SERVER_URL": "https://ghe.example",
            "GITHUB_API_URL": "https://ghe.example/api/v3",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
        }
    )
    assert (where.pr_number, where.head_sha) == (7, SHA)
    assert where.api_url == "https://ghe.example/api/v3"
    assert where.workflow_run_url == "https://ghe.example/acme/models/actions/runs/99/attempts/2"
    assert where.step_summary == tmp_path / "s.md"


def test_push_event_uses_github_sha_and_flags_win():
    env = {"GITHUB_REPOSITORY": "acme/models", "GITHUB_SHA": SHA}
    assert actions_env.resolve(env).pr_number is None
    assert actions_env.resolve(env).head_sha == SHA
    other = "b" * 40
    where = actions_env.resolve(env, repository="acme/other", head_sha=other, pr_number=3)
    assert (where.repository, where.head_sha, where.pr_number) == ("acme/other", other, 3)


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({}, {}, "no repository: pass --repo"),
        ({"GITHUB_REPOSITORY": "acme"}, {}, "expected owner/name"),
        ({"GITHUB_REPOSITORY": "a/b"}, {"head_sha": "HEAD"}, "40 lower-case hex"),
        ({"GITHUB_REPOSITORY": "a/b"}, {"pr_number": 0}, "positive integer"),
        ({"GITHUB_REPOSITORY": "a/b", "GITHUB_EVENT_PATH": "/nonexistent/event.json"}, {}, "does not exist"),
    ],
)
def test_bad_context_is_a_config_error(env, flags, message):
    with pytest.raises(ConfigError, match=message):
        actions_env.resolve(env, **flags)


def test_token_comes_from_the_environment_only():
    assert actions_env.token({"GITHUB_TOKEN": "ghp_x\n"}) == "ghp_x"
    assert actions_env.token({"GH_TOKEN": "t"}) == "t"
    with pytest.raises(ConfigError, match="set GITHUB_TOKEN"):
        actions_env.token({})


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("http://mlflow.internal:5000", "http://mlflow.internal:5000/#/runs/abc"),
        ("https://user:s3cret@mlflow.example/base/", "https://mlflow.example/base/#/runs/abc"),
        ("sqlite:///mlflow.db", None),
        ("databricks", None),
    ],
)
def test_mlflow_link_never_carries_credentials(uri, url):
    from gate.github.comment import mlflow_run_url

    assert mlflow_run_url(uri, "abc") == url


def test_a_body_with_its_own_verdict_heading_gets_no_second_one():
    text = render_comment("### ✅ passed — no gated task dropped\n\n| t |", ctx(state="success", description="d"))
    assert text.splitlines()[1] == "### ✅ model-gate: passed — no gated task dropped"  # the body's cause, once
    assert text.count("### ") == 1
