"""Frozen baselines in MLflow's model registry: freeze a logged run under a name, load it back checked,
list every freeze.

One registered model, `checkpoint-gate-baselines`; each freeze creates a new model version pointing
at the run's `record.json` and tagged with who froze it, when, and the artifact's sha256; the alias
(= the baseline name) points at the current version. Why the registry rather than run tags: an alias
is MLflow's own named pointer that moves only when someone moves it, every tracking server serves it
and the UI shows it; versions are append-only, so a replaced baseline stays listed with who replaced
it and when, while a run tag carries no history and any later `set_tag` would silently rewrite it.
The sha256 on the version means a record artifact altered after freezing is detected on load rather
than trusted; the record's own digest (`gate.record_digest`) must match too, so a record edited
before it was frozen is refused as well.

`Baselines` is the part of `gate.store.tracking.Store` that does this; it uses the store's client,
error guard and run lookup.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow.exceptions import MlflowException

from gate.errors import BaselineNotFound, ConfigError, StoreUnavailable
from gate.record import BaselineRef, EvalRecord, loads
from gate.store.keys import default_who, safe_uri

BASELINE_MODEL = "checkpoint-gate-baselines"
RECORD_ARTIFACT = "record.json"
SHA_TAG = "gate.record_sha256"
DIGEST_TAG = "gate.record_digest"
LEGACY_HINT = (
    "a baseline frozen before records carried a digest: freeze it again from a record of `gate run` "
    "(--replace), or pass --no-require-digest to trust it as it is"
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RESERVED_NAME_RE = re.compile(r"^(latest|[vV]\d+)$")  # MLflow reserves these aliases


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def not_found(e: MlflowException) -> bool:
    return e.error_code == "RESOURCE_DOES_NOT_EXIST"


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


def check_baseline_name(name: str) -> None:
    if not _NAME_RE.match(name) or _RESERVED_NAME_RE.match(name):
        raise ConfigError(
            f"baseline name '{name}' is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(not 'latest' or 'v<number>', which MLflow reserves), e.g. --name main"
        )


class Baselines:
    """Freeze, load and list baselines; mixed into `Store`, whose `client`, `_guard`, `_gate_run`,
    `log_record` and `tracking_uri` it uses."""

    def _aliases(self) -> dict[str, int]:
        try:
            model = self.client.get_registered_model(BASELINE_MODEL)
        except MlflowException as e:
            if not_found(e):
                return {}
            raise
        return {alias: int(version) for alias, version in model.aliases.items()}

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
                if not not_found(e):
                    raise
                self.client.create_registered_model(
                    BASELINE_MODEL, description="Frozen baselines of checkpoint-gate; alias = baseline name."
                )
            now = now_utc()
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
        if sha256_hex(data) != mv.tags.get(SHA_TAG):
            raise StoreUnavailable(
                f"baseline '{name}': the record artifact of run {mv.run_id} changed after it was frozen "
                f"(sha256 {sha256_hex(data)[:12]} != {str(mv.tags.get(SHA_TAG))[:12]}); do not trust it, "
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
