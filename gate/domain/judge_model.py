"""The judge's model: any lm-eval LM the gate can load, behind `gate.domain.judge.Judge`.

A judge spec names the backend and its arguments, the same way lm-eval's `--model` and
`--model_args` do:

    hf:<model dir, hub id or dir holding a GGUF file>       a local model, loaded like the candidate
    local-chat-completions:model=NAME,base_url=URL           an OpenAI-compatible chat endpoint
    local-completions:model=NAME,base_url=URL,tokenizer=...  an OpenAI-compatible completions endpoint

API keys come from the environment (lm-eval reads OPENAI_API_KEY); a spec never holds one,
because the spec is written into the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gate.errors import ConfigError, ModelLoadError
from gate.lmeval.backends import generate, lm_from_args

API_BACKENDS = ("local-chat-completions", "local-completions")
JUDGE_MAX_GEN_TOKS = 256


@dataclass
class LmEvalJudge:
    """Wraps an lm-eval LM: greedy generation, prompt sent as one user turn for chat models."""

    lm: Any  # lm_eval.api.model.LM
    name: str
    chat: bool = True
    max_gen_toks: int = JUDGE_MAX_GEN_TOKS

    def complete(self, prompts: Sequence[str]) -> list[str]:
        return generate(self.lm, prompts, chat=self.chat, max_gen_toks=self.max_gen_toks, who=f"judge {self.name}")


def _parse_args(arg_string: str, spec: str) -> dict[str, str]:
    args = {}
    for part in filter(None, arg_string.split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"judge model {spec!r}: {part!r} is not key=value; e.g. local-chat-completions:model=m,base_url=URL"
            )
        args[key.strip()] = value.strip()
    if any(k.lower() in ("api_key", "key", "token", "auth_token") for k in args):
        raise ConfigError(
            f"judge model {spec!r}: do not put keys in the spec (it is recorded); set OPENAI_API_KEY instead"
        )
    return args


def check_judge_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """The spec's backend, its argument string and (for API backends) its arguments, or a ConfigError:
    `gate run` checks the spec this way before it loads the candidate model."""
    backend, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(
            f"judge model {spec!r}: expected BACKEND:ARGS with BACKEND one of hf, {', '.join(API_BACKENDS)}"
        )
    if backend == "hf":
        return backend, rest, {}
    if backend not in API_BACKENDS:
        raise ConfigError(f"judge model {spec!r}: unknown backend {backend!r}; use hf, {', '.join(API_BACKENDS)}")
    args = _parse_args(rest, spec)
    if "base_url" not in args or "model" not in args:
        raise ConfigError(f"judge model {spec!r}: needs model=NAME and base_url=URL")
    return backend, rest, args


def load_judge(spec: str, *, max_gen_toks: int = JUDGE_MAX_GEN_TOKS) -> LmEvalJudge:
    """Load the judge a spec names (see the module docstring)."""
    backend, rest, args = check_judge_spec(spec)
    if backend == "hf":
        from gate.config import ModelSpec
        from gate.run.models import load_lm

        loaded = load_lm(ModelSpec(model=rest, batch_size=8))
        return LmEvalJudge(loaded.lm, name=spec, chat=True, max_gen_toks=max_gen_toks)
    arg_string = ",".join(f"{k}={v}" for k, v in args.items())
    try:
        lm = lm_from_args(backend, arg_string, batch_size=1)
    except (OSError, ValueError, ImportError) as e:
        raise ModelLoadError(f"judge model {spec!r}: could not set up the endpoint: {e}") from e
    return LmEvalJudge(lm, name=spec, chat=backend == "local-chat-completions", max_gen_toks=max_gen_toks)
