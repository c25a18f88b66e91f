"""The pairwise judge's result, as plain data: what `gate judge pairwise` writes and `gate diff --pairwise` reads.

An LLM judge compared the candidate's and the baseline's answers to the same prompts, blinded and in both
orders (`gate.domain.pairwise`); this module holds the outcome per item, the win rate and its interval,
and which records and which judge it belongs to. Light (stdlib, jsonschema): the diff reads it without a
model, and `PairwiseCheck` (the diff's row) travels inside a `Comparison` to the publish job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.files import read_json, write_output
from gate.record import EvalRecord, JudgeInfo, to_dict
from gate.record_checks import record_digest
from gate.schemas import validate

# The candidate's outcome on one item. A judge failure (a reply in either order that broke the reply
# schema) scores as a loss: a judge that cannot answer must never make the candidate look better.
WIN, TIE, LOSS, JUDGE_FAILURE = "win", "tie", "loss", "judge_failure"
OUTCOME_SCORES = {WIN: 1.0, TIE: 0.5, LOSS: 0.0, JUDGE_FAILURE: 0.0}


@dataclass(frozen=True)
class PairwiseItem:
    """One prompt judged twice. `candidate_first`/`baseline_first`: the judge's pick in each order, named
    by side (candidate, baseline, tie) or `invalid`; `outcome` the candidate's after the swap rule."""

    task: str
    doc_id: int
    group: str | None
    candidate_first: str
    baseline_first: str
    outcome: str
    reason: str  # the judge's reasons in both orders, or what was wrong with a reply

    @property
    def score(self) -> float:
        return OUTCOME_SCORES[self.outcome]


@dataclass(frozen=True)
class PairwiseResult:
    """`gate judge pairwise`'s result: the items, the win rate ((wins + ties/2) / n) and its interval."""

    candidate_digest: str  # record_digest of each record's contents: the result belongs to these two
    baseline_digest: str
    candidate_model: str
    baseline_model: str
    judge: JudgeInfo  # model, prompt version and hash, rubric; n_judged/n_invalid count replies (2 per item)
    tasks: tuple[str, ...]
    items: tuple[PairwiseItem, ...]
    alpha: float
    win_rate: float
    ci_low: float
    ci_high: float
    method: str

    def count(self, outcome: str) -> int:
        return sum(i.outcome == outcome for i in self.items)


@dataclass(frozen=True)
class PairwiseCheck:
    """The pairwise rule applied in a diff (`gate.decide.pairwise`): the win rate against `min_win_rate`.

    decision: ok | below_floor | inconclusive | not_comparable | informational (no rule: shown only).
    """

    decision: str
    reason: str
    blocking: bool
    min_win_rate: float | None = None
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = ""
    n: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    judge_failures: int = 0
    judge: str = ""  # e.g. "hf:judge (rubric pairwise_default v1, prompt v1)"
    tasks: tuple[str, ...] = ()


def digest_of(record: EvalRecord) -> str:
    """A record's content digest, as the pairwise result names it (the same as `gate.record.seal`'s)."""
    return record_digest(to_dict(record))


def judge_label(j: JudgeInfo) -> str:
    return f"{j.model} (rubric {j.rubric_id} v{j.rubric_version}, prompt v{j.prompt_version})"


def to_dict_result(r: PairwiseResult) -> dict[str, Any]:
    return asdict(r)


def dumps(r: PairwiseResult) -> str:
    return json.dumps(to_dict_result(r), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def save(r: PairwiseResult, path: str | Path, *, overwrite: bool = False) -> Path:
    return write_output(path, dumps(r), overwrite=overwrite)


def from_dict(data: Any, source: str) -> PairwiseResult:
    """The result back from its JSON, checked: schema, then counts that agree with the items."""
    validate(data, "pairwise", source)
    items = tuple(PairwiseItem(**i) for i in data["items"])
    r = PairwiseResult(**{**data, "judge": JudgeInfo(**data["judge"]), "tasks": tuple(data["tasks"]), "items": items})
    rate = sum(i.score for i in items) / len(items)
    if abs(rate - r.win_rate) > 1e-9:
        raise ConfigError(
            f"{source}: win_rate: {r.win_rate} but the items give {rate:.6g}; rewrite it with `gate judge pairwise`"
        )
    if r.judge.n_judged != 2 * len(items):
        raise ConfigError(
            f"{source}: judge.n_judged: {r.judge.n_judged} replies for {len(items)} items (two per item expected); "
            "rewrite it with `gate judge pairwise`"
        )
    return r


def load(path: str | Path) -> PairwiseResult:
    """A pairwise result file (`gate judge pairwise --output`), every failure one ConfigError line."""
    return from_dict(read_json(path, "pairwise result", "pass the JSON written by `gate judge pairwise`"), str(path))
