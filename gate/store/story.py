"""What MLflow's UI says about a gate run besides its numbers: which checkpoint at which commit, who ran
it for which PR on what hardware, every item's outcome as a browsable table, the datasets it read, and,
once `gate diff` ran, the verdict against the baseline.

MLflow shows a run's name, its `mlflow.user`, `mlflow.source.git.commit` and `mlflow.note.content`
tags in the runs list and on the run page; without them every run reads "unknown" with no commit. The
names and tags are built here by pure functions (no MLflow import, testable on their own); `Store`
writes them. Nothing here ever holds a credential: values come from the record and from GitHub's
public `GITHUB_*` variables.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.record import EvalRecord
from gate.results import STATE_WORDS, Comparison
from gate.store.keys import default_who, mlflow_key
from gate.text import clip

_SHA = re.compile(r"[0-9a-f]{40}")
_PR_REF = re.compile(r"refs/pull/(\d+)/")
ITEMS_TABLE = "tables/items.json"  # the per-item outcomes, as MLflow's table artifact


@dataclass(frozen=True)
class RunContext:
    """Where a run came from: what MLflow's UI needs to tell one run from another."""

    user: str
    commit: str | None = None  # the commit of the repository holding the checkpoint pointer
    pr_number: int | None = None
    pointer: str | None = None  # e.g. checkpoints/candidate.yaml
    repository: str | None = None
    workflow_run_url: str | None = None
    hardware: str = ""

    @property
    def short_commit(self) -> str | None:
        return self.commit[:7] if self.commit else None


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    try:
        data = json.loads(Path(path).read_text()) if path else {}
    except (OSError, ValueError):
        return {}  # labels only: a missing payload must not stop a run from being logged
    return data if isinstance(data, dict) else {}


def _git_head() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.fullmatch(sha) else None


def hardware(device: str) -> str:
    """The accelerator a run measured on: "NVIDIA H100 80GB HBM3 x2" or "CPU (x86_64, 16 cores)".

    torch is read only if the run already imported it (the store never loads model code itself).
    """
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None and torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"{torch.cuda.get_device_name(0)}" + (f" x{n}" if n > 1 else "")
    return f"CPU ({platform.machine() or 'unknown'}, {os.cpu_count() or '?'} cores)"


def run_context(record: EvalRecord, *, pointer: str | None = None, env: Mapping[str, str] | None = None) -> RunContext:
    """The run's context from GitHub Actions' environment when there, else from the local git checkout.

    The commit is the PR's head (on `pull_request` events `GITHUB_SHA` is a temporary merge commit),
    else `GITHUB_SHA`, else `git rev-parse HEAD` of the working directory.
    """
    env = os.environ if env is None else env
    event = _event(env)
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else {}
    head = (pr.get("head") or {}).get("sha") if isinstance(pr.get("head"), dict) else None
    commit = next((s for s in (head, env.get("GITHUB_SHA")) if s and _SHA.fullmatch(s)), None)
    if commit is None and not env.get("GITHUB_ACTIONS"):
        commit = _git_head()
    number = pr.get("number") if isinstance(pr.get("number"), int) else None
    if number is None and (m := _PR_REF.match(env.get("GITHUB_REF", ""))):
        number = int(m.group(1))
    repo = env.get("GITHUB_REPOSITORY") or None
    run_url = None
    if repo and env.get("GITHUB_RUN_ID"):
        run_url = f"{(env.get('GITHUB_SERVER_URL') or 'https://github.com').rstrip('/')}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
    return RunContext(
        user=default_who(),
        commit=commit,
        pr_number=number,
        pointer=pointer,
        repository=repo,
        workflow_run_url=run_url,
        hardware=hardware(record.model.device),
    )


def run_name(record: EvalRecord, ctx: RunContext) -> str:
    """`<pointer or model>@<short commit> (<suite>)`: the checkpoint first, as a reviewer looks for it."""
    label = Path(ctx.pointer).stem if ctx.pointer else record.model.id.rstrip("/").rsplit("/", 1)[-1]
    at = f"@{ctx.short_commit}" if ctx.short_commit else ""
    return f"{label}{at} ({record.suite.name})"


def run_tags(record: EvalRecord, ctx: RunContext) -> dict[str, str]:
    tags = {
        "gate.model_id": record.model.id,
        "gate.suite": record.suite.name,
        "mlflow.user": ctx.user,
        "gate.hardware": ctx.hardware,
        "gate.fingerprint": record.model.fingerprint,
        "mlflow.note.content": _note(record, ctx),
    }
    if ctx.commit:
        tags["mlflow.source.git.commit"] = ctx.commit
    if ctx.pointer:
        tags["gate.pointer"] = ctx.pointer
    if ctx.pr_number is not None:
        tags["gate.pr"] = str(ctx.pr_number)
    if ctx.repository:
        tags["mlflow.source.name"] = ctx.repository
        tags["gate.repository"] = ctx.repository
    if ctx.workflow_run_url:
        tags["gate.workflow_run"] = ctx.workflow_run_url
    return tags


def _note(record: EvalRecord, ctx: RunContext) -> str:
    """The run page's description (markdown): the scores at a glance and where they came from."""
    lines = [f"**{record.model.id}** on suite `{record.suite.name}` v{record.suite.version}", ""]
    for t in record.tasks:
        value = "skipped" if t.value is None else f"{t.value:.4f}"
        lines.append(f"- {t.name} {t.metric.split(',')[0]} = {value} (n={t.n})")
    where = [f"{record.timing.wall_seconds:.0f} s on {ctx.hardware}"]
    if ctx.pr_number is not None:
        where.append(f"PR #{ctx.pr_number}")
    if ctx.commit:
        where.append(f"commit {ctx.short_commit}")
    return "\n".join([*lines, "", ", ".join(where)])


def items_table(record: EvalRecord) -> dict[str, list]:
    """Every item's outcome as columns, for `MlflowClient.log_table` (browsable in the run's artifacts)."""
    cols: dict[str, list] = {k: [] for k in ("task", "group", "doc_id", "score", "prediction", "prompt_end")}
    for t in record.tasks:
        for it in t.items:
            cols["task"].append(t.name)
            cols["group"].append(it.group or "")
            cols["doc_id"].append(it.doc_id)
            cols["score"].append(it.score)
            cols["prediction"].append(it.prediction)
            cols["prompt_end"].append(it.excerpt)
    return cols


@dataclass(frozen=True)
class DatasetLabel:
    """One dataset input of a run: the task, how many items and which (digest over their doc hashes)."""

    name: str
    digest: str
    items: int
    subtasks: int


def dataset_labels(record: EvalRecord) -> list[DatasetLabel]:
    import hashlib

    out = []
    for t in record.tasks:
        if not t.items:
            continue
        h = hashlib.sha256("\n".join(sorted(f"{it.group}:{it.doc_hash}" for it in t.items)).encode())
        out.append(DatasetLabel(t.name, h.hexdigest()[:12], len(t.items), len(t.subtasks) or 1))
    return out


# -- the diff's verdict, on the candidate's run --------------------------------------------------


def comparison_prefix(cmp: Comparison) -> str:
    return mlflow_key("diff", cmp.baseline.name or "baseline")


def comparison_metrics(cmp: Comparison) -> dict[str, float]:
    """Per-task deltas and intervals, in the metric's units, under `diff/<baseline>/<task>/...`."""
    prefix = comparison_prefix(cmp)
    out: dict[str, float] = {}
    for t in cmp.tasks:
        for field in ("delta", "ci_low", "ci_high", "p_adjusted"):
            v = getattr(t, field)
            if v is not None:
                out[f"{prefix}/{mlflow_key(t.name)}/{field}"] = float(v)
        out[f"{prefix}/{mlflow_key(t.name)}/newly_wrong"] = float(t.newly_wrong)
        out[f"{prefix}/{mlflow_key(t.name)}/newly_right"] = float(t.newly_right)
    out[f"{prefix}/blocking"] = float(cmp.blocking)
    return out


def comparison_tags(cmp: Comparison) -> dict[str, str]:
    """The verdict as tags the runs list can filter on (`tags.gate.diff.state = 'failure'`)."""
    word = STATE_WORDS.get(cmp.state, cmp.state)
    tags = {
        "gate.diff.state": word,
        "gate.diff.baseline": cmp.baseline.name,
        "gate.diff.baseline_run": cmp.baseline.run_id,
        "gate.diff.headline": clip(cmp.headline, 4900, one_line=True),  # MLflow caps a tag value at 5000 characters
    }
    for t in cmp.tasks:
        tags[f"gate.diff.task.{mlflow_key(t.name)}"] = t.decision
    return tags


def log_verdict(
    run_id: str,
    cmp: Comparison,
    warn: Callable[[str], None] | None = None,
    *,
    records: tuple[EvalRecord, EvalRecord] | None = None,
    trends=None,
    tracking_uri: str | None = None,
) -> bool:
    """Log `cmp` to the candidate's run `run_id` with its reports (JSON, markdown and, given the candidate's and
    the baseline's records, the HTML report of `gate report`); True when logged.

    The verdict stands whether or not MLflow takes it (the record is already there and the report is
    printed), so a store that fails here is a warning through `warn`, not a changed outcome.
    """
    from gate.errors import GateError
    from gate.report.comparison import render_comparison
    from gate.store.tracking import Store

    files = {"comparison.json": render_comparison(cmp, "json"), "comparison.md": render_comparison(cmp, "markdown")}
    if records is not None:
        from gate.report.html import render_html

        files["report.html"] = render_html(cmp, *records, trends)
    try:
        Store(tracking_uri).log_comparison(run_id, cmp, files)
    except GateError as e:
        if warn is not None:
            warn(f"the verdict was not logged to MLflow: {clip(str(e), 300, one_line=True)}")
        return False
    return True
