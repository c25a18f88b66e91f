#!/usr/bin/env python
"""Fine-tune a small causal LM briefly on narrow domain text, on the CPU, and save a safetensors checkpoint.

This makes the candidate of the forgetting demo (scripts/demo.sh): a full fine-tune with a learning
rate high enough that the model learns the Harbor & Finch policy (the domain suite goes up) while
its general ability visibly drops (ARC-Easy and HellaSwag go down). That is the failure the gate
exists to catch: a checkpoint that looks better on the team's own task and is worse everywhere else.

    python scripts/finetune_domain.py MODEL_DIR --out out/candidate
    python scripts/finetune_domain.py MODEL_DIR --out out/candidate --steps 40 --lr 3e-4 --fp32

MODEL_DIR is a transformers folder with safetensors weights (for the default model:
`python -c "from gate.run.models import smollm2_dir; print(smollm2_dir())"`).
Writes OUT/model.safetensors, the config and tokenizer, and OUT/finetune.json (settings, corpus hash, losses).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

DEFAULT_CORPUS = Path(__file__).parent / "data" / "harbor_finch_policy.txt"


def blocks(lines: list[str], tok, seq_len: int, rng: random.Random) -> list[list[int]]:
    """Lines in a shuffled order, joined with EOS and cut into blocks of seq_len tokens."""
    order = lines[:]
    rng.shuffle(order)
    ids: list[int] = []
    for line in order:
        ids.extend(tok(line, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
    return [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--steps", type=int, default=48)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fp32", action="store_true", help="Compute in float32 (default: bfloat16 autocast, ~1.5x faster).")
    a = p.parse_args(argv)

    if not (a.model_dir / "config.json").is_file():
        print(f"finetune: {a.model_dir}: not a transformers model folder (no config.json)", file=sys.stderr)
        return 2
    if a.out.exists() and any(a.out.iterdir()):
        print(f"finetune: {a.out}: exists and is not empty; choose another --out", file=sys.stderr)
        return 2
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    text = a.corpus.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]

    config = AutoConfig.from_pretrained(a.model_dir)
    quant = getattr(config, "quantization_config", None)
    if quant is not None:
        method = quant.get("quant_method") if isinstance(quant, dict) else getattr(quant, "quant_method", None)
        if str(method) != "gguf":
            print(f"finetune: {a.model_dir}: quantized ({method}); use a full-precision one", file=sys.stderr)
            return 2
        # A folder converted from GGUF holds plain dequantised tensors but may still name the GGUF
        # quantizer in its config, which would make save_pretrained refuse the result at the end.
        del config.quantization_config
    tok = AutoTokenizer.from_pretrained(a.model_dir)
    model = AutoModelForCausalLM.from_pretrained(a.model_dir, config=config, dtype=torch.float32)
    model.train()
    # The (tied) embeddings stay frozen: they are a fifth of the weights, and their dense gradient
    # and optimizer state would cost more CPU time than the transformer blocks' share of the damage.
    model.get_input_embeddings().weight.requires_grad_(False)
    opt = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=a.lr, weight_decay=0.0)

    t0 = time.monotonic()
    losses: list[float] = []
    pool: list[list[int]] = []
    for step in range(a.steps):
        if len(pool) < a.batch_size:
            pool = blocks(lines, tok, a.seq_len, rng)
        batch = torch.tensor([pool.pop() for _ in range(a.batch_size)])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not a.fp32):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        if step % 5 == 0 or step == a.steps - 1:
            print(f"step {step + 1}/{a.steps} loss {loss.item():.3f} ({time.monotonic() - t0:.0f}s)", file=sys.stderr)

    model.eval()
    a.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(a.out, safe_serialization=True)
    tok.save_pretrained(a.out)
    info = {
        "base": str(a.model_dir),
        "corpus": str(a.corpus),
        "corpus_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "steps": a.steps,
        "lr": a.lr,
        "batch_size": a.batch_size,
        "seq_len": a.seq_len,
        "seed": a.seed,
        "autocast_bf16": not a.fp32,
        "seconds": round(time.monotonic() - t0, 1),
        "losses": losses,
    }
    (a.out / "finetune.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"finetune: saved {a.out} in {info['seconds']}s (loss {losses[0]} -> {losses[-1]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
