"""The operational rules of a thresholds file (`operational:`): how much slower, more verbose, hungrier
for memory or costlier a candidate may be than its baseline, as fractions of the baseline's value.

    operational:
      max_increase: {latency_p95: 0.20, output_tokens_mean: 0.50, peak_memory: 0.10}
      max_decrease: {tokens_per_second: 0.20}

The metric names are those of `gate.record_operational` (the schema lists the same ones); an unknown
name or a negative fraction is a ConfigError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.record_operational import DECREASE_METRICS, INCREASE_METRICS


@dataclass(frozen=True)
class OperationalRules:
    max_increase: dict[str, float] = field(default_factory=dict)  # worse when higher: latency, tokens, memory, cost
    max_decrease: dict[str, float] = field(default_factory=dict)  # worse when lower: throughput

    def __bool__(self) -> bool:
        return bool(self.max_increase or self.max_decrease)


def load_operational(data: dict[str, Any] | None, path: Path) -> OperationalRules:
    """The `operational:` block, already schema-checked; checked again here for callers that build it by hand."""
    if not data:
        return OperationalRules()
    for key, known in (("max_increase", INCREASE_METRICS), ("max_decrease", DECREASE_METRICS)):
        for name, frac in (data.get(key) or {}).items():
            if name not in known:
                raise ConfigError(
                    f"{path}: operational.{key}.{name}: not an operational metric; use one of {', '.join(known)}"
                )
            if not isinstance(frac, int | float) or isinstance(frac, bool) or frac < 0:
                raise ConfigError(
                    f"{path}: operational.{key}.{name}: {frac!r} must be a fraction of the baseline at least 0 "
                    "(0.20 allows 20% worse)"
                )
    return OperationalRules(
        max_increase={k: float(v) for k, v in (data.get("max_increase") or {}).items()},
        max_decrease={k: float(v) for k, v in (data.get("max_decrease") or {}).items()},
    )
