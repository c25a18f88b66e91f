"""Evaluate a chunk of a task's item pool with exactly the prompts a run of the whole pool gives them.

lm-eval draws few-shot examples from a seeded generator in the order it builds requests, so the
prompt of an item depends on which other items are built with it. The early verdict
(`gate.run.early`) evaluates a pool in chunks: each chunk builds (or loads from the request cache)
the requests of the whole pool, and keeps only its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gate.lmeval.request_cache import RequestCache, install_template_cache, reuse_requests


def pool_requests(pool: dict[str, list[int]], cache: RequestCache) -> Callable[[list[Any]], None]:
    """A `prepare_tasks` hook: build (or load) the requests of each leaf's whole pool, evaluate only the chunk's.

    lm-eval numbers the docs of `samples=` by position among the chosen docs (ascending dataset
    index), so the pool's instances are renumbered to their position in the chunk.

    Written against lm-eval 0.4.13: it replaces the task object's `build_all_requests` (which
    `evaluate` calls with `samples=` among its keyword arguments), reads each Instance's
    `metadata = (task, doc_id, repeats)` and `doc_id`, and sets the private `task._instances`, the
    list the `instances` property returns and `evaluate` runs.
    """

    def prepare(tasks: list[Any]) -> None:
        install_template_cache()
        for task in tasks:
            reuse_requests(task, cache)
            build = task.build_all_requests
            ids = sorted(pool[task.task_name])

            def build_chunk(*, build=build, task=task, ids=ids, **kwargs: Any) -> None:
                at = {doc: k for k, doc in enumerate(sorted(kwargs.get("samples") or ()))}
                build(**{**kwargs, "samples": ids})  # the pool's prompts, exactly as a full run builds them
                chunk = []
                for inst in task.instances:
                    k = at.get(ids[inst.doc_id])
                    if k is not None:
                        meta = (inst.metadata[0], k, *inst.metadata[2:])
                        chunk.append(replace(inst, metadata=meta, resps=[], filtered_resps={}))
                task._instances = chunk

            task.build_all_requests = build_chunk

    return prepare
