"""One stage of the workflow on the GPU runner: evaluate the pointer's checkpoint on a suite, check
the floors, diff against the stage's frozen baseline, and say the outcome as a `StageResult`.

The stage's baseline is `<pointer baseline>-<stage>` (`main-fast`, `main-full`): each suite has its own
frozen record. The baseline is loaded before the model, so an unknown baseline or an unreachable MLflow
fails in seconds, not after an hour. Any `GateError` becomes the outcome "broke" with its exit code and
first line; the record written before the failure stays on disk and in MLflow.

A stage spread over a matrix of runners (`shards` above 1) evaluates nothing here: its record is the
merge of its shard jobs' records (`gate.ci.shards`), and from there it decides exactly as one runner does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from gate.ci.summary import StageResult
from gate.errors import ConfigError, GateError
from gate.store.keys import safe_uri


@dataclass(frozen=True)
class StageRequest:
    stage: str  # fast | full
    pointer: Path
    suite: Path
    thresholds: Path
    out_dir: Path
    floors: bool = False  # the fast stage checks floors before its diff
    sample: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    baseline: str | None = None  # overrides the pointer's
    public_tracking_uri: str | None = None  # what the report may show; never the (possibly secret) real one
    shards: int = 1  # runners the stage was spread over (GATE_SHARDS); above 1 it merges their shard records


def baseline_name(stage: str, pointer_baseline: str) -> str:
    return f"{pointer_baseline}-{stage}"


def _first_line(e: GateError) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def run_stage(req: StageRequest, progress=None) -> StageResult:
    from gate.config import load_suite, load_thresholds
    from gate.config.checkpoint import load_checkpoint

    run_id = None
    name = None
    try:
        from gate.run.spread import current

        if current().parallel:  # every rank would diff, log a verdict and publish its own stage result
            raise ConfigError(
                f"gate ci stage under accelerate launch ({current().processes} processes): not supported; run "
                "`accelerate launch -m gate run ...`, then `gate check` and `gate diff` on its record"
            )
        ck = load_checkpoint(req.pointer)
        suite = load_suite(req.suite)
        thresholds = load_thresholds(req.thresholds)
        name = baseline_name(req.stage, req.baseline or ck.baseline)

        from gate.decide.compare import compare
        from gate.decide.floors import check
        from gate.run.models import cache_dir
        from gate.run.pipeline import RunRequest, evaluate_checkpoint
        from gate.store.story import log_verdict
        from gate.store.tracking import Store

        base = Store().load_baseline(name)
        ref = replace(base.ref, tracking_uri=safe_uri(req.public_tracking_uri) if req.public_tracking_uri else "")
        req.out_dir.mkdir(parents=True, exist_ok=True)
        if req.shards > 1:
            from gate.ci.shards import merged_record

            record = merged_record(req, suite.hash, os.environ)
        else:
            record = evaluate_checkpoint(
                RunRequest(
                    spec=ck.spec,
                    suite=suite,
                    output=req.out_dir / f"{req.stage}.json",
                    data_dir=req.data_dir,
                    sample=req.sample,
                    seed=req.seed,
                    overwrite=True,
                    pointer=str(req.pointer),
                    answer_cache=cache_dir() / "answers",  # a retried or preempted job pays only for what is new
                ),
                progress=progress,
            ).record
        run_id = record.mlflow_run_id
        verdict = check(record, thresholds) if req.floors else None
        cmp = compare(record, base.record, thresholds, ref)
        trend = _trend(name, record)
        if run_id is not None:
            warn = (lambda m: progress(f"warning: {m}")) if progress else None
            log_verdict(run_id, cmp, warn, records=(record, base.record), trends=trend)
    except GateError as e:
        return StageResult(req.stage, "broke", e.exit_code, _first_line(e), run_id=run_id, baseline_name=name)
    return _result(req.stage, verdict, cmp, run_id, trend)


TREND_POINTS = 8  # freezes of the stage's baseline shown as the comment's sparkline


def _trend(name: str, record) -> dict | None:
    """Each task over the last freezes of the stage's baseline; none (no column) when MLflow cannot say:
    a trend is context, never a reason for the gate to break after the evaluation succeeded."""
    from gate.store.tracking import Store
    from gate.store.trend import baseline_trend

    try:
        return baseline_trend(Store(), name, [(t.name, t.metric) for t in record.tasks], TREND_POINTS)
    except GateError:
        return None


def _result(stage: str, verdict, cmp, run_id: str | None, trends=None) -> StageResult:
    from gate.github.delivery import check_verdict
    from gate.report import markdown
    from gate.report.comparison import render_comparison
    from gate.report.verdict import render_verdict

    states = [cmp.state] + ([verdict.state] if verdict is not None else [])
    outcome = "blocked" if "failure" in states else "inconclusive" if "neutral" in states else "passed"
    reasons: list[str] = []
    if verdict is not None and not verdict.passed:
        reasons += [f"below a floor: {r}" for r in verdict.reasons]
    reasons += list(cmp.blocking_reasons)
    if outcome == "blocked":
        headline = "; ".join(reasons)
    elif outcome == "inconclusive":
        undecided = [
            t.name
            for t in cmp.tasks
            if t.gated and t.decision in ("likely_regressed", "inconclusive", "not_comparable")
        ]
        floors = [c.task for c in verdict.inconclusive] if verdict is not None else []
        headline = "could not decide " + ", ".join(sorted(set(undecided + floors))) + " (not blocking by policy)"
    else:
        gated = sum(t.gated for t in cmp.tasks)
        headline = f"{gated} gated task(s) within their allowed drop" + (", floors cleared" if verdict else "")
    # The stage's table rows join the one table of the summary; what follows them is folded. When the
    # fast stage fails its floors, the floors table is what matters: it stands instead of the diff.
    floors_failed = verdict is not None and not verdict.passed
    body = []
    if verdict is not None:
        floors = ["#### Floors", "", render_verdict(verdict, "markdown").strip("\n"), ""]
        body += floors if floors_failed else ["<details>", "<summary>Floors</summary>", "", *floors, "</details>", ""]
    if floors_failed:
        body += ["<details>", "<summary>Baseline diff</summary>", "", render_comparison(cmp, "markdown"), "</details>"]
        rows: tuple = ()
        cause = "below a floor: " + ", ".join(dict.fromkeys(r.split(":", 1)[0] for r in verdict.reasons))
    else:
        body += markdown.details(cmp)
        rows = tuple(markdown.rows(cmp, trends, stage=stage))
        cause = cmp.cause
    notes = [(a.title, a.message) for a in check_verdict(cmp).annotations]
    if verdict is not None and not verdict.passed:
        notes += [(f"model-gate: {stage} floors", r) for r in verdict.reasons]
    return StageResult(
        stage,
        outcome,
        1 if outcome == "blocked" else 0,
        headline,
        "\n".join(body),
        run_id,
        cmp.baseline.name,
        cmp.baseline.run_id,
        cmp.baseline.frozen_at or None,
        tuple(notes),
        cause=cause,
        context=markdown.context_line(cmp, model=False),
        rows=rows,
    )


def promote(baseline: str, runs: dict[str, str], who: str) -> list:
    """Freeze each stage's run as `<baseline>-<stage>`, replacing the current one (which stays listed,
    marked replaced by `who`). Every stage needs a run id: a half-promoted baseline would pair a new
    fast record with an old full one."""
    from gate.store.tracking import Store

    missing = [stage for stage, run_id in runs.items() if not run_id]
    if missing:
        raise ConfigError(f"no MLflow run id for stage(s) {', '.join(missing)}: nothing promoted")
    store = Store()
    return [store.freeze(baseline_name(s, baseline), run_id=r, replace=True, who=who) for s, r in runs.items()]
