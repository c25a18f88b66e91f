"""`gate judge calibrate` as a library call: grade human-labelled cases with a judge (a model, or its saved
replies) and measure the agreement (accuracy, Cohen's kappa): pass/fail for the rubric judge, and
"1"/"2"/"tie" for the pairwise judge (`--pairwise`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gate import pairwise as result
from gate.domain.judge import (
    Calibration,
    JudgeRun,
    LabelledCase,
    calibrate,
    cohens_kappa,
    judge_info,
    load_labels,
    load_rubric,
    parse_reply,
    run_judge,
)
from gate.domain.pairwise import (
    DEFAULT_RUBRIC,
    INVALID,
    PROMPT_VERSION,
    AnswerPair,
    PairwiseRubric,
    decide,
    judge_pairs,
)
from gate.domain.pairwise import (
    parse_reply as parse_pairwise_reply,
)
from gate.errors import ConfigError
from gate.files import parse_json, read_text
from gate.record import JudgeInfo


@dataclass(frozen=True)
class CalibrationReport:
    cases: tuple[LabelledCase, ...]
    run: JudgeRun
    result: Calibration

    def below(self, min_kappa: float | None) -> bool:
        return self.result.below(min_kappa)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calibration": asdict(self.result),
            "judge": asdict(self.run.info),
            "cases": [
                {"id": c.case.case_id, "human_pass": c.human_pass, **asdict(v)}
                for c, v in zip(self.cases, self.run.verdicts, strict=True)
            ],
        }


def replies_from_file(path: Path, ids: list[str], key: str = "reply") -> list[str]:
    """Saved judge replies, one JSON object {id, reply} a line, in the order of `ids` (`key`: which field)."""
    lines = read_text(path, "replies").splitlines()
    rows = [parse_json(line, f"{path}:{n}", "judge reply line") for n, line in enumerate(lines, 1) if line.strip()]
    if not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{path}: not JSON Lines of {{id, {key}}} objects")
    by_id = {str(r.get("id")): r.get(key) for r in rows}
    missing = [i for i in ids if not isinstance(by_id.get(i), str)]
    if missing:
        raise ConfigError(f"{path}: no string '{key}' for case(s) {', '.join(missing[:5])}; one {{id, {key}}} a line")
    return [by_id[i] for i in ids]


def calibrate_judge(
    labels: Path, rubric: Path, *, judge_model: str | None = None, replies: Path | None = None, max_tokens: int = 256
) -> CalibrationReport:
    """Grade the labelled cases with `judge_model` (loaded here) or with saved `replies`; exactly one of them."""
    if (judge_model is None) == (replies is None):
        raise ConfigError("judge calibrate: give exactly one of --judge-model or --replies")
    rb = load_rubric(rubric)
    cases = tuple(load_labels(labels))
    if replies is not None:
        verdicts = tuple(parse_reply(r, rb) for r in replies_from_file(replies, [c.case.case_id for c in cases]))
        run = JudgeRun(verdicts, judge_info(f"replies:{replies}", rb, verdicts))
    else:
        from gate.domain.judge_model import load_judge  # loads a model: only when one is asked for

        run = run_judge(load_judge(judge_model, max_gen_toks=max_tokens), rb, [c.case for c in cases])
    return CalibrationReport(cases, run, calibrate([c.human_pass for c in cases], run.verdicts))


# ---------------------------------------------------------------- the pairwise judge

LABELS = ("1", "2", "tie")
# The swap rule's outcome for Answer 1, as a person labels it; a judge failure matches no human label.
_AS_LABEL = {result.WIN: "1", result.LOSS: "2", result.TIE: "tie", result.JUDGE_FAILURE: INVALID}


@dataclass(frozen=True)
class PairwiseLabel:
    case_id: str
    pair: AnswerPair  # answer_1 on the "candidate" side of the judge's prompt, answer_2 on the "baseline" side
    human_winner: str  # "1" | "2" | "tie"


def load_pairwise_labels(path: Path) -> list[PairwiseLabel]:
    """A human-labelled JSONL: one `{"id", "input", "answer_1", "answer_2", "human_winner"}` object a line."""
    out = []
    keys = ("id", "input", "answer_1", "answer_2", "human_winner")
    for n, line in enumerate(read_text(path, "labels").splitlines(), 1):
        if not line.strip():
            continue
        row = parse_json(line, f"{path}:{n}", "labelled pair")
        if not isinstance(row, dict) or any(k not in row for k in keys):
            raise ConfigError(f"{path}:{n}: each line needs {', '.join(keys)} (--pairwise labels)")
        if row["human_winner"] not in LABELS:
            raise ConfigError(f'{path}:{n}: human_winner: {row["human_winner"]!r} is not one of "1", "2", "tie"')
        pair = AnswerPair("labels", n, None, str(row["input"]), str(row["answer_1"]), str(row["answer_2"]))
        out.append(PairwiseLabel(str(row["id"]), pair, row["human_winner"]))
    if not out:
        raise ConfigError(f"{path}: no labelled pairs")
    return out


def calibrate_pairwise(human: list[str], judged: tuple[result.PairwiseItem, ...]) -> Calibration:
    """Accuracy and Cohen's kappa (labels 1, 2, tie) of the judge's swap-rule verdicts against people's."""
    if len(human) != len(judged) or not human:
        raise ConfigError(f"calibrate: {len(human)} human labels but {len(judged)} judged pairs")
    labels = [_AS_LABEL[i.outcome] for i in judged]
    confusion = {f"human_{h}/judge_{j}": 0 for h in LABELS for j in (*LABELS, INVALID)}
    for h, j in zip(human, labels, strict=True):
        confusion[f"human_{h}/judge_{j}"] += 1
    return Calibration(
        n=len(human),
        accuracy=sum(h == j for h, j in zip(human, labels, strict=True)) / len(human),
        kappa=cohens_kappa(human, labels),
        n_invalid=sum(i.outcome == result.JUDGE_FAILURE for i in judged),
        confusion=confusion,
    )


@dataclass(frozen=True)
class PairwiseCalibrationReport:
    labels: tuple[PairwiseLabel, ...]
    items: tuple[result.PairwiseItem, ...]
    info: JudgeInfo
    result: Calibration

    def below(self, min_kappa: float | None) -> bool:
        return self.result.below(min_kappa)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calibration": asdict(self.result),
            "judge": asdict(self.info),
            "cases": [
                {"id": lb.case_id, "human_winner": lb.human_winner, "judge_winner": _AS_LABEL[it.outcome],
                 "answer_1_first": it.candidate_first, "answer_2_first": it.baseline_first, "reason": it.reason}
                for lb, it in zip(self.labels, self.items, strict=True)
            ],
        }  # fmt: skip


def calibrate_pairwise_judge(
    labels: Path,
    rubric: Path | None,
    *,
    judge_model: str | None = None,
    replies: Path | None = None,
    max_tokens: int = 128,
) -> PairwiseCalibrationReport:
    """Judge labelled pairs in both orders with `judge_model`, or with saved replies (JSONL `{id, reply,
    reply_swapped}`: answer_1 shown first, then answer_2 first), and measure agreement with people."""
    if (judge_model is None) == (replies is None):
        raise ConfigError("judge calibrate: give exactly one of --judge-model or --replies")
    rb = PairwiseRubric.of(load_rubric(rubric)) if rubric is not None else DEFAULT_RUBRIC
    cases = tuple(load_pairwise_labels(labels))
    if replies is not None:
        ids = [c.case_id for c in cases]
        first = replies_from_file(replies, ids)
        swapped = replies_from_file(replies, ids, "reply_swapped")
        items = tuple(
            decide(parse_pairwise_reply(a), parse_pairwise_reply(b)) for a, b in zip(first, swapped, strict=True)
        )
        n_invalid = sum(i.candidate_first == INVALID for i in items) + sum(i.baseline_first == INVALID for i in items)
        info = JudgeInfo(f"replies:{replies}", PROMPT_VERSION, rb.hash, rb.id, rb.version, 2 * len(items), n_invalid)
    else:
        from gate.domain.judge_model import load_judge  # loads a model: only when one is asked for

        judged = judge_pairs(load_judge(judge_model, max_gen_toks=max_tokens), rb, [c.pair for c in cases])
        items, info = judged.items, judged.info
    return PairwiseCalibrationReport(cases, items, info, calibrate_pairwise([c.human_winner for c in cases], items))
