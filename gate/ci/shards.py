"""A stage spread over a matrix of runners (`GATE_SHARDS`): each shard job evaluates its share and hands
its shard record over through MLflow (`gate.store.shards`); the stage's merge job reads back all N,
merges them into the unsharded run's record and decides as one runner would (`gate.ci.stage.run_stage`).

The shards of one stage are found by the workflow run that made them (repository, run id, attempt,
stage), read from the Actions environment: never by checkpoint, so another run's shards are never
merged into this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gate.errors import ConfigError

if TYPE_CHECKING:
    from gate.ci.stage import StageRequest
    from gate.record import EvalRecord
    from gate.store.shards import ExchangeKey

MAX_SHARDS = 64  # a matrix of more runners than this is a typo, not a plan


def parse_count(text: str, source: str = "GATE_SHARDS") -> int:
    """The shard count of a repository variable or option: empty is 1 (one runner, the default)."""
    t = (text or "").strip()
    if not t:
        return 1
    if not t.isdigit() or not 1 <= int(t) <= MAX_SHARDS:
        raise ConfigError(f"{source} {text!r}: expected a whole number of runners, 1 to {MAX_SHARDS}; e.g. 2")
    return int(t)


def exchange_key(environ: Mapping[str, str], stage: str) -> ExchangeKey:
    """This workflow run's key for the stage's shards, from GitHub Actions' environment."""
    from gate.store.shards import ExchangeKey

    missing = [k for k in ("GITHUB_REPOSITORY", "GITHUB_RUN_ID") if not environ.get(k)]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)}: not set; sharded stages find each other's records by the workflow run "
            "(run them under GitHub Actions, or use `gate run --shard` and `gate merge` by hand)"
        )
    attempt = environ.get("GITHUB_RUN_ATTEMPT") or "1"
    if not attempt.isdigit():
        raise ConfigError(f"GITHUB_RUN_ATTEMPT {attempt!r}: expected a number")
    return ExchangeKey(environ["GITHUB_REPOSITORY"], environ["GITHUB_RUN_ID"], int(attempt), stage)


@dataclass(frozen=True)
class ShardHandover:
    """What a shard job did: its shard, its items, and the MLflow run the merge job reads."""

    shard: str  # I/N
    items: int
    run_id: str
    path: Path


def run_stage_shard(
    req: StageRequest, shard: str, environ: Mapping[str, str], progress: Callable[[str], None] | None = None
) -> ShardHandover:
    """Evaluate shard I/N of the stage's suite and log the shard record for the merge job.

    Everything that can be wrong before the model loads (the pointer, the suite, the shard, the
    workflow's environment, MLflow) fails first. Floors and the diff are the merge job's: a shard
    holds part of each task.
    """
    from gate.config import load_suite
    from gate.config.checkpoint import load_checkpoint
    from gate.run.models import cache_dir
    from gate.run.pipeline import RunRequest, evaluate_checkpoint
    from gate.run.shards import parse_shard
    from gate.store.shards import log_shard
    from gate.store.tracking import Store

    ck = load_checkpoint(req.pointer)
    suite = load_suite(req.suite)
    s = parse_shard(shard)
    key = exchange_key(environ, req.stage)
    store = Store()
    store.check()
    req.out_dir.mkdir(parents=True, exist_ok=True)
    run = evaluate_checkpoint(
        RunRequest(
            spec=ck.spec,
            suite=suite,
            output=req.out_dir / f"{req.stage}.shard-{s.index}.json",
            data_dir=req.data_dir,
            sample=req.sample,
            seed=req.seed,
            overwrite=True,
            pointer=str(req.pointer),
            answer_cache=cache_dir() / "answers",
            shard=s,
        ),
        progress=progress,
    )
    run_id = log_shard(store, run.record, key)
    return ShardHandover(str(s), sum(t.n for t in run.record.tasks), run_id, run.path)


def merged_record(req: StageRequest, suite_hash: str, environ: Mapping[str, str]) -> EvalRecord:
    """The stage's record from its N shard jobs: read from MLflow, merged (checked to be one run's
    shards, `gate.run.shards.merge_shards`), saved and logged as the checkpoint's run."""
    from gate import record as records
    from gate.run.shards import merge_shards
    from gate.store.shards import load_shards
    from gate.store.tracking import Store

    key = exchange_key(environ, req.stage)
    store = Store()
    merged = records.seal(merge_shards(load_shards(store, key, req.shards)))
    out = req.out_dir / f"{req.stage}.json"
    if merged.suite.hash != suite_hash:  # the shard jobs ran another version of the suite than this job reads
        raise ConfigError(
            f"{req.suite}: the shards of {key.describe()} ran suite {merged.suite.name} with hash "
            f"{merged.suite.hash}, not this file's {suite_hash}; re-run the whole workflow"
        )
    records.check(merged, str(out))
    req.out_dir.mkdir(parents=True, exist_ok=True)
    records.save(merged, out, overwrite=True)  # on disk first, as an unsharded stage saves its record
    merged = store.log_record(merged, pointer=str(req.pointer))
    records.save(merged, out, overwrite=True)
    return merged
