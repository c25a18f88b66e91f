"""The one boundary with lm-eval's output format.

lm-eval reports metrics under keys like "acc,none" and "acc_stderr,none" and logs samples as
dicts; this module turns one leaf task's share of that into frozen dataclasses (`LeafResult`, with
an `ItemOutcome` and a `Sample` per document). Past here no code indexes by those strings or reads
lm-eval's sample dicts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gate.errors import ConfigError, EvalFailed
from gate.item_text import pack
from gate.record import GenerationSettings, ItemOutcome

EXCERPT_CHARS = 300
PREDICTION_CHARS = 200

# Config fields that say where the data came from, not what is measured: the per-item doc hash
# already covers the data, and the same task read from the hub or a data dir must hash alike.
_UNHASHED_CONFIG = ("dataset_path", "dataset_name", "dataset_kwargs", "metadata")


@dataclass(frozen=True)
class Sample:
    """One evaluated document as domain scoring reads it (`gate.domain.cases`, `gate.domain.judge`)."""

    doc_id: int  # the document's index in the task's evaluation split
    doc: Mapping[str, Any]  # the dataset row: a domain case's id, category, severity, user_input, ...
    response: str  # the model's first response after the task's filter, whole
    metrics: Mapping[str, float]  # lm-eval's per-item metrics that are single numbers, by name


@dataclass(frozen=True)
class LeafResult:
    """One leaf task of one lm-eval run."""

    name: str
    value: float
    stderr: float | None
    higher_is_better: bool
    output_type: str
    task_hash: str
    items: tuple[ItemOutcome, ...]
    chance: float | None
    generation: GenerationSettings | None
    samples: tuple[Sample, ...]  # in lm-eval's order, for domain scoring


def _num(x: Any) -> float | None:
    if x is None or x == "N/A":
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _stable_repr(obj: Any) -> str:
    # Functions in a task config (process_docs, doc_to_text) print with their memory address,
    # which differs in every process; name them by module and qualified name instead.
    if callable(obj):
        return f"<callable {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}>"
    return _ADDRESS.sub("", str(obj))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def config_hash(config: dict[str, Any], version: Any, lm_eval_version: str) -> str:
    kept = {k: v for k, v in config.items() if k not in _UNHASHED_CONFIG}
    blob = json.dumps(
        {"config": kept, "version": version, "lm_eval": lm_eval_version}, sort_keys=True, default=_stable_repr
    )
    return "sha256:" + hashlib.sha256(_ADDRESS.sub("", blob).encode()).hexdigest()


def _item_score(sample: dict[str, Any], metric: str, leaf: str) -> float:
    if metric not in sample:
        raise ConfigError(
            f"task '{leaf}': metric '{metric}' is not produced per item; it has {', '.join(sample['metrics'])}"
        )
    v = sample[metric]
    if isinstance(v, list | tuple):  # e.g. IFEval's instruction-level accuracy: one bool per instruction
        return sum(float(x) for x in v) / len(v) if v else 0.0
    if isinstance(v, bool | int | float):
        return float(v)
    raise ConfigError(f"task '{leaf}': metric '{metric}' gives {type(v).__name__} per item; choose a numeric metric")


def _answer(sample: dict[str, Any], output_type: str, metric: str = "acc", delimiter: str = " ") -> str:
    """The answer the task's metric scored: for multiple choice, the choice its argmax picked (`acc_norm`
    divides each log-likelihood by the choice's length in characters, as lm-eval 0.4.13's
    `ConfigurableTask.process_results` does; `acc` takes the raw log-likelihood)."""
    resps = sample.get("filtered_resps") or []
    if output_type == "multiple_choice" and resps and isinstance(resps[0], list | tuple):
        args = sample["arguments"]
        # lm-eval appends unconditional requests for acc_mutual_info: only the first len(choices) count.
        choices = [str(a[1]) for a in args][: len(resps)]
        choices = [c[len(delimiter) :] if delimiter and c.startswith(delimiter) else c for c in choices]
        lls = [float(r[0]) for r in resps][: len(choices)]
        if metric == "acc_norm":
            lls = [ll / max(1.0, float(len(c))) for ll, c in zip(lls, choices, strict=True)]
        best = max(range(len(lls)), key=lls.__getitem__)
        return choices[best].strip()
    if resps:
        return str(resps[0])
    return ""


def _prediction(sample: dict[str, Any], output_type: str, metric: str = "acc", delimiter: str = " ") -> str:
    """The answer, cut for display (the whole one goes into `ItemOutcome.full`)."""
    return _answer(sample, output_type, metric, delimiter)[:PREDICTION_CHARS]


def _item(
    s: dict[str, Any], score: float, group: str | None, output_type: str, metric: str, delimiter: str
) -> ItemOutcome:
    context = str(s["arguments"][0][0]) if s["arguments"] else ""
    answer = _answer(s, output_type, metric, delimiter)
    cut = len(context) > EXCERPT_CHARS or len(answer) > PREDICTION_CHARS
    return ItemOutcome(
        doc_id=int(s["doc_id"]),
        score=score,
        doc_hash=s["doc_hash"],
        prompt_hash=s["prompt_hash"],
        group=group,
        excerpt=context[-EXCERPT_CHARS:],
        prediction=answer[:PREDICTION_CHARS],
        full=pack(context, answer) if cut else "",  # kept whole, compressed, only where the cut lost text
    )


def _sample(s: dict[str, Any]) -> Sample:
    resp = s.get("filtered_resps") or s.get("resps") or [""]
    while isinstance(resp, list | tuple):  # one entry per request, and unfiltered ones nest a list per request
        resp = resp[0] if resp else ""
    metrics = {}
    for name in s.get("metrics", ()):
        try:
            metrics[name] = float(s[name])
        except (TypeError, ValueError):
            continue  # e.g. IFEval's list of instruction verdicts: not one number
    return Sample(doc_id=int(s["doc_id"]), doc=s.get("doc") or {}, response=str(resp), metrics=metrics)


def pooled_stderr(stderrs: list[float], sizes: list[int]) -> float:
    """The standard error lm-eval gives a size-weighted group mean, from its subtasks' errors and sizes."""
    from lm_eval.api.metrics import pooled_sample_stderr

    return float(pooled_sample_stderr(stderrs, sizes))


def parse_leaf(results: dict[str, Any], leaf: str, metric: str, filter_name: str, group: str | None) -> LeafResult:
    """Typed view of one leaf task in the dict `simple_evaluate` returned."""
    res = results["results"].get(leaf)
    if res is None:
        raise EvalFailed(f"task '{leaf}': lm-eval returned no results for it")
    key = f"{metric},{filter_name}"
    if key not in res:
        have = sorted(k for k in res if "," in k and "_stderr" not in k)
        raise ConfigError(f"task '{leaf}': lm-eval reports no metric '{key}'; it reports {', '.join(have)}")
    config = results["configs"][leaf]
    output_type = config.get("output_type", "")
    samples = [s for s in results["samples"].get(leaf, []) if s.get("filter") == filter_name]
    delimiter = str(config.get("target_delimiter", " "))
    items = [_item(s, _item_score(s, metric, leaf), group, output_type, metric, delimiter) for s in samples]
    chance = None
    if output_type == "multiple_choice" and samples:
        chance = sum(1.0 / len(s["arguments"]) for s in samples) / len(samples)
    generation = None
    if output_type == "generate_until":
        g = config.get("generation_kwargs") or {}
        until = g.get("until") or []
        generation = GenerationSettings(
            max_gen_toks=g.get("max_gen_toks"),
            until=tuple([until] if isinstance(until, str) else until),
            do_sample=bool(g.get("do_sample", False)),
            temperature=_num(g.get("temperature")),
        )
    hib = results["higher_is_better"].get(leaf, {}).get(metric)
    if hib is None:
        raise ConfigError(
            f"task '{leaf}': lm-eval does not say whether higher '{metric}' is better; choose another metric"
        )
    return LeafResult(
        name=leaf,
        value=float(res[key]),
        stderr=_num(res.get(f"{metric}_stderr,{filter_name}")),
        higher_is_better=bool(hib),
        output_type=output_type,
        task_hash=config_hash(config, results["versions"].get(leaf), results.get("lm_eval_version", "")),
        items=tuple(sorted(items, key=lambda i: i.doc_id)),
        chance=chance,
        generation=generation,
        samples=tuple(_sample(s) for s in samples),
    )
