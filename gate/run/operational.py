"""The record's operational blocks from what `gate.lmeval.timing` measured: per task, then for the run."""

from __future__ import annotations

from collections.abc import Sequence

from gate.lmeval.timing import Meter, hardware, peak_memory
from gate.record import ModelInfo, TaskResult
from gate.record_operational import GenerationStats, ItemTokens, RunOperational, TaskOperational

DIGITS = 6  # microseconds: finer is timer noise, and the record stays readable


def generation_stats(latencies: Sequence[float], tokens: Sequence[int], seconds: float) -> GenerationStats | None:
    """Percentiles of per-request latency and output length (numpy's linear interpolation); None without requests."""
    if not latencies:
        return None
    import numpy as np

    lat = np.asarray(latencies, dtype=float)
    tok = np.asarray(tokens, dtype=float)
    p50, p95, p99 = (float(np.percentile(lat, q)) for q in (50, 95, 99))
    return GenerationStats(
        requests=len(latencies),
        latency_p50_s=round(p50, DIGITS),
        latency_p95_s=round(p95, DIGITS),
        latency_p99_s=round(p99, DIGITS),
        output_tokens_mean=round(float(tok.mean()), 3) if len(tok) else 0.0,
        output_tokens_p95=round(float(np.percentile(tok, 95)), 3) if len(tok) else 0.0,
        tokens_per_second=round(float(tok.sum()) / seconds, 3) if seconds > 0 else 0.0,
    )


def task_operational(meters: Sequence[Meter]) -> TaskOperational:
    """One task's operational block from the meters of its evaluation (several for an early verdict's chunks)."""
    lat = [x for m in meters for x in m.latencies_s]
    items: list[ItemTokens] = [i for m in meters for i in m.items]
    seconds = sum(m.generation_seconds for m in meters)
    return TaskOperational(
        generation=generation_stats(lat, [i.output_tokens for i in items], seconds),
        loglikelihood_requests=sum(m.loglikelihood_requests for m in meters),
        loglikelihood_seconds=round(sum(m.loglikelihood_seconds for m in meters), DIGITS),
        generation_seconds=round(seconds, DIGITS),
        latencies_s=tuple(round(x, DIGITS) for x in lat),
        output_tokens=tuple(items),
    )


def merged(parts: Sequence[TaskOperational | None]) -> TaskOperational | None:
    """The operational block of one task measured in parts (the early verdict's chunks)."""
    ops = [p for p in parts if p is not None]
    if not ops:
        return None
    lat = [x for p in ops for x in p.latencies_s]
    items = [i for p in ops for i in p.output_tokens]
    seconds = sum(p.generation_seconds for p in ops)
    return TaskOperational(
        generation=generation_stats(lat, [i.output_tokens for i in items], seconds),
        loglikelihood_requests=sum(p.loglikelihood_requests for p in ops),
        loglikelihood_seconds=round(sum(p.loglikelihood_seconds for p in ops), DIGITS),
        generation_seconds=round(seconds, DIGITS),
        latencies_s=tuple(lat),
        output_tokens=tuple(items),
    )


def run_operational(
    tasks: Sequence[TaskResult], model: ModelInfo, timing_method: str, wall: float, price_per_hour: float | None
) -> RunOperational:
    """The run's block: every task's requests together, the process's peak memory, the cost of the wall time."""
    ops = [t.operational for t in tasks if t.operational is not None]
    lat = [x for o in ops for x in o.latencies_s]
    items = [i.output_tokens for o in ops for i in o.output_tokens]
    seconds = sum(o.generation_seconds for o in ops)
    memory, kind = peak_memory(model.device)
    cost = round(wall / 3600 * price_per_hour, 6) if price_per_hour is not None else None
    return RunOperational(
        hardware=hardware(model.device),
        timing_method=timing_method,
        generation=generation_stats(lat, items, seconds),
        loglikelihood_requests=sum(o.loglikelihood_requests for o in ops),
        peak_memory_bytes=memory,
        peak_memory_kind=kind,
        failed_requests=0,  # a failed request fails the run closed (exit 3): a written record saw none
        retried_requests=0,  # the hf, gate-hf and vLLM backends do not retry
        price_per_hour=price_per_hour,
        estimated_cost=cost,
    )
