"""checkpoint-gate: a CI/CD regression gate for LLM checkpoints."""

from __future__ import annotations

__version__ = "0.1.0"

from gate.config import ModelSpec, Suite, TaskSpec, Thresholds, load_suite, load_thresholds  # noqa: E402
from gate.errors import (  # noqa: E402
    BaselineNotFound,
    ConfigError,
    DataMissing,
    EvalFailed,
    GateError,
    InfraError,
    ModelLoadError,
)
from gate.record import EvalRecord, ItemOutcome, TaskResult  # noqa: E402

__all__ = [
    "__version__",
    "BaselineNotFound",
    "ConfigError",
    "DataMissing",
    "EvalFailed",
    "EvalRecord",
    "GateError",
    "InfraError",
    "ItemOutcome",
    "ModelLoadError",
    "ModelSpec",
    "Suite",
    "TaskResult",
    "TaskSpec",
    "Thresholds",
    "load_suite",
    "load_thresholds",
]
