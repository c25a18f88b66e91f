"""The contamination probe's companion task: the same items with their answer options in a seeded new order.

A suite task with `contamination_probe:` runs twice: as itself, and as `<task>_permuted`, a task built
from lm-eval's own config of the original with one change: its `process_docs` first applies the
original's (HellaSwag builds its `choices` there) and then permutes each doc's options, mapping the
gold. The permutation is drawn from the seed and the doc's own content, so every run, shard and
checkpoint sees the same order, and the gold always moves (a shuffle that leaves it in place is
rotated by one): every item tests whether the model follows the answer or its position.

Few-shot examples pass through the same `process_docs` (lm-eval's few-shot config inherits it), so they
are permuted too, deterministically: the point is to break a memorised order of the evaluated items,
and an example block in the original order would hint at it.

Written against lm-eval 0.4.13: builds `ConfigurableTask(config=...)` from the fields of the original's
`TaskConfig`, and its `FewshotConfig` (already built, so its `process_docs` is replaced explicitly).
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.lmeval.tasks import LoadedTask

SUFFIX = "_permuted"
_LETTERS = string.ascii_uppercase  # MMLU-Pro's answer letter of answer_index


def companion_name(name: str) -> str:
    """The companion task's (or leaf's) name of `name`."""
    return name + SUFFIX


def original_name(name: str) -> str:
    """The original task's (or leaf's) name of a companion's."""
    return name.removesuffix(SUFFIX)


@dataclass(frozen=True)
class DocShape:
    """How one benchmark's docs hold their options and gold, after its own `process_docs`."""

    name: str
    matches: Callable[[dict[str, Any]], bool]
    gold: Callable[[dict[str, Any]], int]
    options: Callable[[dict[str, Any]], list[Any]]
    permuted: Callable[[dict[str, Any], list[int], int], dict[str, Any]]  # doc, new order, new gold -> doc


def _is_index(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _pick(xs: list[Any], order: list[int]) -> list[Any]:
    return [xs[i] for i in order]


def _hellaswag(doc: dict[str, Any], order: list[int], gold: int) -> dict[str, Any]:
    out = {**doc, "choices": _pick(doc["choices"], order), "gold": gold}
    if "label" in doc:  # lm-eval's doc_to_target reads the raw label ("0".."3"), not gold
        out["label"] = type(doc["label"])(gold)
    if len(doc.get("endings") or ()) == len(order):
        out["endings"] = _pick(doc["endings"], order)
    return out


def _arc(doc: dict[str, Any], order: list[int], gold: int) -> dict[str, Any]:
    labels = list(doc["choices"]["label"])  # kept in place ("A".."D" or "1".."4"); the texts move
    choices = {"text": _pick(doc["choices"]["text"], order), "label": labels}
    return {**doc, "choices": choices, "answerKey": labels[gold]}


SHAPES = (
    DocShape(  # MMLU-Pro (leaderboard_mmlu_pro): options list, answer_index and its letter
        "mmlu_pro",
        lambda d: isinstance(d.get("options"), list) and _is_index(d.get("answer_index")),
        lambda d: d["answer_index"],
        lambda d: d["options"],
        lambda d, o, g: {**d, "options": _pick(d["options"], o), "answer_index": g, "answer": _LETTERS[g]},
    ),
    DocShape(  # HellaSwag after its own process_docs: choices list and gold
        "hellaswag",
        lambda d: isinstance(d.get("choices"), list) and "gold" in d,
        lambda d: int(d["gold"]),
        lambda d: d["choices"],
        _hellaswag,
    ),
    DocShape(  # ARC: choices {text, label} and answerKey, one of the labels
        "arc",
        lambda d: isinstance(d.get("choices"), dict) and d.get("answerKey") in (d["choices"].get("label") or ()),
        lambda d: list(d["choices"]["label"]).index(d["answerKey"]),
        lambda d: d["choices"]["text"],
        _arc,
    ),
    DocShape(  # MMLU: choices list and answer index; the prompt writes the options as A..D
        "mmlu",
        lambda d: isinstance(d.get("choices"), list) and _is_index(d.get("answer")),
        lambda d: d["answer"],
        lambda d: d["choices"],
        lambda d, o, g: {**d, "choices": _pick(d["choices"], o), "answer": g},
    ),
)


def doc_shape(doc: dict[str, Any]) -> DocShape | None:
    """The shape of a processed doc, or None when the probe does not know where its options are."""
    return next((s for s in SHAPES if s.matches(doc)), None)


def _plain(x: Any) -> Any:
    # datasets' `map` hands over lazy rows, not dicts: the same doc must give the same identity either way
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def permutation(doc: dict[str, Any], n: int, gold: int, seed: int) -> list[int]:
    """The new order of a doc's `n` options (new position i holds old option order[i]), from the seed and
    the doc's content; the gold never stays where it was."""
    identity = json.dumps(_plain(doc), sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(f"{seed}\0{identity}".encode()).digest()
    order = list(range(n))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    if n > 1 and order.index(gold) == gold:
        order = order[1:] + order[:1]  # a rotation moves every option, the gold included
    return order


def permute_doc(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    """The doc with its options in the probe's order and its gold mapped; ValueError on an unknown shape."""
    shape = doc_shape(doc)
    if shape is None:
        raise ValueError(f"no known option layout in a doc with fields {sorted(doc)}")
    gold, n = shape.gold(doc), len(shape.options(doc))
    order = permutation(doc, n, gold, seed)
    return shape.permuted(doc, order, order.index(gold))


class PermutedDocs:
    """A `process_docs`: the original's (if any), then each doc's options permuted."""

    def __init__(self, original: Callable[[Any], Any] | None, seed: int):
        self.original = original
        self.seed = seed

    def __call__(self, dataset: Any) -> Any:
        docs = self.original(dataset) if self.original is not None else dataset
        if isinstance(docs, list):
            return [permute_doc(d, self.seed) for d in docs]
        # keep_in_memory: no cache file per seed and subject in the datasets cache
        return docs.map(lambda d: permute_doc(d, self.seed), keep_in_memory=True, load_from_cache_file=False)

    def __repr__(self) -> str:  # part of the task hash (gate.lmeval.results.config_hash): stable, no address
        return f"PermutedDocs(seed={self.seed}, original={getattr(self.original, '__qualname__', None)})"


def _refuse(suite_path: Path | None, task: str, why: str) -> ConfigError:
    return ConfigError(
        f"{suite_path or 'suite'}: tasks: {task}: contamination_probe: {why}; remove contamination_probe from this "
        "task (it works on multiple-choice tasks shaped like MMLU, ARC, HellaSwag or MMLU-Pro)"
    )


def check_probeable(task: LoadedTask, suite_path: Path | None) -> None:
    """ConfigError naming the suite file, task and field unless every leaf is multiple-choice of a known shape."""
    for name, leaf in task.leaves.items():
        kind = task.output_types()[name]
        if kind != "multiple_choice":
            raise _refuse(suite_path, task.name, f"'{name}' is a {kind} task, not multiple_choice")
        docs = leaf.eval_docs
        if len(docs) and doc_shape(docs[0]) is None:
            fields_ = ", ".join(sorted(docs[0]))
            raise _refuse(suite_path, task.name, f"'{name}' docs have no known option layout (fields {fields_})")


def companion_leaf(leaf: Any, seed: int) -> Any:
    """An lm-eval task: `leaf`'s config under the companion's name, with the permuting `process_docs`."""
    from lm_eval.api.task import ConfigurableTask

    cfg = leaf.config
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
    values["task"] = companion_name(cfg.task)
    values["process_docs"] = PermutedDocs(cfg.process_docs, seed)
    fs = cfg.fewshot_config
    if fs is not None and not isinstance(fs, dict):  # already a FewshotConfig: it no longer inherits
        values["fewshot_config"] = replace(fs, process_docs=PermutedDocs(fs.process_docs, seed))
    return ConfigurableTask(config=values)


def companion(task: LoadedTask, seed: int, suite_path: Path | None = None) -> LoadedTask:
    """The permuted companion of a loaded suite task: every leaf derived, aggregated as the original's group."""
    check_probeable(task, suite_path)
    leaves = {companion_name(name): companion_leaf(leaf, seed) for name, leaf in task.leaves.items()}
    groups = {companion_name(task.name): task.groups[task.name]} if task.name in task.groups else {}
    return LoadedTask(name=companion_name(task.name), leaves=leaves, groups=groups, manager=task.manager)
