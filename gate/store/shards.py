"""Shard records passed between the runners of one workflow run, through MLflow.

The runners of a workflow's shard matrix share no disk, and the workflow keeps no artifacts it reads
back; every runner reaches the MLflow server. So each shard job logs its shard record (`gate run
--shard`'s) as the artifact `shard.json` of a run in its own experiment, `checkpoint-gate-shards`,
tagged with the exchange (repository, workflow run, stage), the attempt and the shard's index; the
stage's merge job reads back all N.

A shard run is a distinct kind of run, never a checkpoint's scores: it lives in another experiment,
logs no metrics, and carries no `gate.record_sha256` tag, which every reader of gate runs (history,
`correlate`, freezes, trends) requires. Its completion tag is its own, `gate.shard.sha256`, set last.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import RunTag

from gate.errors import ConfigError, EvalFailed, StoreUnavailable
from gate.record import EvalRecord, dumps, loads
from gate.store.baselines import sha256_hex
from gate.store.keys import safe_uri
from gate.store.tracking import Store

SHARD_EXPERIMENT = "checkpoint-gate-shards"
SHARD_ARTIFACT = "shard.json"
EXCHANGE_TAG = "gate.shard.exchange"
ATTEMPT_TAG = "gate.shard.attempt"
INDEX_TAG = "gate.shard.index"
COUNT_TAG = "gate.shard.count"
SHARD_SHA_TAG = "gate.shard.sha256"
KIND_TAG = "gate.kind"
MAX_SHARD_RUNS = 1000

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_STAGE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ExchangeKey:
    """Which shards belong together: one stage of one workflow run of one repository, at an attempt.

    Checked to be plain names and numbers: the key goes into an MLflow filter string.
    """

    repository: str  # owner/name
    run_id: str  # the workflow run's id (GITHUB_RUN_ID)
    attempt: int  # GITHUB_RUN_ATTEMPT: a re-run of failed jobs keeps the run id and counts up
    stage: str

    def __post_init__(self) -> None:
        if not _REPO_RE.match(self.repository):
            raise ConfigError(f"GITHUB_REPOSITORY {self.repository!r}: expected owner/name")
        if not self.run_id.isdigit():
            raise ConfigError(f"GITHUB_RUN_ID {self.run_id!r}: expected the workflow run's number")
        if self.attempt < 1:
            raise ConfigError(f"GITHUB_RUN_ATTEMPT {self.attempt!r}: expected 1 or more")
        if not _STAGE_RE.match(self.stage):
            raise ConfigError(f"stage {self.stage!r}: expected a name such as fast or full")

    @property
    def tag(self) -> str:
        return f"{self.repository}#{self.run_id}:{self.stage}"

    def describe(self) -> str:
        return f"the {self.stage} stage of workflow run {self.run_id} of {self.repository}"


def log_shard(store: Store, record: EvalRecord, key: ExchangeKey) -> str:
    """Log a shard record for the stage's merge job; returns the MLflow run id."""
    if record.shard is None:
        raise ConfigError("the record to hand over holds a whole run, not a shard (gate run --shard I/N)")
    data = dumps(record).encode()
    tags = {
        KIND_TAG: "shard",
        EXCHANGE_TAG: key.tag,
        ATTEMPT_TAG: str(key.attempt),
        INDEX_TAG: str(record.shard.index),
        COUNT_TAG: str(record.shard.count),
    }
    with store._guard("logging the shard record"):
        exp_id = store._experiment_id(SHARD_EXPERIMENT)
        name = f"{key.stage} shard {record.shard.index}/{record.shard.count} of run {key.run_id}"
        run_id = store.client.create_run(exp_id, run_name=name, tags=tags).info.run_id
    try:
        with store._guard(f"logging shard run {run_id}"):
            with tempfile.TemporaryDirectory(prefix="gate-shard-") as d:
                Path(d, SHARD_ARTIFACT).write_bytes(data)
                store.client.log_artifacts(run_id, d)
            # Last: a shard run with this tag holds its whole record.
            store.client.log_batch(run_id, tags=[RunTag(SHARD_SHA_TAG, sha256_hex(data))])
            store.client.set_terminated(run_id, "FINISHED")
    except StoreUnavailable:
        store._mark_failed(run_id)
        raise
    return run_id


@dataclass(frozen=True)
class ShardRun:
    index: int
    attempt: int
    run_id: str
    sha256: str


def find_shards(store: Store, key: ExchangeKey, count: int) -> list[ShardRun]:
    """The complete shard run of each index 1..count, from the newest attempt up to `key.attempt` that has
    it (a re-run of failed jobs re-runs only those shards). EvalFailed (exit 3), one line, when a shard
    is missing or an attempt logged one shard twice."""
    with store._guard("reading the shard runs"):
        exp = store.client.get_experiment_by_name(SHARD_EXPERIMENT)
        runs = []
        if exp is not None:
            flt = f"attributes.status = 'FINISHED' and tags.`{EXCHANGE_TAG}` = '{key.tag}'"
            runs = store.client.search_runs([exp.experiment_id], flt, max_results=MAX_SHARD_RUNS)
    found: dict[int, list[ShardRun]] = {}
    for r in runs:
        tags = r.data.tags
        if SHARD_SHA_TAG not in tags or tags.get(COUNT_TAG) != str(count):
            continue  # unfinished, or a run with another shard count: not this matrix's
        attempt = int(tags[ATTEMPT_TAG])
        if attempt <= key.attempt:
            run = ShardRun(int(tags[INDEX_TAG]), attempt, r.info.run_id, tags[SHARD_SHA_TAG])
            found.setdefault(run.index, []).append(run)
    missing = [i for i in range(1, count + 1) if i not in found]
    if missing:
        shards = ", ".join(f"{i}/{count}" for i in missing)
        raise EvalFailed(
            f"shard(s) {shards} of {key.describe()} are not in MLflow {safe_uri(store.tracking_uri)}: "
            "their job failed or did not run; re-run the failed jobs"
        )
    out = []
    for i in range(1, count + 1):
        newest = max(r.attempt for r in found[i])
        same = [r for r in found[i] if r.attempt == newest]
        if len(same) > 1:
            runs_ = ", ".join(sorted(r.run_id for r in same))
            raise EvalFailed(
                f"shard {i}/{count} of {key.describe()} was logged twice in attempt {newest} "
                f"(MLflow runs {runs_}); re-run the workflow"
            )
        out.append(same[0])
    return out


def load_shards(store: Store, key: ExchangeKey, count: int) -> list[tuple[str, EvalRecord]]:
    """Every shard record of the stage, each `(where, record)` as `gate.run.shards.merge_shards` takes them."""
    runs = find_shards(store, key, count)
    return [(f"MLflow shard run {r.run_id}", _read(store, r, count)) for r in runs]


def _read(store: Store, run: ShardRun, count: int) -> EvalRecord:
    where = f"MLflow shard run {run.run_id}/{SHARD_ARTIFACT}"
    with store._guard(f"reading shard run {run.run_id}"), tempfile.TemporaryDirectory(prefix="gate-shard-") as d:
        data = Path(store.client.download_artifacts(run.run_id, SHARD_ARTIFACT, d)).read_bytes()
    if sha256_hex(data) != run.sha256:
        raise StoreUnavailable(f"{where}: changed after it was logged ({SHARD_SHA_TAG} differs); do not trust it")
    record = loads(data.decode("utf-8"), where)
    if record.shard is None or (record.shard.index, record.shard.count) != (run.index, count):
        got = f"{record.shard.index}/{record.shard.count}" if record.shard else "a whole run"
        raise EvalFailed(f"{where}: holds {got}, not shard {run.index}/{count} as its tags say")
    return record
