"""MLflow: log an EvalRecord as a run, freeze a run as a named baseline, load it back.

A run holds the record's params (model, suite, versions, how it ran), one metric per task,
and the record itself as the artifact `record.json` (with its per-item outcomes, and split
per task under `items/`). The run's tag `gate.record_sha256` is the hash of that artifact,
set last, so a run carrying it is a complete gate run.

Baselines use MLflow's model registry: one registered model, `checkpoint-gate-baselines`;
each freeze creates a new model version pointing at the run's `record.json` and tagged with
who froze it, when, and the artifact's sha256; the alias (= the baseline name) points at the
current version. Why the registry rather than run tags: an alias is MLflow's own named
pointer that moves only when someone moves it, every tracking server serves it and the UI
shows it; versions are append-only, so a replaced baseline stays listed with who replaced it
and when, while a run tag carries no history and any later `set_tag` would silently rewrite
it. The sha256 on the version means a record artifact altered after freezing is detected on
load rather than trusted. The record's own digest (`gate.record_checks`, written by `gate run`)
is also a tag, `gate.record_digest`, of the run and of each frozen version; a baseline read back
must carry a digest that matches its contents, so a record edited before it was frozen is refused too.
"""

from __future__ import annotations

import hashlib
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

from gate.errors import BaselineNotFound, ConfigError, StoreUnavailable
from gate.github.actions import check_credentials
from gate.record import BaselineRef, EvalRecord, dumps, loads, require_whole, seal
from gate.store.keys import check_tracking_uri, default_who, mlflow_key, run_metrics, run_params, safe_uri
from gate.text import clip

DEFAULT_EXPERIMENT = "checkpoint-gate"
BASELINE_MODEL = "checkpoint-gate-baselines"
RECORD_ARTIFACT = "record.json"
SHA_TAG = "gate.record_sha256"
DIGEST_TAG = "gate.record_digest"
MLFLOW_CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_SUITE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # a suite's name (gate/schemas/suite.schema.json)
LEGACY_HINT = (
    "a baseline frozen before records carried a digest: freeze it again from a record of `gate run` "
    "(--replace), or pass --no-require-digest to trust it as it is"
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RESERVED_NAME_RE = re.compile(r"^(latest|[vV]\d+)$")  # MLflow reserves these aliases
_MAX_BATCH = 1000  # MLflow's limit on metrics per log_batch call


@dataclass(frozen=True)
class Baseline:
    """A frozen baseline: the record as it was frozen, and the name/run/who/when of the freeze."""

    record: EvalRecord
    ref: BaselineRef


@dataclass(frozen=True)
class BaselineEntry:
    """One freeze of a baseline name; `current` is False once it was replaced."""

    name: str
    version: int
    run_id: str
    model_id: str
    suite: str
    frozen_at: str
    frozen_by: str
    current: bool
    replaced_at: str | None = None
    replaced_by: str | None = None


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _not_found(e: MlflowException) -> bool:
    return e.error_code == "RESOURCE_DOES_NOT_EXIST"


def check_baseline_name(name: str) -> None:
    if not _NAME_RE.match(name) or _RESERVED_NAME_RE.match(name):
        raise ConfigError(
            f"baseline name '{name}' is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(not 'latest' or 'v<number>', which MLflow reserves), e.g. --name main"
        )


class Store:
    """The MLflow tracking store: `MLFLOW_TRACKING_URI`, else `mlflow.db` (sqlite) in the working directory."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        check_tracking_uri(self.tracking_uri)
        check_credentials(os.environ, MLFLOW_CREDENTIALS)  # MLflow would send them as HTTP headers
        self._client: MlflowClient | None = None
        # MLflow draws a progress bar on stderr for every download; a CI log does not want it.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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
            if _not_found(e):
                return None
            raise
        if SHA_TAG not in run.data.tags:
            raise ConfigError(
                f"MLflow run {run_id} holds no complete gate record (no {SHA_TAG} tag); "
                "freeze a run logged by `gate run`, or a record file"
            )
        return run

    def _aliases(self) -> dict[str, int]:
        try:
            model = self.client.get_registered_model(BASELINE_MODEL)
        except MlflowException as e:
            if _not_found(e):
                return {}
            raise
        return {alias: int(version) for alias, version in model.aliases.items()}

    # -- logging --------------------------------------------------------------------------

    def log_record(self, record: EvalRecord, *, experiment: str = DEFAULT_EXPERIMENT) -> EvalRecord:
        """Log a record as a new MLflow run; returns it with `mlflow_run_id` set.

        A record already logged to this store comes back unchanged: its run is never written again.
        A shard's record is refused: MLflow logs the merged run (`gate merge`).
        """
        require_whole(record, "the record to log")
        with self._guard("logging the record"):
            record = seal(record)
            if record.mlflow_run_id is not None:
                run = self._gate_run(record.mlflow_run_id)
                if run is not None:
                    stored = run.data.tags.get(DIGEST_TAG)
                    same = (
                        stored == record.digest if stored else run.data.tags[SHA_TAG] == _sha256(dumps(record).encode())
                    )
                    if not same:
                        raise ConfigError(
                            f"the record says it was logged as MLflow run {record.mlflow_run_id} but differs from "
                            "the record stored there; remove its mlflow_run_id to log it as a new run"
                        )
                    return record
            exp_id = self._experiment_id(experiment)
            run = self.client.create_run(
                exp_id,
                run_name=f"{record.suite.name}:{record.model.id}",
                tags={"gate.model_id": record.model.id, "gate.suite": record.suite.name},
            )
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
        # Last: a run with this tag is complete, and the tag is what a freeze pins.
        digest = seal(record).digest or ""
        self.client.log_batch(run_id, tags=[RunTag(DIGEST_TAG, digest), RunTag(SHA_TAG, _sha256(data))])

    def _mark_failed(self, run_id: str) -> None:
        # The store is already failing; the StoreUnavailable being raised says why.
        with suppress(MlflowException, requests.RequestException, OSError):
            self.client.set_terminated(run_id, "FAILED")

    # -- baselines ------------------------------------------------------------------------

    def freeze(
        self,
        name: str,
        *,
        record: EvalRecord | None = None,
        run_id: str | None = None,
        replace: bool = False,
        who: str | None = None,
    ) -> BaselineRef:
        """Freeze a logged run (or a record, logged first if it never was) as baseline `name`."""
        check_baseline_name(name)
        if (record is None) == (run_id is None):
            raise ConfigError("freeze takes exactly one of a record file or --run-id")
        who = who or default_who()
        with self._guard(f"freezing baseline '{name}'"):
            old = self._aliases().get(name)
            if old is not None and not replace:  # before logging anything: a refused freeze writes nothing
                mv = self.client.get_model_version(BASELINE_MODEL, str(old))
                raise ConfigError(
                    f"baseline '{name}' already exists (run {mv.run_id}, frozen by {mv.tags.get('gate.frozen_by')} "
                    f"at {mv.tags.get('gate.frozen_at')}) and never changes; pass --replace to freeze a new one "
                    "(the old one stays listed)"
                )
        if record is not None:
            run_id = self.log_record(record).mlflow_run_id
        assert run_id is not None
        with self._guard(f"freezing baseline '{name}'"):
            run = self._gate_run(run_id)
            if run is None:
                raise ConfigError(
                    f"MLflow run {run_id} not found in {safe_uri(self.tracking_uri)}; "
                    "check the id (`gate baseline list`, the MLflow UI) or MLFLOW_TRACKING_URI"
                )
            try:
                self.client.get_registered_model(BASELINE_MODEL)
            except MlflowException as e:
                if not _not_found(e):
                    raise
                self.client.create_registered_model(
                    BASELINE_MODEL, description="Frozen baselines of checkpoint-gate; alias = baseline name."
                )
            now = _now()
            mv = self.client.create_model_version(
                BASELINE_MODEL,
                source=f"runs:/{run_id}/{RECORD_ARTIFACT}",
                run_id=run_id,
                tags={
                    "gate.baseline": name,
                    "gate.frozen_by": who,
                    "gate.frozen_at": now,
                    SHA_TAG: run.data.tags[SHA_TAG],
                    DIGEST_TAG: run.data.tags.get(DIGEST_TAG, ""),
                    "gate.model_id": run.data.tags.get("gate.model_id", ""),
                    "gate.suite": run.data.tags.get("gate.suite", ""),
                },
            )
            self.client.set_registered_model_alias(BASELINE_MODEL, name, mv.version)
            if old is not None:
                for key, value in (("gate.replaced_by", who), ("gate.replaced_at", now)):
                    self.client.set_model_version_tag(BASELINE_MODEL, str(old), key, value)
            self.client.set_tag(run_id, f"gate.baseline.{name}", str(mv.version))
        return BaselineRef(
            name=name, run_id=run_id, frozen_at=now, frozen_by=who, tracking_uri=safe_uri(self.tracking_uri)
        )

    def load_baseline(self, name: str, *, require_digest: bool = True) -> Baseline:
        """The record frozen as `name`, checked against the sha256 taken when it was frozen, and on read
        (`gate.record.from_dict`): its digest must be there and match (unless require_digest=False)."""
        with self._guard(f"loading baseline '{name}'"):
            aliases = self._aliases()
            if name not in aliases:
                known = ", ".join(sorted(aliases)) or "none yet"
                raise BaselineNotFound(
                    f"no baseline named '{name}' in {safe_uri(self.tracking_uri)} (known: {known}); "
                    f"freeze one with `gate baseline freeze RECORD --name {name}`"
                )
            mv = self.client.get_model_version(BASELINE_MODEL, str(aliases[name]))
            with tempfile.TemporaryDirectory(prefix="gate-baseline-") as d:
                path = self.client.download_artifacts(mv.run_id, RECORD_ARTIFACT, d)
                data = Path(path).read_bytes()
        if _sha256(data) != mv.tags.get(SHA_TAG):
            raise StoreUnavailable(
                f"baseline '{name}': the record artifact of run {mv.run_id} changed after it was frozen "
                f"(sha256 {_sha256(data)[:12]} != {str(mv.tags.get(SHA_TAG))[:12]}); do not trust it, "
                "freeze a new one with --replace"
            )
        source = f"baseline '{name}' (MLflow run {mv.run_id}/{RECORD_ARTIFACT})"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not UTF-8 text; freeze a new baseline with --replace") from None
        record = loads(text, source, require_digest=require_digest, why=LEGACY_HINT)
        tagged = mv.tags.get(DIGEST_TAG)
        if tagged and record.digest != tagged:
            raise ConfigError(
                f"{source}: digest: {str(record.digest)[:19]}… is not the {tagged[:19]}… it was frozen with; "
                "do not trust it, freeze a new one with --replace"
            )
        ref = BaselineRef(
            name=name,
            run_id=mv.run_id,
            frozen_at=mv.tags.get("gate.frozen_at", ""),
            frozen_by=mv.tags.get("gate.frozen_by", ""),
            tracking_uri=safe_uri(self.tracking_uri),
        )
        return Baseline(record=record, ref=ref)

    def list_baselines(self) -> list[BaselineEntry]:
        """Every freeze, current and replaced, sorted by name then newest first."""
        with self._guard("listing baselines"):
            aliases = self._aliases()
            if not aliases:
                return []
            versions = self.client.search_model_versions(f"name = '{BASELINE_MODEL}'")
        entries = []
        for mv in versions:
            name = mv.tags.get("gate.baseline", "")
            entries.append(
                BaselineEntry(
                    name=name,
                    version=int(mv.version),
                    run_id=mv.run_id,
                    model_id=mv.tags.get("gate.model_id", ""),
                    suite=mv.tags.get("gate.suite", ""),
                    frozen_at=mv.tags.get("gate.frozen_at", ""),
                    frozen_by=mv.tags.get("gate.frozen_by", ""),
                    current=aliases.get(name) == int(mv.version),
                    replaced_at=mv.tags.get("gate.replaced_at"),
                    replaced_by=mv.tags.get("gate.replaced_by"),
                )
            )
        return sorted(entries, key=lambda e: (e.name, -e.version))

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


def _reason(e: MlflowException) -> str:
    """MLflow's error without the SQL statement and SQLAlchemy's notes around it, cut to one line."""
    text = str(e.message).split("\n[SQL:", 1)[0]
    text = re.sub(r"^\(raised as a result of [^)]*\)\s*", "", text.strip())
    return clip(text, 240, one_line=True)
