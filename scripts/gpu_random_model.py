#!/usr/bin/env python
"""A SmolLM2-1.7B-shaped model with seeded random weights, for timing on a machine that reaches no hub.

The shape is SmolLM2-1.7B's published config (Llama architecture: 24 layers, hidden 2048, 32 heads,
MLP 8192, vocabulary 49152); the tokenizer is the bundled SmolLM2-135M's, which the whole SmolLM2
family shares. Its answers mean nothing: scripts/bench.py on it measures time and tokens forwarded.

Usage: python scripts/gpu_random_model.py --out DIR [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SMOLLM2_1_7B = dict(
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=24,
    num_attention_heads=32,
    num_key_value_heads=32,
    vocab_size=49152,
    max_position_embeddings=8192,
    rope_theta=130000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
    bos_token_id=1,
    eos_token_id=2,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from gate.run.models import SMOLLM2_GGUF, smollm2_gguf_dir

    if (args.out / "config.json").exists():
        print(f"{args.out}: already built")
        return 0
    torch.manual_seed(args.seed)
    config = LlamaConfig(**SMOLLM2_1_7B, torch_dtype="bfloat16")
    with torch.device(args.device):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(args.out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(smollm2_gguf_dir()), gguf_file=SMOLLM2_GGUF).save_pretrained(args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {n / 1e9:.2f}B parameters, bf16, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
