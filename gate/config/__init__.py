"""The gate's inputs, validated against the shipped schemas (`gate/schemas/`) and then frozen.

Nothing downstream of this package sees raw YAML.
"""

from gate.config.checkpoint import Checkpoint, load_checkpoint
from gate.config.model import BACKENDS, DTYPES, QUANTIZATIONS, SERVED_BACKENDS, ModelSpec, resolve_backend
from gate.config.suite import Suite, TaskSpec, load_suite
from gate.config.thresholds import Policy, TaskThreshold, Thresholds, load_thresholds

__all__ = [
    "BACKENDS",
    "SERVED_BACKENDS",
    "DTYPES",
    "QUANTIZATIONS",
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
    "resolve_backend",
]
