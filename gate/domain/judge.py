"""LLM-as-judge for domain cases that rules cannot score, and its calibration against people.

A rubric file (YAML, `gate/schemas/rubric.schema.json`) becomes a prompt; the judge must reply
with one JSON object `{score, pass, reason, failure_mode}` that validates against
`gate/schemas/judge_reply.schema.json`, narrowed by the rubric (score within its scale,
failure_mode from its list, pass agreeing with the score). A reply that does not validate is
a judge failure and counts as "not passed", never as a pass.

This module imports no model: the judge is anything with a `name` and a
`complete(prompts) -> replies` method (`gate.domain.judge_model` wraps an lm-eval LM).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jsonschema

from gate.config.read import read_yaml
from gate.errors import ConfigError, EvalFailed
from gate.files import parse_json, read_text
from gate.lmeval.results import Sample
from gate.record import JudgeInfo
from gate.schemas import load_schema, validate

PROMPT_VERSION = 1
PROMPT_TEMPLATE = """You are grading a reply written by a customer-support assistant.

The assistant's job: {task}

Grade the reply against these criteria:
{criteria}

Customer message:
<<<
{input}
>>>

Assistant reply:
<<<
{response}
>>>

Give a score from {min} (worst) to {max} (best). The reply passes when the score is {pass_score} or more.
If it fails, name the main failure mode, one of: {failure_modes}. If it passes, failure_mode is null.

Answer with one JSON object and nothing else, in this form:
{{"score": <integer {min}-{max}>, "pass": <true or false>, "reason": "<one sentence>",
 "failure_mode": <null or one of the names above>}}"""

_FENCE_RE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)
RAW_KEEP = 500  # characters of a judge reply kept for reports


class Judge(Protocol):
    """Any model that can complete prompts; its name goes into the record."""

    name: str

    def complete(self, prompts: Sequence[str]) -> list[str]: ...


@dataclass(frozen=True)
class Rubric:
    id: str
    version: int
    task: str
    criteria: tuple[str, ...]
    scale_min: int
    scale_max: int
    pass_score: int
    failure_modes: tuple[str, ...]
    path: Path | None = None

    @property
    def hash(self) -> str:
        """Covers the rubric's text and the prompt template, so a changed prompt changes the hash."""
        blob = json.dumps(
            [
                PROMPT_TEMPLATE,
                self.id,
                self.version,
                self.task,
                self.criteria,
                self.scale_min,
                self.scale_max,
                self.pass_score,
                self.failure_modes,
            ]
        )
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()

    def reply_schema(self) -> dict[str, Any]:
        """The shipped reply schema, narrowed to this rubric's scale and failure modes."""
        schema = json.loads(json.dumps(load_schema("judge_reply")))
        props = schema["properties"]
        props["score"].update({"minimum": self.scale_min, "maximum": self.scale_max})
        props["failure_mode"] = {"enum": [None, *self.failure_modes]}
        return schema


@dataclass(frozen=True)
class JudgeVerdict:
    """One judged case. `valid` is False for a reply that broke the schema; then `passed` is False."""

    valid: bool
    passed: bool
    score: float | None
    reason: str
    failure_mode: str | None
    error: str | None
    raw: str


@dataclass(frozen=True)
class JudgeCase:
    """One thing to judge: a case id, what the user said, and what the assistant replied."""

    case_id: str
    input: str
    response: str


@dataclass(frozen=True)
class JudgeRun:
    verdicts: tuple[JudgeVerdict, ...]  # in the order of the cases
    info: JudgeInfo


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate a rubric YAML such as `suites/domain/support_policy/rubrics/support_quality.yaml`."""
    p = Path(path)
    data = read_yaml(p, "rubric")
    validate(data, "rubric", str(p))
    lo, hi = data["scale"]["min"], data["scale"]["max"]
    if not lo < hi:
        raise ConfigError(f"{p}: scale: min {lo} must be below max {hi}")
    if not lo <= data["pass_score"] <= hi:
        raise ConfigError(f"{p}: pass_score: {data['pass_score']} is outside the scale {lo}-{hi}")
    return Rubric(
        id=data["id"],
        version=data["version"],
        task=data["task"],
        criteria=tuple(data["criteria"]),
        scale_min=lo,
        scale_max=hi,
        pass_score=data["pass_score"],
        failure_modes=tuple(data["failure_modes"]),
        path=p,
    )


def build_prompt(rubric: Rubric, input: str, response: str) -> str:
    """The judge prompt for one case."""
    return PROMPT_TEMPLATE.format(
        task=rubric.task,
        criteria="\n".join(f"- {c}" for c in rubric.criteria),
        input=input.strip(),
        response=response.strip(),
        min=rubric.scale_min,
        max=rubric.scale_max,
        pass_score=rubric.pass_score,
        failure_modes=", ".join(rubric.failure_modes),
    )


def _invalid(raw: str, error: str) -> JudgeVerdict:
    return JudgeVerdict(False, False, None, "", None, error, raw[:RAW_KEEP])


def reply_json(reply: str) -> Any:
    """The JSON of a judge reply (whitespace and one ``` fence tolerated), or ValueError("not JSON (...)")."""
    text = reply.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at char {e.pos})") from None


def parse_reply(reply: str, rubric: Rubric) -> JudgeVerdict:
    """Validate one judge reply. Anything but one conforming JSON object is a judge failure.

    Whitespace and one surrounding ``` fence are tolerated; prose around the JSON is not,
    because a judge that cannot follow the format cannot be trusted to follow the rubric.
    """
    try:
        data = reply_json(reply)
    except ValueError as e:
        return _invalid(reply, str(e))
    validator = jsonschema.Draft202012Validator(rubric.reply_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(map(str, errors[0].absolute_path)) or "(top)"
        return _invalid(reply, f"schema: {where}: {errors[0].message}")
    if not math.isfinite(data["score"]):
        return _invalid(reply, f"score {data['score']} is not a finite number")
    if data["pass"] != (data["score"] >= rubric.pass_score):
        return _invalid(
            reply, f"pass={data['pass']} contradicts score {data['score']} (pass_score {rubric.pass_score})"
        )
    if not data["pass"] and data["failure_mode"] is None:
        return _invalid(reply, "a failing reply must name its failure_mode")
    return JudgeVerdict(
        True, data["pass"], float(data["score"]), data["reason"], data["failure_mode"], None, reply[:RAW_KEEP]
    )


def run_judge(judge: Judge, rubric: Rubric, cases: Sequence[JudgeCase]) -> JudgeRun:
    """Judge every case; the result says which replies were judge failures."""
    prompts = [build_prompt(rubric, c.input, c.response) for c in cases]
    replies = judge.complete(prompts)
    if len(replies) != len(prompts):
        raise EvalFailed(f"judge {judge.name}: returned {len(replies)} replies for {len(prompts)} prompts")
    verdicts = tuple(parse_reply(r, rubric) for r in replies)
    return JudgeRun(verdicts, judge_info(judge.name, rubric, verdicts))


def judge_info(model: str, rubric: Rubric, verdicts: Iterable[JudgeVerdict]) -> JudgeInfo:
    verdicts = list(verdicts)
    return JudgeInfo(
        model=model,
        prompt_version=PROMPT_VERSION,
        prompt_hash=rubric.hash,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        n_judged=len(verdicts),
        n_invalid=sum(not v.valid for v in verdicts),
    )


@dataclass(frozen=True)
class Calibration:
    """Agreement of the judge with human labels on the same cases (judge failures count as fail)."""

    n: int
    accuracy: float
    kappa: float | None  # None when undefined: both raters gave one label to every case
    n_invalid: int
    confusion: dict[str, int]  # human_pass/judge_pass, human_pass/judge_fail, ... (human_1/judge_tie, ... pairwise)

    def below(self, min_kappa: float | None) -> bool:
        """Whether agreement misses `min_kappa` (an undefined kappa always does)."""
        return min_kappa is not None and (self.kappa is None or self.kappa < min_kappa)


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over any labels (pass/fail, or a pairwise judge's 1/2/tie); None when
    chance agreement is 1 (kappa undefined: both raters gave one and the same label to every case)."""
    if len(a) != len(b) or not a:
        raise ValueError("cohens_kappa needs two equally long, non-empty label lists")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[label] * cb[label] for label in ca) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1 - expected)


def calibrate(human: Sequence[bool], verdicts: Sequence[JudgeVerdict]) -> Calibration:
    """Accuracy and Cohen's kappa of the judge's pass/fail against human pass/fail."""
    if len(human) != len(verdicts):
        raise ConfigError(f"calibrate: {len(human)} human labels but {len(verdicts)} judge verdicts")
    if not human:
        raise ConfigError("calibrate: the labels file has no cases")
    judged = [v.passed for v in verdicts]
    confusion = {
        f"human_{'pass' if h else 'fail'}/judge_{'pass' if j else 'fail'}": 0
        for h in (True, False)
        for j in (True, False)
    }
    for h, j in zip(human, judged, strict=True):
        confusion[f"human_{'pass' if h else 'fail'}/judge_{'pass' if j else 'fail'}"] += 1
    return Calibration(
        n=len(human),
        accuracy=sum(h == j for h, j in zip(human, judged, strict=True)) / len(human),
        kappa=cohens_kappa(list(human), judged),
        n_invalid=sum(not v.valid for v in verdicts),
        confusion=confusion,
    )


@dataclass(frozen=True)
class LabelledCase:
    case: JudgeCase
    human_pass: bool


def load_labels(path: str | Path) -> list[LabelledCase]:
    """Read a human-labelled JSONL: one `{"id", "input", "response", "human_pass"}` object a line."""
    p = Path(path)
    lines = read_text(p, "labels").splitlines()
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = parse_json(line, f"{p}:{n}", "labelled case")
        if not isinstance(row, dict):
            raise ConfigError(f"{p}:{n}: expected one JSON object a line, got {type(row).__name__}")
        missing = [k for k in ("id", "input", "response", "human_pass") if k not in row]
        if missing:
            raise ConfigError(f"{p}:{n}: missing {', '.join(missing)}; each line needs id, input, response, human_pass")
        if not isinstance(row["human_pass"], bool):
            raise ConfigError(f"{p}:{n}: human_pass must be true or false, got {row['human_pass']!r}")
        out.append(LabelledCase(JudgeCase(str(row["id"]), row["input"], row["response"]), row["human_pass"]))
    if not out:
        raise ConfigError(f"{p}: no labelled cases")
    return out


@dataclass(frozen=True)
class JudgedSamples:
    """A domain task's samples, judged: one verdict per doc id, and what the judge was."""

    verdicts: dict[int, JudgeVerdict]
    info: JudgeInfo


def judge_samples(
    samples: Sequence[Sample], rubric: Rubric, judge: Judge, input_field: str = "user_input"
) -> JudgedSamples:
    """Judge the replies in the samples of a generative domain task (e.g. `domain_support_judged`)."""
    cases, doc_ids = [], []
    for s in samples:
        if input_field not in s.doc:
            raise ConfigError(f"judged task: case {s.doc.get('id', s.doc_id)} has no {input_field!r} field")
        cases.append(JudgeCase(str(s.doc.get("id", s.doc_id)), str(s.doc[input_field]), s.response))
        doc_ids.append(s.doc_id)
    run = run_judge(judge, rubric, cases)
    return JudgedSamples(dict(zip(doc_ids, run.verdicts, strict=True)), run.info)
