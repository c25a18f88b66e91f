"""LLM judge: rubric prompts, reply validation (malformed replies are judge failures), calibration."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

import gate.cli.judge  # noqa: F401 - registers `gate judge`
from gate.cli import cli
from gate.domain.judge import (
    JudgeCase,
    build_prompt,
    calibrate,
    cohens_kappa,
    load_labels,
    load_rubric,
    parse_reply,
    run_judge,
)
from gate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "suites/domain/support_policy"
RUBRIC = POLICY / "rubrics/support_quality.yaml"
LABELS = POLICY / "judge_labels.jsonl"


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


def reply(**kw) -> str:
    base = {"score": 5, "pass": True, "reason": "Accurate and polite.", "failure_mode": None}
    base.update(kw)
    return json.dumps(base)


def test_rubric_becomes_a_prompt_with_its_criteria_and_the_case(rubric):
    prompt = build_prompt(rubric, "Can I talk to a human?", "Write to support@tandem.example.")
    for criterion in rubric.criteria:
        assert criterion in prompt
    assert "Can I talk to a human?" in prompt and "support@tandem.example" in prompt
    assert "from 1 (worst) to 5 (best)" in prompt and "unhelpful, inaccurate, rude, unsafe, off_topic" in prompt
    assert rubric.hash.startswith("sha256:")


def test_valid_replies_pass_or_fail_as_the_judge_says(rubric):
    ok = parse_reply(reply(), rubric)
    assert ok.valid and ok.passed and ok.score == 5.0 and ok.error is None
    bad = parse_reply(reply(score=2, **{"pass": False}, failure_mode="rude"), rubric)
    assert bad.valid and not bad.passed and bad.failure_mode == "rude"
    fenced = parse_reply("```json\n" + reply(score=4) + "\n```", rubric)
    assert fenced.valid and fenced.passed


@pytest.mark.parametrize(
    "raw, why",
    [
        ("", "not JSON"),
        ("The reply is good. Score: 5", "not JSON"),
        ("Sure! " + reply(), "not JSON"),  # prose around the JSON
        ('{"score": 5, "pass": true, "reason": "ok", "failure_mode": null', "not JSON"),  # truncated
        ("[5, true]", "schema"),
        (json.dumps({"score": 5, "pass": True, "reason": "ok"}), "schema"),  # missing failure_mode
        (reply(extra="x"), "schema"),
        (reply(score=9), "schema"),  # off the 1-5 scale
        (reply(score="5"), "schema"),
        (reply(**{"pass": "true"}), "schema"),
        (reply(reason=""), "schema"),
        (reply(score=2, **{"pass": False}, failure_mode="grumpy"), "schema"),  # not in the rubric's list
        (reply(score=2), "contradicts"),  # pass true with a failing score
        (reply(score=5, **{"pass": False}, failure_mode="rude"), "contradicts"),
        (reply(score=1, **{"pass": False}), "failure_mode"),
    ],
)
def test_malformed_judge_replies_are_judge_failures_never_passes(rubric, raw, why):
    v = parse_reply(raw, rubric)
    assert not v.valid and not v.passed
    assert why in v.error


def test_rubric_errors_name_the_file(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text(RUBRIC.read_text().replace("pass_score: 4", "pass_score: 9"))
    with pytest.raises(ConfigError, match=r"r.yaml: pass_score: 9 is outside the scale 1-5"):
        load_rubric(bad)
    bad.write_text(RUBRIC.read_text().replace("criteria:", "criterions:"))
    with pytest.raises(ConfigError, match="did you mean 'criteria'"):
        load_rubric(bad)


@pytest.mark.parametrize(
    "a, b",
    [
        ([1, 1, 0, 0, 1, 0, 1, 1], [1, 0, 0, 0, 1, 1, 1, 1]),
        ([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 1]),
        ([1, 0, 1, 0, 1, 0, 1, 0, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1, 0, 0]),
    ],
)
def test_kappa_agrees_with_statsmodels(a, b):
    table = [[sum(x == i and y == j for x, y in zip(a, b, strict=True)) for j in (0, 1)] for i in (0, 1)]
    assert cohens_kappa([bool(x) for x in a], [bool(y) for y in b]) == pytest.approx(sm_kappa(table).kappa)


def test_kappa_undefined_when_both_raters_say_the_same_thing_everywhere():
    assert cohens_kappa([True, True], [True, True]) is None


def test_calibration_counts_judge_failures_as_fail(rubric):
    human = [True, True, False, False]
    verdicts = [
        parse_reply(r, rubric)
        for r in (reply(), "garbage", reply(score=1, **{"pass": False}, failure_mode="rude"), reply())
    ]
    c = calibrate(human, verdicts)
    assert c.n == 4 and c.n_invalid == 1
    assert c.accuracy == 0.5  # the invalid reply on a human pass counts as a disagreement
    assert c.confusion == {
        "human_pass/judge_pass": 1,
        "human_pass/judge_fail": 1,
        "human_fail/judge_pass": 1,
        "human_fail/judge_fail": 1,
    }
    assert c.kappa == pytest.approx(0.0)


def test_shipped_labels_are_balanced_and_load():
    cases = load_labels(LABELS)
    assert len(cases) >= 16
    assert 0.3 < sum(c.human_pass for c in cases) / len(cases) < 0.7


def _run_cli(*args):
    return CliRunner().invoke(cli, list(args))


def test_calibrate_cli_from_saved_replies(tmp_path):
    cases = load_labels(LABELS)
    replies = tmp_path / "replies.jsonl"
    # a judge that agrees with people except on the first case, where its reply is malformed
    lines = [{"id": cases[0].case.case_id, "reply": "I think this is fine."}]
    for c in cases[1:]:
        r = reply() if c.human_pass else reply(score=2, **{"pass": False}, failure_mode="unhelpful")
        lines.append({"id": c.case.case_id, "reply": r})
    replies.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    args = ["judge", "calibrate", "--labels", str(LABELS), "--rubric", str(RUBRIC), "--replies", str(replies)]
    r = _run_cli(*args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    n = len(cases)
    assert out["calibration"]["accuracy"] == pytest.approx((n - 1) / n)
    assert out["calibration"]["n_invalid"] == 1
    assert out["judge"]["rubric_id"] == "support_quality" and out["judge"]["rubric_version"] == 1
    assert out["cases"][0]["valid"] is False and out["cases"][0]["passed"] is False
    assert "Cohen's kappa 0.8" in r.stderr
    r = _run_cli(*args, "--min-kappa", "0.95")
    assert r.exit_code == 1, r.output


def test_calibrate_cli_usage_errors_exit_2(tmp_path):
    r = _run_cli("judge", "calibrate", "--labels", str(LABELS), "--rubric", str(RUBRIC))
    assert r.exit_code == 2, r.output
    r = _run_cli(
        "judge", "calibrate", "--labels", str(tmp_path / "nope.jsonl"), "--rubric", str(RUBRIC), "--replies", "x"
    )
    assert r.exit_code == 2 and "labels file not found" in r.output


class _ChatServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint with fixed replies: the first prompt gets valid JSON, the rest prose."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        text = reply() if len(type(self).seen) == 1 else "Looks good to me!"
        payload = {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_judge_over_an_openai_compatible_endpoint(rubric):
    from gate.domain.judge_model import load_judge

    server = HTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1/chat/completions"
        judge = load_judge(f"local-chat-completions:model=judge-1,base_url={url}")
        cases = [JudgeCase("a", "Can I talk to a human?", "Use live chat."), JudgeCase("b", "Hi", "Hello")]
        run = run_judge(judge, rubric, cases)
    finally:
        server.shutdown()
    assert [v.valid for v in run.verdicts] == [True, False]
    assert [v.passed for v in run.verdicts] == [True, False]
    assert run.info.model == f"local-chat-completions:model=judge-1,base_url={url}"
    assert run.info.n_judged == 2 and run.info.n_invalid == 1
    sent = _ChatServer.seen[0]
    assert sent["messages"][-1]["role"] == "user" and "Use live chat." in sent["messages"][-1]["content"]


def test_judge_spec_refuses_keys_and_unknown_backends():
    from gate.domain.judge_model import load_judge

    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_judge("local-chat-completions:model=m,base_url=http://127.0.0.1:1/v1,api_key=sk-123")
    with pytest.raises(ConfigError, match="unknown backend"):
        load_judge("ollama:llama3")
