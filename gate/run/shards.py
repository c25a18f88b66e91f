"""Shards of one run across runners: `gate run --shard I/N` and `gate merge`.

A shard evaluates a deterministic share of every task's items: the task's item pool (all items, a
seeded sample or a record's items, exactly as an unsharded run chooses them) dealt out in turn, leaf
by leaf, so every group (e.g. MMLU subject) is spread evenly over the shards. Each item keeps the
prompt the unsharded run gives it: lm-eval draws few-shot examples in the order it builds requests,
so a shard builds the whole pool's requests and evaluates only its own (`gate.lmeval.chunks`, the
early verdict's request build). `merge_shards` combines the shards' results with the one chunk merge
(`gate.run.merge`) after checking that they are the shards of one run: same checkpoint, suite,
settings and versions, every shard once, no item twice, every item of the pool.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from gate.config import Suite
from gate.domain.cases import ScoredTask, judge_missing
from gate.errors import ConfigError, DataMissing
from gate.lmeval.chunks import pool_requests
from gate.lmeval.request_cache import RequestCache, default_cache_dir
from gate.lmeval.tasks import load_task
from gate.record import EvalRecord, ShardInfo, ShardTask, TaskResult, Timing
from gate.run.merge import merge_results, require_mean
from gate.run.models import LoadedModel
from gate.run.runner import RunOptions, build_record, measure_task, run_task, sample_note, select_items

MERGE_NEEDS = "shards merge only such tasks (run it unsharded)"


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, as a workflow matrix counts)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`I/N` as a Shard; anything else is a ConfigError saying the form."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise ConfigError(f"--shard: {text!r} is not I/N; give e.g. --shard 1/3 (the first of three shards)")
    index, count = int(m[1]), int(m[2])
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard: {text!r}: I must be 1..N and N at least 1; give e.g. --shard 1/3")
    return Shard(index, count)


def share(pool: dict[str, list[int]], shard: Shard) -> dict[str, list[int]]:
    """This shard's doc ids of each leaf: the pool's items in order (leaf by leaf, ascending ids) dealt in turn.

    Dealt across leaf boundaries, so shards differ by at most one item overall and each leaf's items
    spread evenly over the shards.
    """
    out: dict[str, list[int]] = {}
    k = 0
    for leaf, ids in pool.items():
        mine = []
        for d in sorted(ids):
            if k % shard.count == shard.index - 1:
                mine.append(d)
            k += 1
        out[leaf] = mine
    return out


def pool_digest(pool: dict[str, list[int]]) -> str:
    """sha256 of a pool's doc ids per leaf, whatever their order."""
    blob = json.dumps({leaf: sorted(ids) for leaf, ids in pool.items() if ids}, sort_keys=True)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _shard_task(
    loaded: LoadedModel, suite: Suite, spec, opts: RunOptions, shard: Shard, cache: RequestCache
) -> tuple[TaskResult, ShardTask | None]:
    try:
        sizes = load_task(spec, suite, opts.data_dir).sizes()
    except DataMissing:
        if not spec.optional:
            raise
        return run_task(loaded, suite, spec, opts), None  # skipped in every shard alike
    if judge_missing(spec, opts.judge) is not None:
        return run_task(loaded, suite, spec, opts), None
    pool = {leaf: ids for leaf, ids in select_items(spec, sizes, opts).doc_ids.items() if ids}
    mine = share(pool, shard)
    total = sum(len(v) for v in pool.values())
    if not any(mine.values()):
        raise ConfigError(
            f"--shard {shard}: task '{spec.task}' has {total} item(s), fewer than {shard.count} shards; "
            "use fewer shards"
        )
    short = sample_note(spec, sizes, opts)
    if short and opts.progress:
        opts.progress(f"warning: {spec.task}: {short}")
    scored: ScoredTask = measure_task(
        loaded, suite, spec, replace(opts, doc_ids={spec.task: mine}, prepare_tasks=pool_requests(pool, cache))
    )
    result = scored.result
    require_mean(result, spec.metric, MERGE_NEEDS)
    if short:  # the whole pool's note, as the unsharded run records it
        result = replace(result, notes=(*result.notes, short))
    info = ShardTask(
        task=spec.task,
        pool={leaf: len(ids) for leaf, ids in pool.items()},
        pool_digest=pool_digest(pool),
        leaf_hashes=dict(scored.leaf_hashes),
        cases=scored.cases,
    )
    return result, info


def run_shard(
    loaded: LoadedModel, suite: Suite, opts: RunOptions, shard: Shard, cache: RequestCache | None = None
) -> EvalRecord:
    """This shard's share of every task of the suite, as a record marked with the shard (`EvalRecord.shard`)."""
    cache = cache or RequestCache(default_cache_dir())
    start = time.perf_counter()
    tasks, infos = [], []
    for spec in suite.tasks:
        result, info = _shard_task(loaded, suite, spec, opts, shard, cache)
        tasks.append(result)
        if info is not None:
            infos.append(info)
    record = build_record(loaded, suite, tasks, time.perf_counter() - start, opts)
    return replace(record, shard=ShardInfo(index=shard.index, count=shard.count, tasks=tuple(infos)))


def _differs(path: str, a: object, b: object, src: str, ref: str, why: str) -> ConfigError:
    return ConfigError(f"{src}: {path}: {a!r} differs from {ref}'s {b!r}; {why}")


def _same(src: str, rec: EvalRecord, ref_src: str, ref: EvalRecord) -> None:
    """ConfigError naming the first field where `rec` is not a shard of the same run as `ref`."""
    checks = [
        ("model", asdict(rec.model), asdict(ref.model), "shards of different checkpoints or settings do not merge"),
        ("suite", asdict(rec.suite), asdict(ref.suite), "shards of different suites do not merge"),
        ("versions", asdict(rec.versions), asdict(ref.versions), "shards run by different versions do not merge"),
        ("sampling", asdict(rec.sampling), asdict(ref.sampling), "shards of different samples do not merge"),
    ]
    if rec.setup is not None or ref.setup is not None:  # the merged record holds one setup: the shards' own
        same_setup = "shards run on different setups do not merge (run every shard alike)"
        checks.append(
            ("setup", asdict(rec.setup) if rec.setup else {}, asdict(ref.setup) if ref.setup else {}, same_setup)
        )
    for part, a, b, why in checks:
        for key in b:
            if a.get(key) != b[key]:
                raise _differs(f"{part}.{key}", a.get(key), b[key], src, ref_src, why)
    assert rec.shard is not None and ref.shard is not None
    if rec.shard.count != ref.shard.count:
        raise _differs("shard.count", rec.shard.count, ref.shard.count, src, ref_src, "shards of one run share N")
    if rec.task_names() != ref.task_names():
        raise _differs("tasks", rec.task_names(), ref.task_names(), src, ref_src, "shards of one run have its tasks")
    for j, (t, u) in enumerate(zip(rec.tasks, ref.tasks, strict=True)):
        for key in ("kind", "metric", "num_fewshot", "output_type", "status", "generation", "higher_is_better"):
            if getattr(t, key) != getattr(u, key):
                raise _differs(
                    f"tasks.{j} ({t.name}).{key}", getattr(t, key), getattr(u, key), src, ref_src, "different settings"
                )
    pools = {p.task: p for p in ref.shard.tasks}
    for p in rec.shard.tasks:
        q = pools.get(p.task)
        if q is None or p.pool_digest != q.pool_digest:
            raise _differs(
                f"shard.tasks ({p.task}).pool_digest",
                p.pool_digest,
                q.pool_digest if q else None,
                src,
                ref_src,
                "the shards chose different items (--sample, --seed, --items-from or the data differ)",
            )


def merge_shards(shards: Sequence[tuple[str, EvalRecord]]) -> EvalRecord:
    """The shards of one run (each `(file, record)`) as the record of the unsharded run.

    Every failure is a ConfigError naming the file and the field: a record that is not a shard,
    shards of different checkpoints, suites, settings, versions, samples or shard counts, a shard
    missing or given twice, an item in two shards, or items missing from the pool.
    """
    if not shards:
        raise ConfigError("gate merge: no shards given; pass every shard record of the run")
    for src, rec in shards:
        if rec.shard is None:
            raise ConfigError(f"{src}: shard: none; this is a whole run's record, not a shard (gate run --shard I/N)")
    ref_src, ref = shards[0]
    assert ref.shard is not None
    seen: dict[int, str] = {}
    for src, rec in shards:
        _same(src, rec, ref_src, ref)
        assert rec.shard is not None
        if rec.shard.index in seen:
            raise ConfigError(
                f"{src}: shard.index: shard {rec.shard.index}/{rec.shard.count} is also {seen[rec.shard.index]}; "
                "pass each shard once"
            )
        seen[rec.shard.index] = src
    missing = sorted(set(range(1, ref.shard.count + 1)) - set(seen))
    if missing:
        raise ConfigError(
            f"{ref_src}: shard.count: the run has {ref.shard.count} shards but shard(s) "
            f"{', '.join(map(str, missing))} are not given; pass every shard"
        )
    tasks = [_merge_task(j, shards) for j in range(len(ref.tasks))]
    wall = max(rec.timing.wall_seconds for _, rec in shards)  # shards run side by side
    n_items = sum(t.n for t in tasks)
    return replace(
        ref,
        tasks=tuple(tasks),
        timing=Timing(wall_seconds=wall, items_per_second=round(n_items / wall, 3) if wall > 0 else 0.0),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        mlflow_run_id=None,
        digest=None,
        shard=None,
        setup=replace(ref.setup, shards=ref.shard.count) if ref.setup is not None else None,
    )


def _merge_task(j: int, shards: Sequence[tuple[str, EvalRecord]]) -> TaskResult:
    results = [(src, rec.tasks[j]) for src, rec in shards]
    first = results[0][1]
    if first.status != "ok":
        return first  # skipped alike in every shard (`_same` checked the status)
    infos = [next(p for p in rec.shard.tasks if p.task == first.name) for _, rec in shards]  # type: ignore[union-attr]
    pool = infos[0]
    only = next(iter(pool.pool)) if len(pool.pool) == 1 else first.name  # a task that is no group: its one leaf
    owner: dict[tuple[str, int], str] = {}
    leaf_hashes: dict[str, str] = {}
    field = f"tasks.{j} ({first.name})"
    for (src, t), info in zip(results, infos, strict=True):
        require_mean(t, t.metric, MERGE_NEEDS)
        for it in t.items:
            key = (it.group or only, it.doc_id)
            if key in owner:
                raise ConfigError(
                    f"{src}: {field}.items: doc {it.doc_id} of '{key[0]}' is also in {owner[key]}; shards overlap"
                )
            owner[key] = src
        for leaf, h in info.leaf_hashes.items():
            if leaf_hashes.setdefault(leaf, h) != h:
                raise ConfigError(f"{src}: shard.tasks ({first.name}).leaf_hashes.{leaf}: differs from another shard's")
    ids: dict[str, list[int]] = {}
    for leaf, d in owner:
        ids.setdefault(leaf, []).append(d)
    if pool_digest(ids) != pool.pool_digest:
        raise ConfigError(
            f"{shards[0][0]}: {field}.items: the shards hold {len(owner)} items, not the run's "
            f"{sum(pool.pool.values())} (or not the same ones); pass every shard of one run"
        )
    parts = [ScoredTask(t, info.cases) for (_, t), info in zip(results, infos, strict=True)]
    merged = merge_results(parts, n_requested=sum(pool.pool.values()), early_stop=None, leaf_hashes=leaf_hashes)
    # the unsharded run's order: leaf by leaf as its pool lists them, ascending doc ids within each
    order = {leaf: k for k, leaf in enumerate(pool.pool)}
    items = tuple(sorted(merged.items, key=lambda i: (order[i.group or only], i.doc_id)))
    subtasks = tuple(leaf for leaf in pool.pool if leaf in ids) if merged.subtasks else ()
    return replace(merged, items=items, subtasks=subtasks)
