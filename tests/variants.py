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


def fine_tune(model, pad_id: int, examples: list[tuple[list[int], list[int]]], steps: int, lr: float):
    """A few CPU steps of AdamW on (input ids, labels) pairs, four a batch, in bf16 autocast (as
    scripts/finetune_domain.py: ~1.5x faster on CPU); only the parameters that require grad learn.
    Returns the model in eval mode."""
    opt = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=lr)
    model.train()
    for step in range(steps):
        batch = [examples[(step * 4 + k) % len(examples)] for k in range(4)]
        width = max(len(i) for i, _ in batch)
        ids = torch.tensor([i + [pad_id] * (width - len(i)) for i, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model.eval()
