"""Checkpoint variants of the small model, made in a test or a benchmark: the same weights in another
dtype, moved by seeded noise, or with the final norm's sign flipped (every logit negated: answers ranked
backwards). One definition for the tests and `scripts/bench_early_diff.py`."""

from __future__ import annotations

from pathlib import Path

import torch


def variant(
    src: Path,
    out: Path,
    *,
    dtype: torch.dtype = torch.float32,
    noise: float = 0.0,
    noise_scale: str = "std",
    seed: int = 0,
    flip_norm: bool = False,
) -> Path:
    """Save a copy of the model in `src` to `out`; `noise` is relative to each tensor's spread
    (`noise_scale="std"`) or to each weight's own size (`"abs"`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if noise:
            for p in model.parameters():
                scale = p.float().std() if noise_scale == "std" else p.abs()
                p.add_((torch.randn(p.shape, generator=gen) * noise * scale).to(p.dtype))
        if flip_norm:
            model.model.norm.weight.mul_(-1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return out
