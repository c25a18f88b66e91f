"""Domain exceptions. The library raises these; only `gate.cli` maps them to exit codes.

    GateError                      base; exit_code 3 unless a subclass says otherwise
    ├── ConfigError                bad config, bad input file or bad usage (exit 2)
    │   ├── DataMissing            a task's data is not in the data directory (exit 2)
    │   ├── BaselineNotFound       no frozen baseline of that name (exit 2)
    │   └── GpuRequired            a GPU-only option on a machine without CUDA (exit 2)
    └── InfraError                 the gate itself could not do its job (exit 3)
        ├── ModelLoadError         the model did not load
        ├── EvalFailed             an evaluation crashed or returned fewer items than asked
        ├── StoreUnavailable       MLflow could not be reached or written
        └── GitHubUnavailable      GitHub could not be reached or refused us

Every message is one line that names the file, field or value at fault and what to do next.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_CONFIG = 2
EXIT_INFRA = 3


class GateError(Exception):
    """Base of every error the gate raises on purpose."""

    exit_code = EXIT_INFRA


class ConfigError(GateError):
    """Bad configuration, input file or usage."""

    exit_code = EXIT_CONFIG


class DataMissing(ConfigError):
    """A task's dataset file is missing from the data directory."""


class BaselineNotFound(ConfigError):
    """No frozen baseline by that name."""


class GpuRequired(ConfigError):
    """An option that needs CUDA was asked for where there is none."""


class InfraError(GateError):
    """The gate could not do its job; says nothing about the model's quality."""

    exit_code = EXIT_INFRA


class ModelLoadError(InfraError):
    """The model or tokenizer failed to load."""


class EvalFailed(InfraError):
    """lm-eval crashed, or returned fewer items than were asked for."""


class StoreUnavailable(InfraError):
    """The MLflow tracking store could not be reached or written."""


class GitHubUnavailable(InfraError):
    """GitHub could not be reached, or refused the request."""
