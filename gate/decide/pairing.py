"""Which tasks and items of two records can be compared, and which items changed.

Pure: records in, pairs out. Two tasks are comparable only when everything that changes the
measurement agrees (lm-eval version, task hash, few-shot count, model dtype, quantization,
batch size, chat template, generation settings); two items pair only when their doc id
(within their group) and their doc and prompt hashes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gate.item_text import full_texts
from gate.record import EvalRecord, ItemOutcome, JudgeInfo, TaskResult
from gate.results import FlippedItem
from gate.text import clip

EXCERPT_CHARS = 160


_MODEL_SETUP = ("dtype", "quantization", "batch_size", "chat_template", "fewshot_as_multiturn", "backend")


def setup_differences(cand: EvalRecord, base: EvalRecord) -> list[str]:
    out = []
    if cand.versions.lm_eval != base.versions.lm_eval:
        out.append(f"lm-eval version differs (baseline {base.versions.lm_eval}, candidate {cand.versions.lm_eval})")
    for f in _MODEL_SETUP:
        b, c = getattr(base.model, f), getattr(cand.model, f)
        if b != c:
            out.append(f"model {f} differs (baseline {b}, candidate {c})")
    if cand.setup is not None and base.setup is not None:  # records from before setups were recorded have none
        for f, label in _PROMPT_SETUP.items():
            b, c = getattr(base.setup, f), getattr(cand.setup, f)
            if b != c:
                out.append(f"{label} differs (baseline {_short(b)}, candidate {_short(c)})")
    return out


# What changes the tokens a model sees: records that differ here are not comparable.
_PROMPT_SETUP = {"max_length": "context window (max_length)", "tokenizer_hash": "tokenizer"}
# What can move scores by a few tenths without changing a prompt: shown, and blocking only by policy
# (policy.block_on_setup_change). How a run was spread (processes, shards) is neither: each item's
# prompt and answer do not depend on it in fp32 (docs/scale.md says where batch composition can).
_ENVIRONMENT = {"accelerator": "accelerator", "driver": "NVIDIA driver", "cuda": "CUDA"}
_LIBRARIES = ("torch", "transformers")


def environment_differences(cand: EvalRecord, base: EvalRecord) -> list[str]:
    """Differences of hardware and library versions between two records: not a different measurement, but
    one that may move scores by a few tenths; never silently ignored."""
    out = []
    for f in _LIBRARIES:
        b, c = getattr(base.versions, f), getattr(cand.versions, f)
        if b != c:
            out.append(f"{f} version differs (baseline {b}, candidate {c})")
    if cand.setup is not None and base.setup is not None:
        for f, label in _ENVIRONMENT.items():
            b, c = getattr(base.setup, f), getattr(cand.setup, f)
            if b != c:
                out.append(f"{label} differs (baseline {b}, candidate {c})")
    elif (cand.setup is None) != (base.setup is None):
        which = "baseline" if base.setup is None else "candidate"
        out.append(f"the {which} record does not say where it ran (written before setups were recorded)")
    return out


def task_differences(c: TaskResult, b: TaskResult) -> list[str]:
    out = []
    for f in ("metric", "higher_is_better", "task_hash", "num_fewshot", "output_type", "generation"):
        bv, cv = getattr(b, f), getattr(c, f)
        if bv != cv:
            label = {"task_hash": "lm-eval task hash", "num_fewshot": "few-shot count"}.get(f, f)
            out.append(f"{label} differs (baseline {_short(bv)}, candidate {_short(cv)})")
    out += _judge_differences(c.judge, b.judge)
    return out


# What an LLM-judged score depends on (the counts of judged and invalid replies are outcomes, not setup).
_JUDGE_SETUP = ("model", "prompt_version", "prompt_hash", "rubric_id", "rubric_version")


def _judge_differences(c: JudgeInfo | None, b: JudgeInfo | None) -> list[str]:
    if c is None and b is None:
        return []
    if c is None or b is None:
        which = "baseline" if b is not None else "candidate"
        return [f"only the {which} was scored by an LLM judge"]
    return [
        f"judge {f.replace('_', ' ')} differs (baseline {_short(getattr(b, f))}, candidate {_short(getattr(c, f))})"
        for f in _JUDGE_SETUP
        if getattr(b, f) != getattr(c, f)
    ]


def _short(v: Any) -> str:
    return clip(str(v), 20)


def _clean(text: str) -> str:
    # The end of a prompt holds its question, so an excerpt keeps the end.
    return clip(text, EXCERPT_CHARS, keep="end", one_line=True)


@dataclass(frozen=True)
class Pairing:
    pairs: list[tuple[ItemOutcome, ItemOutcome]]  # (candidate, baseline), in (group, doc_id) order
    unpaired: int
    hash_mismatch: int


def pair_items(c: TaskResult, b: TaskResult) -> Pairing | str:
    def index(t: TaskResult, who: str) -> dict[tuple[str, int], ItemOutcome] | str:
        out: dict[tuple[str, int], ItemOutcome] = {}
        for it in t.items:
            key = (it.group or "", it.doc_id)
            if key in out:
                return f"{who} record lists doc {it.doc_id} of {it.group or t.name} twice; items cannot be paired"
            out[key] = it
        return out

    ci, bi = index(c, "candidate"), index(b, "baseline")
    if isinstance(ci, str):
        return ci
    if isinstance(bi, str):
        return bi
    pairs, mismatch = [], 0
    for key in sorted(ci.keys() & bi.keys()):
        ic, ib = ci[key], bi[key]
        if ic.doc_hash == ib.doc_hash and ic.prompt_hash == ib.prompt_hash:
            pairs.append((ic, ib))
        else:
            mismatch += 1
    unpaired = len(ci.keys() ^ bi.keys()) + mismatch
    return Pairing(pairs, unpaired, mismatch)


def flipped_items(pairs: list[tuple[ItemOutcome, ItemOutcome]], sign: int, worse: bool) -> list[FlippedItem]:
    out = []
    for ic, ib in pairs:
        moved = sign * (ic.score - ib.score)
        if (moved < 0) if worse else (moved > 0):
            prompt, c_answer = full_texts(ic.excerpt, ic.prediction, ic.full, "candidate record")
            b_answer = full_texts(ib.excerpt, ib.prediction, ib.full, "baseline record")[1]
            out.append(
                FlippedItem(
                    ic.doc_id, ic.group, _clean(ic.excerpt), ib.score, ic.score, _clean(ib.prediction),
                    _clean(ic.prediction), prompt, b_answer, c_answer,
                )
            )  # fmt: skip
    return out
