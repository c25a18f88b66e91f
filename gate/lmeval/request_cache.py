"""Set a suite up once, reuse it for every checkpoint: built requests and compiled prompt templates.

The gate runs on every pushed checkpoint, but the requests of a suite (few-shot contexts,
continuations) depend on the suite, never on the model. `RequestCache` keeps the requests a task
built, keyed by everything they are a function of: the lm-eval version, the task's full config,
the content of its evaluation and few-shot documents, the state of its few-shot random generators,
and the build arguments (which docs, chat template or not). The key never includes the model, and
answers are never cached: a second checkpoint reuses the questions, not the previous answers.

Why not lm-eval's own `cache_requests=True`: its key is only
`requests-<task>-<n>shot-rank<r>-world_size<w>[-chat_template][-fewshot_as_multiturn]-tokenizer<name>`,
so a changed task YAML, a new lm-eval version, other data files or another few-shot seed all reuse
stale requests; on a hit it returns the first `limit` cached docs and ignores `samples=` (the doc ids
the gate asks for); and it stores dill pickles inside site-packages. (Its `--use_cache` answer cache is
keyed by request only and would return a previous model's answers.)

`install_template_cache()` memoises lm-eval's Jinja compilation: lm-eval compiles a prompt template
anew for every document and few-shot example (31k compilations for the fast stage at 20%), which was
most of its setup time. Rendering is unchanged, so prompts are byte-identical.

The task index (lm-eval's TaskManager read from disk) is in `gate.lmeval.task_index`; building a
pool's requests once and evaluating chunks of it (the early verdict) in `gate.lmeval.chunks`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from gate.files import atomic_write

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    base = os.environ.get("GATE_CACHE_DIR") or str(Path.home() / ".cache" / "checkpoint-gate")
    return Path(base) / "requests"


def install_template_cache(maxsize: int = 8192) -> None:
    """Make lm-eval compile each prompt template once per process (idempotent).

    A runtime patch written against lm-eval 0.4.13: it relies on every prompt being rendered through
    the module-level `lm_eval.utils.apply_template(template, doc)`, looked up at call time, with the
    Jinja environment `lm_eval.utils.env`.
    """
    import lm_eval.utils as lm_utils

    if getattr(lm_utils.apply_template, "_gate_cached", False):
        return
    compile_template = functools.lru_cache(maxsize=maxsize)(lm_utils.env.from_string)

    def apply_template(template: str, doc: dict) -> str:
        return compile_template(template).render(**doc)

    apply_template._gate_cached = True  # type: ignore[attr-defined]
    lm_utils.apply_template = apply_template


def _stable(obj: Any) -> Any:
    """A JSON-able form of a task config value that is the same in every process."""
    if isinstance(obj, dict):
        return {str(k): _stable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_stable(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    if callable(obj):
        try:
            src = inspect.getsource(obj)
        except (OSError, TypeError):
            src = ""
        name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
        return {"callable": name, "source": hashlib.sha256(src.encode()).hexdigest()}
    return {"type": type(obj).__name__, "repr": repr(obj)}


def _docs_hash(docs: Any) -> str:
    """sha256 of the documents' content: Arrow buffers for a `datasets.Dataset`, JSON for plain lists."""
    h = hashlib.sha256()
    table = _arrow_table(docs)
    if table is not None:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        h.update(b"arrow\0")
        h.update(memoryview(sink.getvalue()))
        return h.hexdigest()
    for d in docs if docs is not None else ():
        h.update(json.dumps(d, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def _arrow_table(docs: Any):
    """The rows of a `datasets.Dataset` as one Arrow table (its selection applied), or None for other docs."""
    try:
        import datasets
    except ImportError:
        return None
    if not isinstance(docs, datasets.Dataset):
        return None
    table = docs.data.table
    # `Dataset._indices` is private to `datasets` (read as lm-eval 0.4.13's tasks leave it): the index
    # mapping of a select/filter view, None for a plain table. With it, hash the rows the view shows, in its order.
    if docs._indices is not None:
        table = table.take(docs._indices.table.column(0))
    return table


def _rng_hash(rng: Any) -> str | None:
    if rng is None or not hasattr(rng, "getstate"):
        return None
    return hashlib.sha256(repr(rng.getstate()).encode()).hexdigest()


def request_key(task: Any, build_kwargs: dict[str, Any]) -> str | None:
    """The cache key of the requests `task.build_all_requests(**build_kwargs)` would build; None: do not cache.

    Requests rendered through a chat template depend on the model's tokenizer: they are not cached.
    """
    if build_kwargs.get("apply_chat_template") or build_kwargs.get("fewshot_as_multiturn"):
        return None
    sampler = getattr(task, "sampler", None)
    try:
        fewshot = task.fewshot_docs() if task.config.num_fewshot else None
    except (KeyError, ValueError):
        fewshot = None
    parts = {
        "format": CACHE_FORMAT,
        "lm_eval": version("lm_eval"),
        "config": _stable(task.dump_config()),
        "eval_docs": _docs_hash(task.eval_docs),
        "fewshot_docs": _docs_hash(fewshot),
        "fewshot_rng": _rng_hash(getattr(task, "fewshot_rnd", None)),
        "sampler_rng": _rng_hash(getattr(sampler, "rnd", None)),
        "build": _stable({k: v for k, v in build_kwargs.items() if k != "chat_template"}),
    }
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _encode(instances: list[Any]) -> dict[str, Any]:
    docs: list[Any] = []
    seen: dict[int, int] = {}
    rows = []
    for inst in instances:
        if id(inst.doc) not in seen:
            seen[id(inst.doc)] = len(docs)
            docs.append(inst.doc)
        rows.append(
            {
                "request_type": inst.request_type,
                "doc": seen[id(inst.doc)],
                "arguments": list(inst.args),
                "idx": inst.idx,
                "metadata": list(inst.metadata),
            }
        )
    return {"format": CACHE_FORMAT, "docs": docs, "instances": rows}


def _decode(payload: dict[str, Any]) -> list[Any]:
    from lm_eval.api.instance import Instance

    docs = payload["docs"]
    return [
        Instance(
            request_type=r["request_type"],
            doc=docs[r["doc"]],
            arguments=tuple(r["arguments"]),
            idx=r["idx"],
            metadata=tuple(r["metadata"]),
        )
        for r in payload["instances"]
    ]


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        x.request_type == y.request_type
        and x.args == y.args
        and x.idx == y.idx
        and tuple(x.metadata) == tuple(y.metadata)
        and x.doc == y.doc
        for x, y in zip(a, b, strict=True)
    )


@dataclass(frozen=True)
class RequestCache:
    """Built requests on disk, one JSON file per key (JSON, never pickle: loading it runs no code)."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> list[Any] | None:
        p = self.path(key)
        try:
            payload = json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if payload.get("format") != CACHE_FORMAT:
            return None
        return _decode(payload)

    def save(self, key: str, instances: list[Any]) -> bool:
        """Store the requests if they survive a JSON round trip unchanged; says whether they were stored."""
        try:
            text = json.dumps(_encode(instances))
        except (TypeError, ValueError):
            return False  # e.g. images in the docs: such tasks are simply rebuilt every time
        if not _same(_decode(json.loads(text)), instances):
            return False
        atomic_write(self.path(key), text)
        return True


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    uncacheable: int = 0


def reuse_requests(task: Any, cache: RequestCache, stats: CacheStats | None = None) -> None:
    """Make this task object take its built requests from `cache` when they are there, and store them when not.

    A seam on the one task object the gate built (its `build_all_requests` attribute), so lm-eval's
    `evaluate` runs unchanged around it.
    """
    build: Callable[..., None] = task.build_all_requests
    stats = stats if stats is not None else CacheStats()

    def build_all_requests(**kwargs: Any) -> None:
        key = request_key(task, kwargs)
        if key is None:
            stats.uncacheable += 1
            return build(**kwargs)
        cached = cache.load(key)
        if cached:
            stats.hits += 1
            # Written against lm-eval 0.4.13: `build_all_requests` stores its result in the private
            # `task._instances`, which the `instances` property returns; setting it is building them.
            task._instances = cached
            return None
        stats.misses += 1
        build(**kwargs)
        cache.save(key, task.instances)
        return None

    task.build_all_requests = build_all_requests


def reuse_hook(cache: RequestCache | None = None, stats: CacheStats | None = None) -> Callable[[list[Any]], None]:
    """A `RunOptions.prepare_tasks` hook: compiled templates once, and requests reused across checkpoints."""
    cache = cache or RequestCache(default_cache_dir())

    def prepare(tasks: list[Any]) -> None:
        install_template_cache()
        for t in tasks:
            reuse_requests(t, cache, stats)

    return prepare
