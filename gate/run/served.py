"""A served model: lm-eval's own API models (`local-completions`, `local-chat-completions`) against an
OpenAI-compatible server (vLLM serve, TGI, llama.cpp's server, Ollama, `transformers serve`).

The gate loads nothing: `--model` is the name the server serves, `--base-url` its API root. Before the
run (`check_served`): the server answers (bounded retries; unreachable is exit 3), serves that model
(else exit 2, naming what it serves), and, when the suite has log-likelihood tasks, returns prompt
log-probabilities (`echo` + `logprobs`); a server that cannot is refused before anything is evaluated,
never after an hour. The record's identity is the served model id and revision, or the weights'
fingerprint when `--weights DIR` can be read (which also gives the tokenizer). An API key is read from
the environment (`OPENAI_API_KEY`, as lm-eval reads it) and never printed; URLs are printed without
credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from gate.config import ModelSpec
from gate.errors import ConfigError, InfraError
from gate.record import ModelInfo, RunSetup
from gate.store.keys import safe_uri

PROBE_TIMEOUT_S = 10
PROBE_ATTEMPTS = 3  # bounded: an unreachable server fails the run in seconds, not hours
LOGLIKELIHOOD_TYPES = ("multiple_choice", "loglikelihood", "loglikelihood_rolling")


def api_root(base_url: str) -> str:
    """The API root (`http://host:port/v1`) of a --base-url, given with or without its endpoint."""
    root = base_url.rstrip("/")
    for tail in ("/chat/completions", "/completions"):
        if root.endswith(tail):
            return root[: -len(tail)]
    return root


def _endpoint(spec: ModelSpec) -> str:
    tail = "chat/completions" if spec.backend == "local-chat-completions" else "completions"
    return f"{api_root(spec.base_url or '')}/{tail}"


def _headers() -> dict[str, str]:
    key = os.environ.get("OPENAI_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _call(method: str, url: str, spec: ModelSpec, body: dict[str, Any] | None = None) -> Any:
    """One request with bounded retries; an unreachable server or a failing one is InfraError (exit 3)."""
    import requests

    where = safe_uri(url)
    last = ""
    for attempt in range(PROBE_ATTEMPTS):
        try:
            r = requests.request(method, url, json=body, headers=_headers(), timeout=PROBE_TIMEOUT_S)
        except requests.RequestException as e:
            last = type(e).__name__
        else:
            if r.status_code in (401, 403):
                raise ConfigError(
                    f"--base-url {safe_uri(spec.base_url or '')}: the server refused the request "
                    f"(HTTP {r.status_code}); set OPENAI_API_KEY to its API key"
                )
            if r.status_code < 500:
                try:
                    return r.status_code, r.json()
                except ValueError:
                    return r.status_code, None
            last = f"HTTP {r.status_code}"
        time.sleep(0.5 * (attempt + 1))
    raise InfraError(f"{method} {where}: the server did not answer after {PROBE_ATTEMPTS} attempts ({last})")


def served_models(spec: ModelSpec) -> list[str]:
    """The model ids the server lists at GET /models."""
    url = f"{api_root(spec.base_url or '')}/models"
    status, data = _call("GET", url, spec)
    try:
        assert status == 200
        return [str(m["id"]) for m in data["data"]]
    except (AssertionError, KeyError, TypeError):
        raise InfraError(f"GET {safe_uri(url)}: not an OpenAI-compatible model list (HTTP {status})") from None


def prompt_logprobs(spec: ModelSpec) -> bool:
    """Whether the server returns log-probabilities of the prompt's tokens (what lm-eval's
    `local-completions` scores a log-likelihood request with: `echo` + `logprobs`, one new token)."""
    body = {"model": spec.model, "prompt": "The sky is blue", "max_tokens": 1, "echo": True, "logprobs": 1}
    status, data = _call("POST", f"{api_root(spec.base_url or '')}/completions", spec, {**body, "temperature": 0})
    try:
        lp = data["choices"][0]["logprobs"]["token_logprobs"]
    except (KeyError, IndexError, TypeError):
        return False
    return status == 200 and isinstance(lp, list) and len(lp) > 1


def check_served(spec: ModelSpec, loglikelihood_tasks: list[str]) -> None:
    """Before the run: the options, the server, the model it serves, and prompt log-probabilities if needed."""
    where = safe_uri(spec.base_url or "")
    if not spec.base_url:
        raise ConfigError(
            f"--backend {spec.backend} needs --base-url, the server's API root (e.g. http://127.0.0.1:8000/v1)"
        )
    if spec.quantization != "none":
        raise ConfigError(
            f"--quantize {spec.quantization} with --backend {spec.backend}: the server runs the model as it is served "
            "(a GGUF, AWQ or GPTQ artefact); drop --quantize"
        )
    if spec.weights is not None and not Path(spec.weights).is_dir():
        raise ConfigError(f"--weights {spec.weights}: not a directory; pass the served weights' folder, or omit it")
    if loglikelihood_tasks and spec.backend == "local-chat-completions":
        raise ConfigError(
            f"--backend local-chat-completions: {', '.join(loglikelihood_tasks[:3])} score log-likelihoods, which "
            "lm-eval's chat API model cannot; use --backend local-completions against a server with prompt logprobs"
        )
    ids = served_models(spec)
    if spec.model not in ids:
        raise ConfigError(f"--model {spec.model}: {where} does not serve it; it serves {', '.join(ids) or 'nothing'}")
    if loglikelihood_tasks and not prompt_logprobs(spec):
        raise ConfigError(
            f"--base-url {where}: the server returns no prompt log-probabilities (echo + logprobs), which "
            f"{', '.join(loglikelihood_tasks[:3])} need; serve the model with vLLM, or run them with --backend hf"
        )


def loglikelihood_tasks(suites, data_dir: Path | None) -> list[str]:
    """The suite tasks (of any of `suites`) that score log-likelihoods: they need prompt log-probabilities."""
    from gate.errors import DataMissing
    from gate.lmeval.tasks import load_task

    out = []
    for suite in suites:
        for t in suite.tasks:
            try:
                types = load_task(t, suite, data_dir).output_types().values()
            except DataMissing:
                continue  # an optional task without data is skipped (validate_suite refused the others)
            if any(kind in LOGLIKELIHOOD_TYPES for kind in types):
                out.append(t.task)
    return out


def served_fingerprint(spec: ModelSpec) -> str:
    """The weights' fingerprint where `--weights` can be read; else the served model id and revision."""
    if spec.weights is not None:
        from gate.run.models import fingerprint

        return fingerprint(Path(spec.weights))
    blob = json.dumps({"served_model": spec.model, "revision": spec.revision}, sort_keys=True)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def load_served(spec: ModelSpec):
    """lm-eval's API model for the served model, and what the record says about it."""
    from gate.lmeval.backends import served_lm
    from gate.run.models import LoadedModel
    from gate.run.setup import tokenizer_hash

    args: dict[str, Any] = {
        "model": spec.model,
        "base_url": _endpoint(spec),
        "num_concurrent": spec.num_concurrent,
        "max_retries": spec.max_retries,
        "tokenized_requests": False,  # text prompts: every OpenAI-compatible server takes them
        "tokenizer_backend": "huggingface" if spec.weights else None,
        "tokenizer": spec.weights,
        "batch_size": 1,
    }
    if spec.max_length is not None:
        args["max_length"] = spec.max_length
    lm = served_lm(spec.backend or "local-completions", **args)
    info = ModelInfo(
        id=spec.model,
        revision=spec.revision,
        fingerprint=served_fingerprint(spec),
        dtype="served",
        device="server",
        batch_size=1,
        quantization="none",
        backend=spec.backend or "local-completions",
    )
    tok = getattr(lm, "tokenizer", None)
    setup = RunSetup(
        accelerator="server",
        device_count=0,
        driver=None,
        cuda=None,
        max_length=int(lm.max_length),
        tokenizer_hash=tokenizer_hash(tok) if tok is not None else "",
    )
    return LoadedModel(lm=lm, info=info, setup=setup)
