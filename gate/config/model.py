"""ModelSpec: what checkpoint to load and how (dtype, device, quantisation, lm-eval backend)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gate.config.suite import Suite
from gate.errors import ConfigError

QUANTIZATIONS = ("none", "8bit", "4bit")
DTYPES = ("auto", "float32", "float16", "bfloat16")
# lm-eval's API models: an OpenAI-compatible server the gate does not load (gate.run.served)
SERVED_BACKENDS = ("local-completions", "local-chat-completions")
BACKENDS = ("hf", "gate-hf", "vllm", *SERVED_BACKENDS)


@dataclass(frozen=True)
class ModelSpec:
    """What to load and how to run it."""

    model: str  # local dir, hub id, or dir holding a GGUF file
    revision: str | None = None
    gguf_file: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 8
    quantization: str = "none"
    backend: str | None = None  # None: the suite's `backend`, else hf (see resolve_backend)
    trust_remote_code: bool = False
    allow_pickle: bool = False
    max_length: int | None = None
    # a served model (SERVED_BACKENDS): `model` is the name the server serves it under
    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1
    weights: str | None = None  # the served weights' folder, where the runner can read it: fingerprint, tokenizer
    num_concurrent: int = 1  # lm-eval's num_concurrent: requests in flight
    max_retries: int = 3  # lm-eval's max_retries: attempts per request before the run fails
    # vLLM's spread over the GPUs of one runner (lm-eval's vllm arguments); 1, 1 and vLLM's default otherwise
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float | None = None


def resolve_backend(spec: ModelSpec, *suites: Suite | None) -> ModelSpec:
    """The backend a run uses: --backend (or the checkpoint file's), else the suites' own, else hf.

    One model is loaded and wrapped once per run, so chained suites (--then) that name different
    backends are refused rather than silently run on one of them.
    """
    if spec.backend is not None:
        return spec
    named = {s.backend: s for s in suites if s is not None and s.backend is not None}
    if len(named) > 1:
        (a, sa), (b, sb) = list(named.items())[:2]
        raise ConfigError(
            f"{sb.path}: backend: {b} differs from {sa.path}'s {a}; one run loads the model once: "
            "give --backend, or make the suites agree"
        )
    return replace(spec, backend=next(iter(named), "hf"))
