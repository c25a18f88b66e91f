"""Which checkpoints the logged gate runs measured, and their task scores (`gate correlate` reads these).

A checkpoint is one weights fingerprint: its runs of several suites (a general one, a domain one)
together give its scores; a task run more than once counts with its newest run. The kind of each task
(general or domain) is in the record, so each matching run's `record.json` is read back and checked
like any record.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gate.correlation import CheckpointScores, TaskPoint
from gate.errors import ConfigError, StoreUnavailable
from gate.record import loads
from gate.store.baselines import RECORD_ARTIFACT, SHA_TAG, sha256_hex
from gate.store.tracking import _SUITE_RE, DEFAULT_EXPERIMENT, Store

MAX_RUNS = 1000


@dataclass(frozen=True)
class RunFilter:
    """Which logged runs count: an experiment, a start-time window (UTC) and suite names (none: all)."""

    experiment: str = DEFAULT_EXPERIMENT
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    suites: tuple[str, ...] = ()

    def describe(self) -> str:
        out = f"experiment '{self.experiment}'"
        if self.since:
            out += f", runs from {self.since.isoformat(timespec='seconds')}"
        if self.until:
            out += f", runs before {self.until.isoformat(timespec='seconds')}"
        if self.suites:
            out += ", suites " + ", ".join(self.suites)
        return out


def _ms(t: datetime) -> int:
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def checkpoint_scores(store: Store, flt: RunFilter) -> list[CheckpointScores]:
    """The checkpoints of the complete gate runs matching `flt`, oldest first, each with its task scores."""
    for s in flt.suites:
        if not _SUITE_RE.match(s):
            raise ConfigError(f"--suite {s!r}: not a suite name (letters, digits, '_', '.' or '-'), e.g. --suite fast")
    if flt.since and flt.until and _ms(flt.until) <= _ms(flt.since):
        raise ConfigError("--until: must be later than --since")
    with store._guard("reading runs"):
        exp = store.client.get_experiment_by_name(flt.experiment)
        if exp is None:
            return []
        filters = ["attributes.status = 'FINISHED'"]
        if flt.since:
            filters.append(f"attributes.start_time >= {_ms(flt.since)}")
        if flt.until:
            filters.append(f"attributes.start_time < {_ms(flt.until)}")
        runs = store.client.search_runs(
            [exp.experiment_id], " and ".join(filters), order_by=["attributes.start_time DESC"], max_results=MAX_RUNS
        )
        runs = [
            r
            for r in runs
            if SHA_TAG in r.data.tags and (not flt.suites or r.data.tags.get("gate.suite") in flt.suites)
        ]
        found: dict[str, dict[str, TaskPoint]] = {}
        meta: dict[str, tuple[str, str]] = {}
        with tempfile.TemporaryDirectory(prefix="gate-correlate-") as d:
            for r in runs:  # newest first: a task's first value seen is its newest
                run_id = r.info.run_id
                path = Path(store.client.download_artifacts(run_id, RECORD_ARTIFACT, f"{d}/{run_id}"))
                data = path.read_bytes()
                if sha256_hex(data) != r.data.tags[SHA_TAG]:
                    raise StoreUnavailable(
                        f"MLflow run {run_id}: its {RECORD_ARTIFACT} changed after it was logged; do not trust it"
                    )
                record = loads(data.decode("utf-8"), f"MLflow run {run_id}/{RECORD_ARTIFACT}")
                fp = record.model.fingerprint
                started = datetime.fromtimestamp(r.info.start_time / 1000, UTC).isoformat(timespec="seconds")
                meta.setdefault(fp, (record.model.id, started))
                tasks = found.setdefault(fp, {})
                for t in record.tasks:
                    if t.status == "ok" and t.value is not None and t.name not in tasks:
                        tasks[t.name] = TaskPoint(t.name, t.kind, t.metric, t.higher_is_better, t.value, run_id)
    out = [CheckpointScores(fp, meta[fp][0], meta[fp][1], tuple(tasks.values())) for fp, tasks in found.items()]
    return sorted(out, key=lambda c: c.started_at)
