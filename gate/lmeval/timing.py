"""Operational measurements at the backend: how long each generation request took, how many tokens it
returned, and how many log-likelihood requests ran and for how long.

`metered(lm)` wraps one lm-eval LM for the duration of one task's evaluation. Per-request latency is
measured where the model runs, not around `simple_evaluate`: for the `hf` and `gate-hf` backends each
call of `HFLM._model_generate` (one padded batch through `model.generate`) is timed and its time
divided by the batch's rows; with batch size 1 that is each request's own time. Backends without that
method (vLLM, API models) are timed per `generate_until` call, divided by its requests. The record
says which (`timing_method`).

Written against lm-eval 0.4.13: `simple_evaluate` calls `getattr(lm, request_type)(requests)` on the
LM object, and `HFLM.generate_until` calls `self._model_generate(context=..., ...)` once per batch with
`context` a [rows, tokens] tensor. The methods are replaced on the instance only, and restored after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gate.record_operational import ItemTokens


@dataclass
class Meter:
    """What one task's evaluation asked of the backend."""

    timing_method: str  # "request" (batch size 1) | "batch" (batch time / rows) | "call" (call time / requests)
    latencies_s: list[float] = field(default_factory=list)  # one per generation request, in no item order
    items: list[ItemTokens] = field(default_factory=list)
    generation_seconds: float = 0.0
    loglikelihood_requests: int = 0
    loglikelihood_seconds: float = 0.0
    _batches: list[tuple[int, float]] = field(default_factory=list)


def _sync(lm: Any) -> None:
    """Wait for queued CUDA work, so a batch's time is its own and not the next one's."""
    import torch

    device = getattr(lm, "device", None)
    if torch.cuda.is_available() and getattr(device, "type", None) == "cuda":
        torch.cuda.synchronize(device)


def _count_tokens(lm: Any, text: str) -> int:
    return len(lm.tok_encode(text)) if text else 0


def timing_method(lm: Any) -> str:
    """How `metered` times this LM's generation requests (see the module's docstring)."""
    if not hasattr(lm, "_model_generate"):
        return "call"
    return "request" if getattr(lm, "batch_size", 1) == 1 else "batch"


@contextmanager
def metered(lm: Any) -> Iterator[Meter]:
    """Measure the generation and log-likelihood requests `lm` answers inside the block."""
    batched = hasattr(lm, "_model_generate")
    meter = Meter(timing_method=timing_method(lm))
    saved: dict[str, Any] = {}

    def patch(name: str, wrapper: Any) -> None:
        if name in vars(lm):
            saved[name] = vars(lm)[name]
        setattr(lm, name, wrapper)

    if batched:
        inner_generate = lm._model_generate

        def model_generate(context: Any, *args: Any, **kwargs: Any) -> Any:
            _sync(lm)
            start = time.perf_counter()
            out = inner_generate(context, *args, **kwargs)
            _sync(lm)
            meter._batches.append((int(context.shape[0]), time.perf_counter() - start))
            return out

        patch("_model_generate", model_generate)

    inner_until = lm.generate_until

    def generate_until(requests: list[Any], *args: Any, **kwargs: Any) -> list[str]:
        start, first = time.perf_counter(), len(meter._batches)
        out = inner_until(requests, *args, **kwargs)  # a failure propagates: the run fails closed (exit 3)
        call_s = time.perf_counter() - start
        batches = meter._batches[first:]
        if batches:
            for rows, seconds in batches:
                meter.latencies_s.extend([seconds / rows] * rows)
            meter.generation_seconds += sum(s for _, s in batches)
        elif requests:
            meter.latencies_s.extend([call_s / len(requests)] * len(requests))
            meter.generation_seconds += call_s
        for req, text in zip(requests, out, strict=True):
            meter.items.append(ItemTokens(str(req.task_name), int(req.doc_id), _count_tokens(lm, str(text))))
        return out

    patch("generate_until", generate_until)

    for name in ("loglikelihood", "loglikelihood_rolling"):
        inner = getattr(lm, name, None)
        if inner is None:
            continue

        def scored(requests: list[Any], *args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
            start = time.perf_counter()
            out = _inner(requests, *args, **kwargs)
            meter.loglikelihood_requests += len(requests)
            meter.loglikelihood_seconds += time.perf_counter() - start
            return out

        patch(name, scored)
    try:
        yield meter
    finally:
        for name in ("_model_generate", "generate_until", "loglikelihood", "loglikelihood_rolling"):
            if name in saved:
                setattr(lm, name, saved[name])
            elif name in vars(lm):
                delattr(lm, name)


def gathered(lm: Any, meter: Meter) -> Meter:
    """The meters of every rank of a data-parallel run as one (each rank timed its own share); `meter`
    itself in one process.

    lm-eval evens the ranks' request counts by repeating a rank's last request: those copies are timed
    and counted like any request (at most processes - 1 per request type and task). Output tokens are
    per item, so a copy of an item already measured is left out.
    """
    if getattr(lm, "world_size", 1) <= 1:
        return meter
    import torch.distributed as dist

    parts: list[Any] = [None] * lm.world_size
    dist.all_gather_object(parts, meter)
    seen: set[tuple[str, int]] = set()
    items = []
    for m in parts:
        for it in m.items:
            if (it.task, it.doc_id) not in seen:
                seen.add((it.task, it.doc_id))
                items.append(it)
    return Meter(
        timing_method=meter.timing_method,
        latencies_s=[x for m in parts for x in m.latencies_s],
        items=items,
        generation_seconds=sum(m.generation_seconds for m in parts),
        loglikelihood_requests=sum(m.loglikelihood_requests for m in parts),
        loglikelihood_seconds=sum(m.loglikelihood_seconds for m in parts),
    )


def peak_memory(device: str) -> tuple[int, str]:
    """Peak memory of this process so far: CUDA's peak allocated bytes on a CUDA device, else peak RSS."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(device)), "cuda_peak_allocated"
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak_rss"  # Linux reports KiB


def hardware(device: str) -> str:
    """What the measurement ran on, as a comparable string: the accelerator's name, else the CPU model and threads."""
    import torch

    if device.startswith("cuda"):
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        import platform

        model = platform.processor() or platform.machine()
    return f"cpu: {model or 'unknown'} ({torch.get_num_threads()} threads)"
