"""MLflow: the store, and a gate run logged into it.

A run holds the record's params (model, suite, versions, how it ran), one metric per task,
and the record itself as the artifact `record.json` (with its per-item outcomes, and split
per task under `items/`); its name, tags, item table and dataset inputs come from
`gate.store.story`. The run's tag `gate.record_sha256` is the hash of that artifact, set last,
so a run carrying it is a complete gate run; the record's own digest (`gate.record_checks`,
written by `gate run`) is the tag `gate.record_digest`. Frozen baselines are `gate.store.baselines`,
mixed into `Store`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException

from gate.errors import ConfigError, StoreUnavailable
from gate.github.actions import check_credentials
from gate.record import EvalRecord, dumps, require_whole, seal
from gate.results import Comparison
from gate.store import story
from gate.store.baselines import (
    DIGEST_TAG,
    RECORD_ARTIFACT,
    SHA_TAG,
    Baselines,
    not_found,
    sha256_hex,
)
from gate.store.keys import check_tracking_uri, mlflow_key, run_metrics, run_params, safe_uri
from gate.text import clip

DEFAULT_EXPERIMENT = "checkpoint-gate"
MLFLOW_CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_SUITE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # a suite's name (gate/schemas/suite.schema.json)
_MAX_BATCH = 1000  # MLflow's limit on metrics per log_batch call


@dataclass(frozen=True)
class HistoryEntry:
    """One logged gate run, newest first in `Store.history`."""

    run_id: str
    started_at: str
    model_id: str
    suite: str
    metrics: dict[str, float]


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


class Store(Baselines):
    """The MLflow tracking store: `MLFLOW_TRACKING_URI`, else `mlflow.db` (sqlite) in the working directory."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        check_tracking_uri(self.tracking_uri)
        check_credentials(os.environ, MLFLOW_CREDENTIALS)  # MLflow would send them as HTTP headers
        self._client: MlflowClient | None = None
        # MLflow draws a progress bar on stderr for every download; a CI log does not want it.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # ... nor its "View run ... at: URL" lines, which would land on stdout among the gate's reports.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # MLflow's database layer logs a full traceback before it raises; the error it raises becomes our
        # one-line StoreUnavailable, so its log would only bury that line (90 lines for a read-only store).
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

    # -- plumbing -----------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._preflight()
            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _preflight(self) -> None:
        # One quick GET before any MLflow call: MLflow's own client retries a dead server with
        # backoff for minutes, and a CI job should learn in seconds that the store is down.
        if urlsplit(self.tracking_uri).scheme not in ("http", "https"):
            return
        timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 10)
        try:
            requests.get(self.tracking_uri.rstrip("/") + "/health", timeout=timeout)
        except requests.RequestException as e:
            raise StoreUnavailable(
                f"MLflow tracking server {safe_uri(self.tracking_uri)} is unreachable ({type(e).__name__}); "
                "start it, or point MLFLOW_TRACKING_URI at a running one"
            ) from e

    def check(self) -> None:
        """Fail now, before any work, when the store cannot be reached (an http server that is down)."""
        self._preflight()

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except MlflowException as e:
            raise StoreUnavailable(f"MLflow {safe_uri(self.tracking_uri)}: {action} failed: {_reason(e)}") from e
        except (requests.RequestException, OSError) as e:
            raise StoreUnavailable(
                f"MLflow {safe_uri(self.tracking_uri)}: {action} failed: "
                f"{type(e).__name__}: {clip(str(e), 240, one_line=True)}"
            ) from e

    def _artifact_location(self) -> str | None:
        # Keep a local sqlite store's artifacts beside its database, not in whatever the cwd is.
        uri = self.tracking_uri
        if not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
            return None
        return (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()

    def _experiment_id(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            return self.client.create_experiment(name, artifact_location=self._artifact_location())
        if exp.lifecycle_stage != "active":
            raise ConfigError(
                f"MLflow experiment '{name}' is deleted; restore it (mlflow experiments restore) or use another"
            )
        return exp.experiment_id

    def _gate_run(self, run_id: str) -> Run | None:
        """The run, or None if this store has no such run; ConfigError if it is not a complete gate run."""
        try:
            run = self.client.get_run(run_id)
        except MlflowException as e:
            if not_found(e):
                return None
            raise
        if SHA_TAG not in run.data.tags:
            raise ConfigError(
                f"MLflow run {run_id} holds no complete gate record (no {SHA_TAG} tag); "
                "freeze a run logged by `gate run`, or a record file"
            )
        return run

    # -- logging --------------------------------------------------------------------------

    def log_record(
        self, record: EvalRecord, *, experiment: str = DEFAULT_EXPERIMENT, pointer: str | None = None
    ) -> EvalRecord:
        """Log a record as a new MLflow run; returns it with `mlflow_run_id` set.

        The run is named and tagged for MLflow's UI (`gate.store.story`: checkpoint@commit, user, PR,
        pointer, hardware). A record already logged to this store comes back unchanged: its run is never
        written again. A shard's record is refused: MLflow logs the merged run (`gate merge`).
        """
        require_whole(record, "the record to log")
        with self._guard("logging the record"):
            record = seal(record)
            if record.mlflow_run_id is not None:
                run = self._gate_run(record.mlflow_run_id)
                if run is not None:
                    stored = run.data.tags.get(DIGEST_TAG)
                    same = (
                        stored == record.digest
                        if stored
                        else run.data.tags[SHA_TAG] == sha256_hex(dumps(record).encode())
                    )
                    if not same:
                        raise ConfigError(
                            f"the record says it was logged as MLflow run {record.mlflow_run_id} but differs from "
                            "the record stored there; remove its mlflow_run_id to log it as a new run"
                        )
                    return record
            exp_id = self._experiment_id(experiment)
            ctx = story.run_context(record, pointer=pointer)
            run = self.client.create_run(exp_id, run_name=story.run_name(record, ctx), tags=story.run_tags(record, ctx))
        run_id = run.info.run_id
        final = record.with_run_id(run_id)
        try:
            with self._guard(f"logging run {run_id}"):
                self._log_contents(run_id, final)
                self.client.set_terminated(run_id, "FINISHED")
        except StoreUnavailable:
            self._mark_failed(run_id)
            raise
        return final

    def _log_contents(self, run_id: str, record: EvalRecord) -> None:
        data = dumps(record).encode()
        ts = int(time.time() * 1000)
        params = [Param(k, str(v)) for k, v in run_params(record).items()]
        metrics = [Metric(k, v, ts, 0) for k, v in run_metrics(record).items()]
        self.client.log_batch(run_id, params=params)
        for i in range(0, len(metrics), _MAX_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _MAX_BATCH])
        with tempfile.TemporaryDirectory(prefix="gate-record-") as d:
            Path(d, RECORD_ARTIFACT).write_bytes(data)
            items = Path(d, "items")
            items.mkdir()
            for t in record.tasks:
                lines = (json.dumps(asdict(it)) + "\n" for it in t.items)
                (items / f"{mlflow_key(t.name)}.jsonl").write_text("".join(lines))
            self.client.log_artifacts(run_id, d)
        self.client.log_table(run_id, story.items_table(record), story.ITEMS_TABLE)
        self.client.log_inputs(run_id, datasets=_dataset_inputs(record))
        # Last: a run with this tag is complete, and the tag is what a freeze pins.
        digest = seal(record).digest or ""
        self.client.log_batch(run_id, tags=[RunTag(DIGEST_TAG, digest), RunTag(SHA_TAG, sha256_hex(data))])

    def log_comparison(self, run_id: str, cmp: Comparison, files: dict[str, str]) -> None:
        """Log a diff's verdict to the candidate's run: its state and per-task decisions as tags, deltas and
        intervals as metrics, and `files` (the reports: JSON, markdown, HTML) as artifacts under
        `diff/<baseline>-<time>/`, so a second diff adds to the run and never replaces the first.
        """
        with self._guard(f"logging the diff to run {run_id}"):
            if self._gate_run(run_id) is None:
                raise ConfigError(
                    f"the candidate's MLflow run {run_id} is not in {safe_uri(self.tracking_uri)}; "
                    "log the record to this store (gate run) or pass --no-mlflow"
                )
            ts = int(time.time() * 1000)
            metrics = [Metric(k, v, ts, 0) for k, v in story.comparison_metrics(cmp).items()]
            for i in range(0, len(metrics), _MAX_BATCH):
                self.client.log_batch(run_id, metrics=metrics[i : i + _MAX_BATCH])
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in story.comparison_tags(cmp).items()])
            folder = f"{story.comparison_prefix(cmp)}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
            with tempfile.TemporaryDirectory(prefix="gate-diff-") as d:
                for name, text in files.items():
                    Path(d, name).write_text(text)
                self.client.log_artifacts(run_id, d, folder)

    def _mark_failed(self, run_id: str) -> None:
        # The store is already failing; the StoreUnavailable being raised says why.
        with suppress(MlflowException, requests.RequestException, OSError):
            self.client.set_terminated(run_id, "FAILED")

    def history(
        self, *, experiment: str = DEFAULT_EXPERIMENT, suite: str | None = None, limit: int = 50
    ) -> list[HistoryEntry]:
        """Complete gate runs of an experiment, newest first, optionally of one suite."""
        if suite is not None and not _SUITE_RE.match(suite):
            # It goes into an MLflow filter string, where a quote is a syntax error (a store failure, exit 3).
            raise ConfigError(
                f"--suite {suite!r}: not a suite name (letters, digits, '_', '.' or '-'), e.g. --suite fast"
            )
        with self._guard("reading run history"):
            exp = self.client.get_experiment_by_name(experiment)
            if exp is None:
                return []
            filters = ["attributes.status = 'FINISHED'"]
            if suite is not None:
                filters.append(f"tags.`gate.suite` = '{suite}'")
            runs = self.client.search_runs(
                [exp.experiment_id], " and ".join(filters), order_by=["attributes.start_time DESC"], max_results=limit
            )
        return [
            HistoryEntry(
                run_id=r.info.run_id,
                started_at=datetime.fromtimestamp(r.info.start_time / 1000, UTC).isoformat(timespec="seconds"),
                model_id=r.data.tags.get("gate.model_id", ""),
                suite=r.data.tags.get("gate.suite", ""),
                metrics=dict(r.data.metrics),
            )
            for r in runs
            if SHA_TAG in r.data.tags
        ]


def _dataset_inputs(record: EvalRecord) -> list:
    """The record's tasks as MLflow dataset inputs (the run page's "Datasets used"): name, items, digest."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    out = []
    for label in story.dataset_labels(record):
        source = CodeDatasetSource({"lm_eval_task": label.name, "items": label.items, "subtasks": label.subtasks})
        ds = MetaDataset(source, name=label.name, digest=label.digest)
        out.append(DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "evaluation")]))
    return out


def _reason(e: MlflowException) -> str:
    """MLflow's error without the SQL statement and SQLAlchemy's notes around it, cut to one line."""
    text = str(e.message).split("\n[SQL:", 1)[0]
    text = re.sub(r"^\(raised as a result of [^)]*\)\s*", "", text.strip())
    return clip(text, 240, one_line=True)
