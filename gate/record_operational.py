"""The operational part of a record: what a run cost in time, tokens and memory, beside what it scored.

Per task, the generation requests' latency percentiles, output lengths and throughput, with the raw
per-request latencies and per-item output lengths kept so a diff can put an interval on a change
(`gate.decide.operational`); for the run, the same over all tasks, the peak memory, failed requests,
the estimated cost and the hardware it was measured on. Built by `gate.run.operational` from what
`gate.lmeval.timing` measured at the backend. Plain dataclasses: nothing heavy is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The names a thresholds file may give an operational rule (`operational.max_increase` / `max_decrease`),
# the record field each reads, and where it lives ("task": per generative task, "run": the whole run).
INCREASE_METRICS = {
    "latency_p50": ("latency_p50_s", "task"),
    "latency_p95": ("latency_p95_s", "task"),
    "latency_p99": ("latency_p99_s", "task"),
    "output_tokens_mean": ("output_tokens_mean", "task"),
    "output_tokens_p95": ("output_tokens_p95", "task"),
    "peak_memory": ("peak_memory_bytes", "run"),
    "cost": ("estimated_cost", "run"),
}
DECREASE_METRICS = {
    "tokens_per_second": ("tokens_per_second", "task"),
}


@dataclass(frozen=True)
class ItemTokens:
    """Output tokens of one generation request (the returned answer re-tokenized), by leaf task and doc id."""

    task: str
    doc_id: int
    output_tokens: int


@dataclass(frozen=True)
class GenerationStats:
    """Generation requests summarized: latency per request, output tokens per request, throughput."""

    requests: int
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    output_tokens_mean: float
    output_tokens_p95: float
    tokens_per_second: float  # output tokens over the seconds spent generating them


@dataclass(frozen=True)
class TaskOperational:
    generation: GenerationStats | None  # None: the task made no generation requests
    loglikelihood_requests: int = 0
    loglikelihood_seconds: float = 0.0
    generation_seconds: float = 0.0
    latencies_s: tuple[float, ...] = ()  # one per generation request, for the diff's bootstrap
    output_tokens: tuple[ItemTokens, ...] = ()  # one per generation request, paired per item in a diff


@dataclass(frozen=True)
class RunOperational:
    """The run's operational numbers, and what makes two runs' numbers comparable (hardware, timing)."""

    hardware: str  # e.g. "cpu: AMD EPYC 7B13 (2 threads)" or "cuda: NVIDIA H100 80GB HBM3"
    timing_method: str  # "request" (batch size 1), "batch" (each batch's time / its rows), "call"
    generation: GenerationStats | None
    loglikelihood_requests: int
    peak_memory_bytes: int
    peak_memory_kind: str  # "cuda_peak_allocated" | "peak_rss" (the process's peak resident set)
    failed_requests: int
    retried_requests: int
    price_per_hour: float | None = None  # of the runner, as given to `gate run --price-per-hour`
    estimated_cost: float | None = None  # wall time x price per hour


def fmt_value(metric: str, v: float) -> str:
    """A metric's value in its unit, for reasons and reports."""
    if metric.startswith("latency"):
        return f"{v:.3g} s"
    if metric.startswith("output_tokens"):
        return f"{v:.1f} tokens"
    if metric == "tokens_per_second":
        return f"{v:.3g} tokens/s"
    if metric == "peak_memory":
        return f"{v / 2**20:.0f} MiB"
    return f"{v:.4g}"  # cost, in the price's currency


def task_operational_from_dict(data: dict[str, Any] | None) -> TaskOperational | None:
    if data is None:
        return None
    gen = data.get("generation")
    return TaskOperational(
        generation=GenerationStats(**gen) if gen is not None else None,
        loglikelihood_requests=data.get("loglikelihood_requests", 0),
        loglikelihood_seconds=data.get("loglikelihood_seconds", 0.0),
        generation_seconds=data.get("generation_seconds", 0.0),
        latencies_s=tuple(data.get("latencies_s", ())),
        output_tokens=tuple(ItemTokens(**i) for i in data.get("output_tokens", ())),
    )


def run_operational_from_dict(data: dict[str, Any] | None) -> RunOperational | None:
    if data is None:
        return None
    gen = data.get("generation")
    return RunOperational(**{**data, "generation": GenerationStats(**gen) if gen is not None else None})
