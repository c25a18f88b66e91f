"""The pairwise judge: an LLM compares the candidate's and the baseline's answers to the same prompt.

Blinded: the prompt says "Answer 1" and "Answer 2", never which model wrote which. Each pair is judged
twice, candidate first and then baseline first, because small and large judges alike favour one position;
a preference counts only when it survives the swap, otherwise the pair is a tie. The reply must be one
JSON object `{"winner": "1" | "2" | "tie", "reason": ...}` (`gate/schemas/pairwise_reply.schema.json`);
a reply that breaks it, in either order, is a judge failure and counts as a loss for the candidate,
never a win. The win rate is (wins + ties/2) / n with a Wilson interval (`gate.decide.pairwise`).

Like `gate.domain.judge`, this module loads no model: the judge is anything with `complete(prompts)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import jsonschema

from gate import pairwise as result
from gate.decide.pairing import pair_items
from gate.decide.pairwise import win_rate
from gate.domain.judge import RAW_KEEP, Judge, Rubric, load_rubric, reply_json
from gate.errors import ConfigError, EvalFailed
from gate.item_text import full_texts
from gate.lmeval.results import PREDICTION_CHARS
from gate.record import EvalRecord, JudgeInfo
from gate.schemas import load_schema

PROMPT_VERSION = 1
PROMPT_TEMPLATE = """You are comparing two answers to the same request. You are not told who wrote them.

A good answer does this: {task}
Judge them by these criteria:
{criteria}

Request:
<<<
{prompt}
>>>

Answer 1:
<<<
{answer_1}
>>>

Answer 2:
<<<
{answer_2}
>>>

Which answer is better? Their order and their length say nothing about their quality.
If neither is clearly better, the winner is "tie".

Answer with one JSON object and nothing else, in this form:
{{"winner": "1" or "2" or "tie", "reason": "<one sentence>"}}"""

CANDIDATE, BASELINE, TIE, INVALID = "candidate", "baseline", "tie", "invalid"


@dataclass(frozen=True)
class PairwiseRubric:
    """What "better" means to the judge: a rubric file's id, version, task and criteria (its scale and
    failure modes are the rubric judge's and unused here), or the built-in default."""

    id: str
    version: int
    task: str
    criteria: tuple[str, ...]

    @property
    def hash(self) -> str:
        """Covers the prompt template and the rubric's text: a changed prompt changes the hash."""
        blob = json.dumps([PROMPT_TEMPLATE, self.id, self.version, self.task, self.criteria])
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def of(cls, rubric: Rubric) -> PairwiseRubric:
        return cls(rubric.id, rubric.version, rubric.task, rubric.criteria)


DEFAULT_RUBRIC = PairwiseRubric(
    id="pairwise_default",
    version=1,
    task="answer the request correctly, completely and in the form it asks for",
    criteria=(
        "The answer is correct; a wrong final answer loses to a right one however well written.",
        "It does what the request asks, in the format it asks for.",
        "It is clear, and no longer than it needs to be.",
    ),
)


def build_prompt(rubric: PairwiseRubric, prompt: str, answer_1: str, answer_2: str) -> str:
    return PROMPT_TEMPLATE.format(
        task=rubric.task,
        criteria="\n".join(f"- {c}" for c in rubric.criteria),
        prompt=prompt.strip(),
        answer_1=answer_1.strip(),
        answer_2=answer_2.strip(),
    )


@dataclass(frozen=True)
class PairwiseReply:
    """One judged order. `winner` is "1", "2" or "tie" when `valid`; `error` says why not."""

    valid: bool
    winner: str | None
    reason: str
    error: str | None


def parse_reply(reply: str) -> PairwiseReply:
    """Validate one reply; anything but one conforming JSON object (one ``` fence allowed) is invalid."""
    try:
        data = reply_json(reply)
    except ValueError as e:
        return PairwiseReply(False, None, "", f"{e}: {reply[:RAW_KEEP]!r}")
    errors = list(jsonschema.Draft202012Validator(load_schema("pairwise_reply")).iter_errors(data))
    if errors:
        where = ".".join(map(str, errors[0].absolute_path)) or "(top)"
        return PairwiseReply(False, None, "", f"schema: {where}: {errors[0].message}")
    return PairwiseReply(True, data["winner"], data["reason"], None)


def _side(reply: PairwiseReply, first: str, second: str) -> str:
    if not reply.valid:
        return INVALID
    return {"1": first, "2": second, "tie": TIE}[reply.winner or ""]


def decide(candidate_first: PairwiseReply, baseline_first: PairwiseReply) -> result.PairwiseItem:
    """The swap rule for one pair: both orders must name the same side for a win or a loss; any other
    valid pair of replies is a tie; an invalid reply in either order is a judge failure (scored as a loss).
    The item's task and doc are filled in by the caller."""
    cf = _side(candidate_first, CANDIDATE, BASELINE)
    bf = _side(baseline_first, BASELINE, CANDIDATE)
    if INVALID in (cf, bf):
        outcome = result.JUDGE_FAILURE
    elif cf == bf == CANDIDATE:
        outcome = result.WIN
    elif cf == bf == BASELINE:
        outcome = result.LOSS
    else:
        outcome = result.TIE
    why = " | ".join(
        f"{order}: {r.reason if r.valid else r.error}"
        for order, r in (("candidate first", candidate_first), ("baseline first", baseline_first))
    )
    return result.PairwiseItem("", 0, None, cf, bf, outcome, why[: 2 * RAW_KEEP])


@dataclass(frozen=True)
class AnswerPair:
    """One prompt and the two answers to it, as the records keep them whole."""

    task: str
    doc_id: int
    group: str | None
    prompt: str
    candidate_answer: str
    baseline_answer: str


@dataclass(frozen=True)
class JudgedPairs:
    items: tuple[result.PairwiseItem, ...]
    info: JudgeInfo


def judge_pairs(judge: Judge, rubric: PairwiseRubric, pairs: Sequence[AnswerPair]) -> JudgedPairs:
    """Judge every pair in both orders (one batch of 2n prompts) and apply the swap rule."""
    prompts = [build_prompt(rubric, p.prompt, p.candidate_answer, p.baseline_answer) for p in pairs]
    prompts += [build_prompt(rubric, p.prompt, p.baseline_answer, p.candidate_answer) for p in pairs]
    replies = judge.complete(prompts)
    if len(replies) != len(prompts):
        raise EvalFailed(f"judge {judge.name}: returned {len(replies)} replies for {len(prompts)} prompts")
    parsed = [parse_reply(r) for r in replies]
    n = len(pairs)
    items = []
    for p, first, second in zip(pairs, parsed[:n], parsed[n:], strict=True):
        items.append(replace(decide(first, second), task=p.task, doc_id=p.doc_id, group=p.group))
    info = JudgeInfo(
        model=judge.name,
        prompt_version=PROMPT_VERSION,
        prompt_hash=rubric.hash,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        n_judged=len(parsed),
        n_invalid=sum(not r.valid for r in parsed),
    )
    return JudgedPairs(tuple(items), info)


def answer_pairs(
    candidate: EvalRecord, baseline: EvalRecord, tasks: Sequence[str], sources: tuple[str, str]
) -> list[AnswerPair]:
    """The generation tasks' items both records answered (same doc id, doc and prompt hash), with whole
    texts; `tasks` picks some (default: every generation task in both). ConfigError names file and field."""
    cand_src, base_src = sources
    ctasks = {t.name: t for t in candidate.tasks}
    btasks = {t.name: t for t in baseline.tasks}
    generative = [n for n, t in ctasks.items() if t.output_type == "generate_until" and t.status == "ok"]
    generative = [n for n in generative if n in btasks and btasks[n].status == "ok"]
    generative = [n for n in generative if btasks[n].output_type == "generate_until"]
    for name in tasks:
        for src, ts in ((cand_src, ctasks), (base_src, btasks)):
            if name not in ts:
                raise ConfigError(f"{src}: tasks: no task '{name}'; --task takes one of {', '.join(ts) or 'none'}")
            if ts[name].output_type != "generate_until" or ts[name].status != "ok":
                raise ConfigError(
                    f"{src}: tasks.{name}.output_type: {ts[name].output_type} ({ts[name].status}); the pairwise "
                    "judge compares generated answers: pick a generate_until task"
                )
    names = list(tasks) or generative
    if not names:
        raise ConfigError(
            f"{cand_src}: tasks: no generation task (output_type generate_until) in both it and {base_src}; "
            "the pairwise judge compares generated answers"
        )
    out = []
    for name in names:
        pairing = pair_items(ctasks[name], btasks[name])
        if isinstance(pairing, str):
            raise ConfigError(f"{cand_src}: tasks.{name}.items: {pairing}")
        for ic, ib in pairing.pairs:
            for src, it in ((cand_src, ic), (base_src, ib)):
                if not it.full and len(it.prediction) >= PREDICTION_CHARS:
                    raise ConfigError(
                        f"{src}: tasks.{name}.items (doc {it.doc_id}).full: empty, and the answer was cut at "
                        f"{PREDICTION_CHARS} characters (a record written before whole texts were kept); "
                        "re-run it with `gate run`"
                    )
            prompt, c_answer = full_texts(ic.excerpt, ic.prediction, ic.full, cand_src)
            b_answer = full_texts(ib.excerpt, ib.prediction, ib.full, base_src)[1]
            out.append(AnswerPair(name, ic.doc_id, ic.group, prompt, c_answer, b_answer))
    if not out:
        raise ConfigError(
            f"{cand_src}: tasks.{'/'.join(names)}.items: none shares doc id, doc hash and prompt hash with "
            f"{base_src}; run the candidate on the baseline's items (`gate run --items-from`)"
        )
    return out


def pairwise_from_files(
    candidate: Path,
    baseline: Path,
    judge_model: str,
    *,
    rubric: Path | None = None,
    tasks: Sequence[str] = (),
    alpha: float = 0.05,
    max_tokens: int = 128,
) -> result.PairwiseResult:
    """`gate judge pairwise`: read both records and the rubric, check the pairs, then load the judge and run it."""
    from gate import record as records

    recs = []
    for path in (candidate, baseline):
        rec = records.load(path)
        records.require_whole(rec, str(path))
        recs.append(rec)
    rb = PairwiseRubric.of(load_rubric(rubric)) if rubric is not None else DEFAULT_RUBRIC
    sources = (str(candidate), str(baseline))
    answer_pairs(recs[0], recs[1], tasks, sources)  # refuse bad records before a model loads
    from gate.domain.judge_model import load_judge  # loads a model

    judge = load_judge(judge_model, max_gen_toks=max_tokens)
    return run_pairwise(recs[0], recs[1], judge, rb, tasks=tasks, alpha=alpha, sources=sources)


def run_pairwise(
    candidate: EvalRecord,
    baseline: EvalRecord,
    judge: Judge,
    rubric: PairwiseRubric = DEFAULT_RUBRIC,
    *,
    tasks: Sequence[str] = (),
    alpha: float = 0.05,
    sources: tuple[str, str] = ("candidate record", "baseline record"),
) -> result.PairwiseResult:
    """`gate judge pairwise` as a library call: pair the answers, judge them, and sum up the win rate."""
    pairs = answer_pairs(candidate, baseline, tasks, sources)
    judged = judge_pairs(judge, rubric, pairs)
    iv = win_rate(judged.items, alpha)
    return result.PairwiseResult(
        candidate_digest=result.digest_of(candidate),
        baseline_digest=result.digest_of(baseline),
        candidate_model=candidate.model.id,
        baseline_model=baseline.model.id,
        judge=judged.info,
        tasks=tuple(dict.fromkeys(p.task for p in pairs)),
        items=judged.items,
        alpha=alpha,
        win_rate=iv.estimate,
        ci_low=iv.low,
        ci_high=iv.high,
        method=iv.method,
    )
