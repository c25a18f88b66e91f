"""lm-eval's model backends: the LM class a backend name stands for, and plain generation through one.

The gate loads weights itself (`gate.run.models`) and hands them to the LM class named here;
the judge (`gate.domain.judge_model`) builds API backends from an argument string and asks them
for greedy completions. Registering `gate-hf` with lm-eval happens here, before any lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gate.errors import EvalFailed


def lm_class(backend: str) -> Any:
    """The lm-eval LM class registered as `backend` ("hf", "gate-hf", "vllm", ...)."""
    import lm_eval.api.registry as registry

    if backend == "gate-hf":
        import gate.lmeval.gate_hf  # noqa: F401  (registers the backend with lm-eval)
    return registry.get_model(backend)


def spread_over(lm: Any, accelerator: Any) -> None:
    """Make an `hf`/`gate-hf` LM built on an already-loaded model one rank of a data-parallel run.

    lm-eval's HFLM joins `accelerate launch`'s processes only when it loads the weights itself, and on the
    GPU only; given a loaded model (as the gate gives it) it runs as one process, so every rank would
    evaluate every item. Written against lm-eval 0.4.13: the evaluator splits documents and gathers
    samples by `lm.rank`/`lm.world_size` (HFLM's private `_rank`, `_world_size`), and HFLM's
    `all_gather` and `barrier` go through `lm.accelerator`, as HFLM sets them under accelerate.
    """
    lm._rank = accelerator.process_index
    lm._world_size = accelerator.num_processes
    lm.accelerator = accelerator


def served_lm(backend: str, **kwargs: Any) -> Any:
    """lm-eval's API model `backend` (local-completions, local-chat-completions), each generation cut at the
    request's stop sequences as the in-process backends cut it.

    lm-eval leaves stopping to the server; OpenAI's API leaves the stop sequence out of the text, but some
    servers (`transformers serve`) return it: the same answer would then read differently from `hf`'s.
    Written against lm-eval 0.4.13: `generate_until(requests, disable_tqdm)`, `Instance.args = (context,
    gen_kwargs)`, `lm_eval.models.utils.postprocess_generated_text`.
    """
    from lm_eval.models.utils import postprocess_generated_text

    base = lm_class(backend)

    class Served(base):  # type: ignore[misc, valid-type]
        def generate_until(self, requests, disable_tqdm: bool = False):
            out = super().generate_until(requests, disable_tqdm=disable_tqdm)
            return [
                postprocess_generated_text(text, req.args[1].get("until"), None) if isinstance(text, str) else text
                for text, req in zip(out, requests, strict=True)
            ]

    Served.__name__ = base.__name__
    return Served(**kwargs)


def lm_from_args(backend: str, arg_string: str, batch_size: int = 1) -> Any:
    """An lm-eval LM built the way `lm-eval --model BACKEND --model_args ARGS` builds it."""
    return lm_class(backend).create_from_arg_string(arg_string, {"batch_size": batch_size})


def generate(lm: Any, prompts: Sequence[str], *, chat: bool, max_gen_toks: int, who: str) -> list[str]:
    """Greedy completions of `prompts` (lm-eval's `generate_until`), each sent as one user turn when `chat`.

    A failure of the model or endpoint is EvalFailed, its message starting with `who`.
    """
    from lm_eval.api.instance import Instance

    gen = {"until": [], "max_gen_toks": max_gen_toks, "do_sample": False, "temperature": 0.0}
    requests = []
    for i, prompt in enumerate(prompts):
        ctx = lm.apply_chat_template([{"role": "user", "content": prompt}]) if chat else prompt
        requests.append(
            Instance(request_type="generate_until", doc={}, arguments=(ctx, dict(gen)), idx=0, metadata=("judge", i, 1))
        )
    try:
        return [str(r) for r in lm.generate_until(requests)]
    except (OSError, RuntimeError, ValueError) as e:
        raise EvalFailed(f"{who}: generation failed: {e}") from e
