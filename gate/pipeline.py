"""One checkpoint through one suite: load, evaluate, write the record, log it to MLflow.

The record is written to disk before anything that can fail afterwards (MLflow), so a
measurement that took an hour is never lost to a tracking-server hiccup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gate import record as records
from gate.config import ModelSpec, Suite
from gate.models import DEFAULT_MODEL, load_lm
from gate.record import EvalRecord
from gate.runner import RunOptions, run_suite


@dataclass(frozen=True)
class RunRequest:
    spec: ModelSpec
    suite: Suite
    output: Path
    data_dir: Path | None = None
    sample: int | None = None
    seed: int = 0
    items_from: Path | None = None
    max_gen_toks: int | None = None
    log_to_mlflow: bool = True


@dataclass(frozen=True)
class RunResult:
    record: EvalRecord
    path: Path

    @property
    def summary(self) -> str:
        r = self.record
        lines = [
            f"{r.suite.name} on {r.model.id} ({r.model.fingerprint[:19]}): "
            f"{sum(t.n for t in r.tasks)} items in {r.timing.wall_seconds:.1f}s"
        ]
        for t in r.tasks:
            if t.status != "ok":
                lines.append(f"  {t.name}: {t.skip_reason}")
                continue
            se = f" ± {t.stderr:.3f}" if t.stderr is not None else ""
            line = f"  {t.name} {t.metric} = {t.value:.3f}{se} (n={t.n}, {t.num_fewshot}-shot)"
            if t.chance is not None and t.stderr is not None and abs(t.value - t.chance) <= 2 * t.stderr:
                line += f"  near chance ({t.chance:.2f}): no signal for this model"
            lines.append(line)
        lines.append(f"record: {self.path}" + (f"  mlflow run: {r.mlflow_run_id}" if r.mlflow_run_id else ""))
        return "\n".join(lines)


def evaluate_checkpoint(req: RunRequest, progress: Callable[[str], None] | None = None) -> RunResult:
    items_from = records.load(req.items_from) if req.items_from else None
    spec = req.spec
    progress and progress(f"loading {spec.model}")
    loaded = load_lm(spec)
    opts = RunOptions(
        data_dir=req.data_dir,
        sample=req.sample,
        seed=req.seed,
        items_from=items_from,
        max_gen_toks=req.max_gen_toks,
        progress=progress,
    )
    record = run_suite(loaded, req.suite, opts)
    if spec.model == DEFAULT_MODEL:
        record = replace(record, model=replace(record.model, id=DEFAULT_MODEL))
    records.save(record, req.output)
    if req.log_to_mlflow:
        from gate.store import Store

        record = Store().log_record(record)
        records.save(record, req.output)
    return RunResult(record=record, path=req.output)
