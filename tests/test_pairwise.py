"""The pairwise judge: the swap rule, ties, judge failures as losses, the win-rate interval, the thresholds'
floor, the not-comparable rule, reports, calibration; and once end to end with the real small model as judge.

Records here are synthetic generation records (tests/fixtures_diff.py): the pairwise judge reads only their
prompts and answers. Pure tests use a scripted judge (a fixed function of the prompt, not a mock of lm-eval).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa
from statsmodels.stats.proportion import proportion_confint

import gate.cli.diff  # noqa: F401 - registers `gate diff`
import gate.cli.judge  # noqa: F401 - registers `gate judge`
from gate import pairwise as results
from gate import record as records
from gate.cli import cli
from gate.config import Policy, TaskThreshold, Thresholds
from gate.config.thresholds import PairwiseJudgePin, PairwiseRule, load_thresholds
from gate.decide.compare import compare
from gate.decide.pairwise import win_rate
from gate.domain.judge import cohens_kappa
from gate.domain.pairwise import (
    DEFAULT_RUBRIC,
    PROMPT_VERSION,
    answer_pairs,
    parse_reply,
    run_pairwise,
)
from gate.errors import ConfigError
from gate.item_text import pack
from gate.report.comparison import comparison_dict, render_comparison
from gate.results import Comparison
from tests.fixtures_diff import REF, record, task

QUESTIONS = [
    ("What is 2 + 3? Reply with the number.", "5", "7"),
    ("Name the capital of France in one word.", "Paris", "Lyon"),
    ("What colour is a clear daytime sky? One word.", "Blue", "Green"),
    ("How many legs does a spider have? Reply with the number.", "8", "6"),
]


def gen_task(answers: list[str], name: str = "qa", questions=QUESTIONS) -> object:
    t = task(name, [1.0] * len(answers), metric="exact_match", chance=None, output_type="generate_until")
    pairs = zip(t.items, questions[: len(answers)], answers, strict=True)
    items = tuple(replace(it, excerpt=q[0], prediction=a) for it, q, a in pairs)
    return replace(t, items=items)


def pair_records(n: int = 4):
    cand = record(gen_task([q[1] for q in QUESTIONS[:n]]), candidate=True)
    base = record(gen_task([q[2] for q in QUESTIONS[:n]]))
    return cand, base


class ScriptedJudge:
    """A judge whose reply is a fixed function of the prompt: `pick(answer_1, answer_2) -> reply`."""

    def __init__(self, pick, name: str = "scripted:judge"):
        self.pick, self.name, self.prompts = pick, name, []

    def complete(self, prompts):
        self.prompts += prompts
        out = []
        for p in prompts:
            a1, a2 = re.findall(r"Answer \d:\n<<<\n(.*?)\n>>>", p, re.DOTALL)
            out.append(self.pick(a1, a2))
        return out


def says(winner: str) -> str:
    return json.dumps({"winner": winner, "reason": "Scripted."})


CORRECT = {q[1] for q in QUESTIONS}


def fair(a1: str, a2: str) -> str:  # prefers the right answer wherever it stands
    return says("1" if a1 in CORRECT else "2")


# ---------------------------------------------------------------- the swap rule


@pytest.mark.parametrize(
    "pick, outcome",
    [
        (fair, results.WIN),  # survives the swap: the candidate's answers are the right ones
        (lambda a1, a2: says("2" if a1 in CORRECT else "1"), results.LOSS),  # a judge that prefers wrong answers
        (lambda a1, a2: says("1"), results.TIE),  # position bias: each order picks the first answer
        (lambda a1, a2: says("2"), results.TIE),
        (lambda a1, a2: says("tie"), results.TIE),
        (lambda a1, a2: says("tie") if a1 in CORRECT else says("2"), results.TIE),  # a tie in one order is a tie
        (lambda a1, a2: "Answer 1 is better." if a1 in CORRECT else says("2"), results.JUDGE_FAILURE),
        (lambda a1, a2: says("1") if a1 in CORRECT else "{}", results.JUDGE_FAILURE),  # the swapped order broke
    ],
)
def test_a_preference_counts_only_when_it_survives_the_swap(pick, outcome):
    cand, base = pair_records()
    judge = ScriptedJudge(pick)
    r = run_pairwise(cand, base, judge)
    assert len(judge.prompts) == 2 * len(QUESTIONS)  # every pair in both orders
    assert {i.outcome for i in r.items} == {outcome}
    expected = {results.WIN: 1.0, results.TIE: 0.5, results.LOSS: 0.0, results.JUDGE_FAILURE: 0.0}[outcome]
    assert r.win_rate == expected  # a judge failure never counts in the candidate's favour
    assert r.judge.n_judged == 8 and r.judge.n_invalid == (4 if outcome == results.JUDGE_FAILURE else 0)


def test_the_prompt_is_blinded_and_both_orders_show_both_answers():
    cand, base = pair_records(1)
    judge = ScriptedJudge(fair)
    run_pairwise(cand, base, judge)
    first, second = judge.prompts
    for p in (first, second):
        assert "synthetic" not in p and "candidate" not in p.lower() and "baseline" not in p.lower()
        assert QUESTIONS[0][0] in p
    assert first.index("\n5\n") < first.index("\n7\n") and second.index("\n7\n") < second.index("\n5\n")


@pytest.mark.parametrize(
    "raw",
    ["", "1", "The first one.", 'Sure: {"winner": "1", "reason": "x"}', '{"winner": 1, "reason": "x"}',
     '{"winner": "A", "reason": "x"}', '{"winner": "1"}', '{"winner": "1", "reason": ""}',
     '{"winner": "1", "reason": "x", "score": 5}', '["1"]'],
)  # fmt: skip
def test_unparsable_or_invalid_replies_are_judge_failures(raw):
    r = parse_reply(raw)
    assert not r.valid and r.winner is None and r.error


def test_a_fenced_reply_is_read():
    r = parse_reply('```json\n{"winner": "tie", "reason": "Both right."}\n```')
    assert r.valid and r.winner == "tie"


# ---------------------------------------------------------------- the interval


def _items(wins: int, ties: int, losses: int, failures: int = 0) -> tuple[results.PairwiseItem, ...]:
    outcomes = [results.WIN] * wins + [results.TIE] * ties + [results.LOSS] * losses
    outcomes += [results.JUDGE_FAILURE] * failures
    return tuple(results.PairwiseItem("qa", i, None, "", "", o, "") for i, o in enumerate(outcomes))


@pytest.mark.parametrize("w, t, lost, f", [(8, 0, 0, 0), (3, 4, 2, 1), (0, 0, 5, 5), (10, 10, 10, 0)])
def test_win_rate_counts_ties_half_with_a_wilson_interval(w, t, lost, f):
    n = w + t + lost + f
    iv = win_rate(_items(w, t, lost, f), 0.05)
    assert iv.estimate == pytest.approx((w + t / 2) / n)
    low, high = proportion_confint(w + t / 2, n, alpha=0.05, method="wilson")
    assert (iv.low, iv.high) == (pytest.approx(low), pytest.approx(high))
    assert iv.low < iv.estimate or iv.estimate == 0.0
    assert 0.0 <= iv.low <= iv.high <= 1.0


# ---------------------------------------------------------------- in a diff


PIN = PairwiseJudgePin(model="scripted:judge", prompt_version=PROMPT_VERSION, rubric_id="pairwise_default")


def _diff(result, rule=None, **policy):
    th = Thresholds({"qa": TaskThreshold("exact_match", True, informational=True)}, policy=Policy(**policy))
    return compare(*pair_records(), replace(th, pairwise=rule), REF, result, "pairwise.json")


@pytest.fixture(scope="module")
def won():
    return run_pairwise(*pair_records(), ScriptedJudge(fair))


@pytest.fixture(scope="module")
def lost():
    return run_pairwise(*pair_records(), ScriptedJudge(lambda a1, a2: says("2" if a1 in CORRECT else "1")))


def test_a_win_rate_wholly_below_the_floor_blocks(lost):
    c = _diff(lost, PairwiseRule(0.6, PIN))  # 0 of 4 won: Wilson 0% to 49%
    assert c.pairwise.decision == "below_floor" and c.pairwise.blocking and c.exit_code == 1
    assert c.cause == "pairwise win rate below floor"
    assert any(r.startswith("pairwise below floor: win rate 0.0%") for r in c.blocking_reasons)


def test_a_win_rate_whose_interval_straddles_the_floor_is_inconclusive(won):
    c = _diff(won, PairwiseRule(0.4, PIN))  # 4 of 4 won: Wilson 51% to 100%, above 0.4
    assert c.pairwise.decision == "ok" and c.state == "success"
    c = _diff(won, PairwiseRule(0.6, PIN))  # ... straddles 0.6
    assert c.pairwise.decision == "inconclusive" and not c.blocking and c.state == "neutral"
    assert _diff(won, PairwiseRule(0.6, PIN), inconclusive_blocks=True).exit_code == 1


@pytest.mark.parametrize(
    "pin, field",
    [
        (replace(PIN, model="hf:another-judge"), "judge model differs"),
        (replace(PIN, prompt_version=PROMPT_VERSION + 1), "judge prompt version differs"),
        (replace(PIN, prompt_hash="sha256:" + "0" * 64), "judge prompt hash differs"),
        (replace(PIN, rubric_id="support_quality"), "judge rubric id differs"),
    ],
)
def test_a_different_judge_is_not_comparable_neither_pass_nor_block(lost, pin, field):
    c = _diff(lost, PairwiseRule(0.6, pin))  # would block were the judge the pinned one
    assert c.pairwise.decision == "not_comparable" and not c.pairwise.blocking
    assert field in c.pairwise.reason and c.state == "neutral" and c.exit_code == 0


def test_a_pairwise_rule_without_a_result_is_never_a_pass(won):
    c = _diff(None, PairwiseRule(0.4, PIN))
    assert c.pairwise.decision == "not_comparable" and "--pairwise FILE" in c.pairwise.reason
    assert c.state == "neutral"
    shown = _diff(won)  # a result without a rule is shown, deciding nothing
    assert shown.pairwise.decision == "informational" and shown.state == "success"


def test_a_result_of_other_records_is_refused(won):
    cand, base = pair_records()
    other = record(gen_task(["5", "Paris", "Blue", "six"]))
    th = Thresholds({"qa": TaskThreshold("exact_match", True, informational=True)}, pairwise=PairwiseRule(0.4, PIN))
    with pytest.raises(ConfigError, match=r"pairwise.json: baseline_digest: .* is not the baseline record"):
        compare(cand, other, th, REF, won, "pairwise.json")


def test_the_pairwise_row_reaches_every_format_and_round_trips(lost):
    c = _diff(lost, PairwiseRule(0.6, PIN))
    assert Comparison.from_dict(json.loads(render_comparison(c, "json"))) == c
    md = render_comparison(c, "markdown")
    assert "**Pairwise judge: win rate against the baseline**" in md  # blocking: not folded
    assert "| 0.0% (0.0% to 49.0%) | 60% | 4 | 0 · 0 · 4 · 0 | **❌ below floor (blocks)** |" in md
    assert "pairwise judge: win rate 0.0%" in render_comparison(c, "text")
    assert "pairwise" not in comparison_dict(_diff(None))  # diffs without it read as before


# ---------------------------------------------------------------- bad records and results


def test_records_without_generation_tasks_common_items_or_whole_texts_are_refused():
    cand, base = pair_records()
    mc = record(task("arc_easy", [1.0, 0.0]), candidate=True)
    with pytest.raises(ConfigError, match="cand.json: tasks: no generation task"):
        answer_pairs(mc, record(task("arc_easy", [1.0, 0.0])), (), ("cand.json", "base.json"))
    with pytest.raises(ConfigError, match="cand.json: tasks: no task 'gsm8k'; --task takes one of qa"):
        answer_pairs(cand, record(gen_task(["x"] * 4, name="gsm8k")), ["gsm8k"], ("cand.json", "base.json"))
    moved = replace(
        base,
        tasks=(replace(base.tasks[0], items=tuple(replace(i, doc_id=i.doc_id + 10) for i in base.tasks[0].items)),),
    )
    with pytest.raises(ConfigError, match=r"cand.json: tasks.qa.items: none shares doc id"):
        answer_pairs(cand, moved, (), ("cand.json", "base.json"))
    cut = replace(
        base.tasks[0], items=(replace(base.tasks[0].items[0], prediction="x" * 200), *base.tasks[0].items[1:])
    )
    with pytest.raises(ConfigError, match=r"base.json: tasks.qa.items \(doc 0\).full: empty"):
        answer_pairs(cand, replace(base, tasks=(cut,)), (), ("cand.json", "base.json"))
    whole = replace(cut, items=(replace(cut.items[0], full=pack(QUESTIONS[0][0], "x" * 300)), *cut.items[1:]))
    assert answer_pairs(cand, replace(base, tasks=(whole,)), (), ("c", "b"))[0].baseline_answer == "x" * 300


def test_cli_refuses_bad_records_and_results_with_exit_2_before_any_model_loads(tmp_path, won):
    cand, base = pair_records()
    mc = record(task("arc_easy", [1.0, 0.0]), candidate=True)
    for name, rec in (("cand.json", cand), ("base.json", base), ("mc.json", mc)):
        records.save(rec, tmp_path / name)
    args = ["judge", "pairwise", "--baseline", str(tmp_path / "base.json"), "--judge-model", "hf:/no/such/judge"]
    r = CliRunner().invoke(cli, [*args, "--candidate", str(tmp_path / "mc.json"), "-o", str(tmp_path / "p.json")])
    assert r.exit_code == 2 and "mc.json: tasks: no generation task" in r.output, r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(results.dumps(won)), "judge": {"model": "x"}}))
    diff = ["diff", str(tmp_path / "cand.json"), "--baseline-record", str(tmp_path / "base.json")]
    r = CliRunner().invoke(cli, [*diff, "--pairwise", str(bad)])
    assert r.exit_code == 2 and "bad.json: judge" in r.output, r.output


def test_a_tampered_result_file_is_refused(tmp_path, won):
    data = json.loads(results.dumps(won))
    data["win_rate"] = 0.9
    with pytest.raises(ConfigError, match="win_rate: 0.9 but the items give 1"):
        results.from_dict(data, "p.json")
    data = json.loads(results.dumps(won))
    data["items"][0]["outcome"] = "victory"
    with pytest.raises(ConfigError, match=r"p.json: items.0 \(qa\).outcome: 'victory' is not one of"):
        results.from_dict(data, "p.json")


def test_thresholds_read_the_pairwise_rule(tmp_path):
    p = tmp_path / "t.yaml"
    body = "tasks:\n  qa: {metric: exact_match, higher_is_better: true, informational: true}\n"
    p.write_text(body + "pairwise:\n  min_win_rate: 0.4\n  judge: {model: 'hf:judge', prompt_version: 1}\n")
    assert load_thresholds(p).pairwise == PairwiseRule(0.4, PairwiseJudgePin("hf:judge", 1))
    p.write_text(body + "pairwise:\n  min_win_rate: 0.4\n")
    with pytest.raises(ConfigError, match="t.yaml: pairwise: 'judge' is required"):
        load_thresholds(p)


# ---------------------------------------------------------------- calibration


def test_kappa_over_three_labels_agrees_with_statsmodels():
    a = ["1", "1", "2", "tie", "2", "1", "tie", "2", "1", "tie"]
    b = ["1", "2", "2", "tie", "1", "1", "2", "2", "tie", "tie"]
    labels = ["1", "2", "tie"]
    table = [[sum(x == i and y == j for x, y in zip(a, b, strict=True)) for j in labels] for i in labels]
    assert cohens_kappa(a, b) == pytest.approx(sm_kappa(table).kappa)


def test_calibrate_pairwise_from_saved_replies(tmp_path):
    labels, replies = tmp_path / "labels.jsonl", tmp_path / "replies.jsonl"
    rows = [
        ("a", "5", "7", "1", says("1"), says("2")),  # agrees, survives the swap
        ("b", "7", "5", "2", says("2"), says("1")),
        ("c", "5", "5", "tie", says("1"), says("1")),  # position bias: a tie, as the person said
        ("d", "5", "7", "1", "Answer 1.", says("2")),  # a judge failure: matches no human label
    ]
    labels.write_text(
        "".join(
            json.dumps(dict(id=i, input="2+3?", answer_1=a1, answer_2=a2, human_winner=h)) + "\n"
            for i, a1, a2, h, *_ in rows
        )
    )
    replies.write_text("".join(json.dumps(dict(id=i, reply=r, reply_swapped=s)) + "\n" for i, _, _, _, r, s in rows))
    args = ["judge", "calibrate", "--pairwise", "--labels", str(labels), "--replies", str(replies)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["calibration"]["accuracy"] == pytest.approx(0.75) and out["calibration"]["n_invalid"] == 1
    assert out["calibration"]["confusion"]["human_1/judge_invalid"] == 1
    assert [c["judge_winner"] for c in out["cases"]] == ["1", "2", "tie", "invalid"]
    assert out["judge"]["rubric_id"] == DEFAULT_RUBRIC.id and out["judge"]["prompt_hash"] == DEFAULT_RUBRIC.hash
    assert CliRunner().invoke(cli, [*args, "--min-kappa", "0.9"]).exit_code == 1
    r = CliRunner().invoke(cli, ["judge", "calibrate", "--labels", str(labels), "--replies", str(replies)])
    assert r.exit_code == 2 and "--rubric is required" in r.output


# ---------------------------------------------------------------- end to end, the small model as judge


@pytest.mark.slow
def test_pairwise_end_to_end_with_the_small_model_as_judge(tmp_path, smol_dir):
    # One pair, two judge calls: the small model on CPU is slow. It often answers in prose, which the
    # result must then show as judge failures (losses), never as wins.
    cand, base = pair_records(1)
    records.save(cand, tmp_path / "cand.json")
    records.save(base, tmp_path / "base.json")
    spec = f"hf:{smol_dir}"
    out = tmp_path / "pairwise.json"
    r = CliRunner().invoke(
        cli,
        ["judge", "pairwise", "--candidate", str(tmp_path / "cand.json"), "--baseline", str(tmp_path / "base.json"),
         "--judge-model", spec, "--max-tokens", "32", "--output", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    result = results.load(out)
    assert result.judge.model == spec and result.judge.n_judged == 2 and len(result.items) == 1
    for it in result.items:  # whatever the small judge thought, the swap rule was applied to what it said
        sides = {it.candidate_first, it.baseline_first}
        expect = (
            results.JUDGE_FAILURE if "invalid" in sides
            else {"candidate": results.WIN, "baseline": results.LOSS}.get(it.candidate_first, results.TIE)
            if len(sides) == 1 else results.TIE
        )  # fmt: skip
        assert it.outcome == expect, it
    assert result.win_rate == result.items[0].score and 0 <= result.ci_low <= result.win_rate <= result.ci_high
    th = tmp_path / "t.yaml"
    rule = f"  judge: {{model: '{spec}', prompt_version: {PROMPT_VERSION}, rubric_id: pairwise_default}}\n"
    th.write_text(
        "tasks:\n  qa: {metric: exact_match, higher_is_better: true, informational: true}\n"
        f"pairwise:\n  min_win_rate: 0.01\n{rule}"
    )
    diff = ["diff", str(tmp_path / "cand.json"), "--baseline-record", str(tmp_path / "base.json"),
            "--thresholds", str(th), "--pairwise", str(out), "--format", "json"]  # fmt: skip
    r = CliRunner().invoke(cli, diff)
    row = json.loads(r.stdout)["pairwise"]
    assert row["decision"] in ("ok", "inconclusive", "below_floor") and row["n"] == 1, r.output
    assert r.exit_code == (1 if row["decision"] == "below_floor" else 0), r.output
    th.write_text(th.read_text().replace(spec, "hf:another-judge"))
    r = CliRunner().invoke(cli, diff)
    assert r.exit_code == 0 and json.loads(r.stdout)["pairwise"]["decision"] == "not_comparable", r.output
    r = CliRunner().invoke(cli, [*diff[:3], str(tmp_path / "cand.json"), *diff[4:]])  # not these records
    assert r.exit_code == 2 and "baseline_digest" in r.output, r.output
