"""checkpoint-gate: a CI/CD regression gate for LLM checkpoints.

The library behind the `gate` command. A typical use, the same steps as `gate run`, `gate check` and
`gate diff`:

    import gate

    request = gate.RunRequest(spec=gate.ModelSpec("./ckpt"), suite=gate.load_suite("suites/fast.yaml"),
                              output=Path("runs/ckpt.json"))
    record = gate.evaluate_checkpoint(request).record
    thresholds = gate.load_thresholds("thresholds/default.yaml")
    verdict = gate.check(record, thresholds)                      # floors: verdict.passed, verdict.reasons
    baseline = gate.Store().load_baseline("main")                 # the frozen MLflow baseline
    comparison = gate.compare(record, baseline.record, thresholds, baseline.ref)
    print(gate.render_comparison(comparison, "text"))

Importing `gate` is light (no torch, lm-eval, numpy or MLflow): the names that need them are loaded
on first use, so the publish job, which installs none of them, can import the package.
"""

from __future__ import annotations

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

from gate.config import (
    Checkpoint,
    ModelSpec,
    Policy,
    Suite,
    TaskSpec,
    TaskThreshold,
    Thresholds,
    load_checkpoint,
    load_suite,
    load_thresholds,
)
from gate.errors import (
    BaselineNotFound,
    ConfigError,
    DataMissing,
    EvalFailed,
    GateError,
    GitHubUnavailable,
    GpuRequired,
    InfraError,
    ModelLoadError,
    StoreUnavailable,
)
from gate.record import BaselineRef, EvalRecord, ItemOutcome, TaskResult
from gate.record import load as load_record
from gate.record import save as save_record
from gate.results import Comparison, FloorCheck, TaskComparison, Verdict

# Names whose modules import torch, lm-eval, numpy/scipy or MLflow: loaded on first access.
_LAZY = {
    "run_suite": "gate.run.runner",
    "RunOptions": "gate.run.runner",
    "evaluate_checkpoint": "gate.run.pipeline",
    "RunRequest": "gate.run.pipeline",
    "RunResult": "gate.run.pipeline",
    "load_lm": "gate.run.models",
    "LoadedModel": "gate.run.models",
    "check": "gate.decide.floors",
    "compare": "gate.decide.compare",
    "Store": "gate.store.tracking",
    "render_comparison": "gate.report.comparison",
    "render_verdict": "gate.report.verdict",
}

if TYPE_CHECKING:
    from gate.decide.compare import compare
    from gate.decide.floors import check
    from gate.report.comparison import render_comparison
    from gate.report.verdict import render_verdict
    from gate.run.models import LoadedModel, load_lm
    from gate.run.pipeline import RunRequest, RunResult, evaluate_checkpoint
    from gate.run.runner import RunOptions, run_suite
    from gate.store.tracking import Store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "__version__",
    # errors (exit codes: ConfigError 2, InfraError 3)
    "BaselineNotFound",
    "ConfigError",
    "DataMissing",
    "EvalFailed",
    "GateError",
    "GitHubUnavailable",
    "GpuRequired",
    "InfraError",
    "ModelLoadError",
    "StoreUnavailable",
    # configuration
    "Checkpoint",
    "ModelSpec",
    "Policy",
    "Suite",
    "TaskSpec",
    "TaskThreshold",
    "Thresholds",
    "load_checkpoint",
    "load_suite",
    "load_thresholds",
    # records
    "BaselineRef",
    "EvalRecord",
    "ItemOutcome",
    "TaskResult",
    "load_record",
    "save_record",
    # running
    "LoadedModel",
    "RunOptions",
    "RunRequest",
    "RunResult",
    "evaluate_checkpoint",
    "load_lm",
    "run_suite",
    # deciding
    "Comparison",
    "FloorCheck",
    "TaskComparison",
    "Verdict",
    "check",
    "compare",
    # storing and reporting
    "Store",
    "render_comparison",
    "render_verdict",
]
