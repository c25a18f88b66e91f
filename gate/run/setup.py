"""Where and how a run ran (`RunSetup`): the accelerator, its driver and CUDA, the context window, the
tokenizer, and how the run was spread. `gate diff` reads it (`gate.decide.pairing`): a different context
window or tokenizer changes prompts, so the records are not comparable; a different GPU or library
version can move scores by a few tenths, so it is shown (and blocks only when the policy says so)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from typing import Any

from gate.record import RunSetup


def tokenizer_hash(tok: Any) -> str:
    """sha256 of what turns text into tokens: a fast tokenizer's whole definition (normalizer, pre-tokenizer,
    vocabulary, merges, added tokens), else its vocabulary and special tokens; and its chat template."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        body = backend.to_str()
    else:
        body = json.dumps({"vocab": tok.get_vocab(), "special": tok.special_tokens_map}, sort_keys=True, default=str)
    template = getattr(tok, "chat_template", None)
    blob = json.dumps({"tokenizer": body, "chat_template": template, "bos": getattr(tok, "add_bos_token", None)})
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _driver() -> str | None:
    """The NVIDIA driver version, as nvidia-smi reports it (torch does not expose it); None without one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


def run_setup(lm: Any, device: str, *, processes: int = 1) -> RunSetup:
    """The setup of a loaded lm-eval model on `device` ("cpu", "cuda", "cuda:N"), one of `processes`
    data-parallel processes (`gate.run.spread`; each on its own GPU, or all on the CPU)."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        accelerator, count = torch.cuda.get_device_name(index), 1
        tp = int(getattr(lm, "tensor_parallel_size", 1) or 1) * int(getattr(lm, "data_parallel_size", 1) or 1)
        count = max(count, tp, processes)  # data parallel: one GPU per process
        driver, cuda = _driver(), torch.version.cuda
    else:
        accelerator, count, driver, cuda = "cpu", 0, None, None
    tok = getattr(lm, "tokenizer", None)
    return RunSetup(
        accelerator=accelerator,
        device_count=count,
        driver=driver,
        cuda=cuda,
        max_length=int(lm.max_length),
        tokenizer_hash=tokenizer_hash(tok) if tok is not None else "",
        processes=processes,
    )
