"""How an EvalRecord is written into MLflow: param and metric names, and values MLflow accepts.

Pure: imports no MLflow, so the naming rules are testable on their own.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gate.errors import ConfigError
from gate.record import EvalRecord

_BAD_KEY_CHARS = re.compile(r"[^\w.\- ]")  # MLflow also allows '/', kept as the separator


def metric_key(task: str, metric: str) -> str:
    """`arc_easy` + `acc_norm,none` -> `arc_easy/acc_norm`; MLflow rejects commas in names."""
    name, _, filt = metric.partition(",")
    if filt and filt != "none":
        name = f"{name}_{filt}"
    return mlflow_key(task, name)


def mlflow_key(*parts: str) -> str:
    # Each part sanitised on its own so '/' only ever separates parts (MLflow rejects 'a//b').
    return "/".join(_BAD_KEY_CHARS.sub("_", p).strip() or "_" for p in parts)


def default_who() -> str:
    if os.environ.get("GITHUB_ACTOR"):
        return os.environ["GITHUB_ACTOR"]
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry in some containers
        return "unknown"


_SECRET_QUERY = re.compile(r"token|password|passwd|secret|key|sig|auth|credential", re.IGNORECASE)


def safe_uri(uri: str) -> str:
    """The URI without credentials, for messages, records and PR comments: no user:password, and no
    query parameter whose name looks like a credential (`?token=`, `?sig=`, `?api_key=`)."""
    parts = original = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    if parts.query:
        kept = [q for q in parts.query.split("&") if not _SECRET_QUERY.search(q.partition("=")[0])]
        parts = parts._replace(query="&".join(kept))
    return uri if parts == original else urlunsplit(parts)


# The URI schemes MLflow has tracking and registry stores for (mlflow 2.x/3.x).
TRACKING_SCHEMES = ("", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "uc")


def check_tracking_uri(uri: str) -> None:
    """ConfigError for a tracking URI MLflow cannot use: an unknown scheme, or a sqlite file in no folder.

    MLflow itself reports both as a failure of the store (exit 3) and only when first used; they are
    the caller's mistake, so they are exit 2, before anything runs.
    """
    where = f"tracking URI {safe_uri(uri)!r} (--tracking-uri or MLFLOW_TRACKING_URI)"
    if any(c.isspace() for c in uri):
        raise ConfigError(f"{where}: holds whitespace; remove it")
    scheme = urlsplit(uri).scheme.lower()
    base = scheme.split("+", 1)[0]  # postgresql+psycopg2://, mysql+pymysql://
    if len(scheme) == 1:  # a Windows drive letter: a plain path
        return
    if base not in TRACKING_SCHEMES and not base.startswith("databricks"):
        raise ConfigError(
            f"{where}: unknown scheme '{scheme}'; use sqlite:///PATH/mlflow.db, http(s)://HOST:PORT, a folder "
            "path, or a database URL (postgresql://, mysql://)"
        )
    if base in ("http", "https") and not urlsplit(uri).hostname:
        raise ConfigError(f"{where}: no host; e.g. http://127.0.0.1:5000")
    if base == "sqlite":
        path = uri.split(":///", 1)[1] if ":///" in uri else ""
        if not path:
            raise ConfigError(f"{where}: expected sqlite:///PATH (three slashes), e.g. sqlite:///./mlflow.db")
        if path != ":memory:":
            folder = Path(path).parent
            if not folder.is_dir():
                raise ConfigError(f"{where}: folder {folder} does not exist; create it or choose another path")


def run_params(record: EvalRecord) -> dict[str, object]:
    m, s, v = record.model, record.suite, record.versions
    return {
        "model.id": m.id,
        "model.revision": m.revision,
        "model.fingerprint": m.fingerprint,
        "model.dtype": m.dtype,
        "model.quantization": m.quantization,
        "model.batch_size": m.batch_size,
        "model.device": m.device,
        "model.backend": m.backend,
        "model.gguf_file": m.gguf_file,
        "model.chat_template": m.chat_template,
        "model.fewshot_as_multiturn": m.fewshot_as_multiturn,
        "suite.name": s.name,
        "suite.version": s.version,
        "suite.hash": s.hash,
        "versions.gate": v.gate,
        "versions.lm_eval": v.lm_eval,
        "versions.transformers": v.transformers,
        "versions.torch": v.torch,
        "versions.python": v.python,
        "sampling.source": record.sampling.source,
        "sampling.n": record.sampling.n,
        "sampling.seed": record.sampling.seed,
    }


def run_metrics(record: EvalRecord) -> dict[str, float]:
    out: dict[str, float] = {
        "timing/wall_seconds": record.timing.wall_seconds,
        "timing/items_per_second": record.timing.items_per_second,
    }
    for t in record.tasks:
        if t.value is None:
            continue  # skipped task: nothing measured, and MLflow metrics cannot be null
        name = metric_key(t.name, t.metric)
        out[name] = t.value
        if t.stderr is not None:
            out[f"{name}_stderr"] = t.stderr
        out[mlflow_key(t.name, "n")] = float(t.n)
        for cat, score in t.category_scores.items():
            out[mlflow_key(t.name, "category", cat)] = score
    return out | operational_metrics(record)


def operational_metrics(record: EvalRecord) -> dict[str, float]:
    """The record's operational measurements as MLflow metrics, so the UI can chart latency, output length,
    memory and cost across runs: `operational/...` for the run, `<task>/operational/...` per task."""
    out: dict[str, float] = {}
    run = record.operational
    if run is not None:
        out["operational/peak_memory_mib"] = run.peak_memory_bytes / 2**20
        if run.estimated_cost is not None:
            out["operational/estimated_cost"] = run.estimated_cost
        out |= _generation("operational", run.generation)
    for t in record.tasks:
        if t.operational is not None:
            out |= _generation(mlflow_key(t.name, "operational"), t.operational.generation)
    return out


def _generation(prefix: str, g) -> dict[str, float]:
    if g is None:
        return {}
    fields = ("latency_p50_s", "latency_p95_s", "latency_p99_s", "output_tokens_mean", "output_tokens_p95")
    return {f"{prefix}/{f}": float(getattr(g, f)) for f in (*fields, "tokens_per_second")}


@dataclass(frozen=True)
class TaskScore:
    """One task's headline metric of a logged run, read back from `run_metrics`' keys."""

    key: str  # `<task>/<metric>`
    value: float
    stderr: float | None
    n: float | None


def task_scores(metrics: dict[str, float]) -> list[TaskScore]:
    """The `<task>/<metric>` values of `run_metrics`, without their stderr, n, category and timing companions."""
    out = []
    for key, value in sorted(metrics.items()):
        task, _, rest = key.partition("/")
        if task in ("timing", "operational") or not rest or "/" in rest or rest == "n" or rest.endswith("_stderr"):
            continue
        out.append(TaskScore(key, value, metrics.get(f"{key}_stderr"), metrics.get(mlflow_key(task, "n"))))
    return out
