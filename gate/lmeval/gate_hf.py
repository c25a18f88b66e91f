"""`gate-hf`: lm-eval's `hf` backend, scoring shared prefixes once.

lm-eval's `hf` forwards every request's whole `context + continuation`: each option of an ARC question
re-reads its 25-shot context, and every MMLU question of a subject re-reads the same 5-shot block. This
backend builds a token prefix tree over a call's requests (`gate.lmeval.prefix_tree`), forwards each shared span
once with `use_cache=True`, and forwards what follows it from those keys and values, batched: the
children of a batch of spans read their parents' cache rows, left-padded, with explicit position ids and
a 2-D attention mask. The token ids are the ones `hf` built (`TemplateLM.loglikelihood` is inherited), so
the log-likelihoods equal `hf`'s up to floating-point reassociation (fp32: within 1e-4).

Requests `hf` would truncate (longer than the model's window), sliding-window models and seq2seq models
fall back to `hf`'s own code path, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from transformers import DynamicCache

from gate.lmeval.prefix_tree import DEFAULT_MIN_SPAN, Node, build_tree
from gate.lmeval.terminal import request_bar

LOGIT_BUDGET_BYTES = 1 << 30  # kept logits per forward pass: bounds memory when many positions are scored
DEFAULT_TOKEN_BUDGET = 32768  # new tokens per forward pass (padding included)
MAX_PADDING = 1.15  # a batch's padded positions over its real tokens: wider gaps start a new batch


@dataclass
class ForwardStats:
    """What the backend forwarded since the last reset: bench.py reports these."""

    calls: int = 0
    tokens: int = 0  # real (non-padding) tokens
    padded: int = 0  # positions forwarded, padding included
    requests: int = 0
    fallback_requests: int = 0


@dataclass
class _Level:
    """A batch of spans just forwarded: the cache and mask their children continue from."""

    cache: Any
    mask: torch.Tensor  # [rows, past] bool


@register_model("gate-hf")
class PrefixCachedHFLM(HFLM):
    """An `hf` LM whose log-likelihoods run each shared prefix once (same answers, fewer tokens).

    Extra model args: `prefix_min_span` (shortest shared span worth its own forward pass, default 16),
    `prefix_token_budget` (new tokens per forward pass, default 32768).
    """

    def __init__(
        self, *args: Any, prefix_min_span: int = DEFAULT_MIN_SPAN, prefix_token_budget: int = DEFAULT_TOKEN_BUDGET, **kw
    ):
        super().__init__(*args, **kw)
        self.prefix_min_span = int(prefix_min_span)
        self.prefix_token_budget = int(prefix_token_budget)
        self.forward_stats = ForwardStats()

    # -- lm-eval entry point -------------------------------------------------------------------------

    # Written against lm-eval 0.4.13: overrides HFLM's private `_loglikelihood_tokens(requests, disable_tqdm,
    # override_bs)`, which `TemplateLM.loglikelihood` calls with ((context, continuation), context ids,
    # continuation ids) triples and expects (logprob, is_greedy) back in request order; it also reads HFLM's
    # `backend`, `max_length`, `model`, `softmax_dtype` and `cache_hook`.
    def _loglikelihood_tokens(
        self,
        requests: list[tuple[tuple[str, str], list[int], list[int]]],
        disable_tqdm: bool = False,
        override_bs: int | None = None,
    ) -> list[tuple[float, bool]]:
        if self.backend != "causal" or not requests:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        window = self._usable_window()
        mine = [i for i, (_, c, k) in enumerate(requests) if c and k and len(c) + len(k) <= window + 1]
        taken = set(mine)
        rest = [i for i in range(len(requests)) if i not in taken]
        out: list[tuple[float, bool] | None] = [None] * len(requests)
        if rest:
            self.forward_stats.fallback_requests += len(rest)
            fallback = super()._loglikelihood_tokens(
                [requests[i] for i in rest], disable_tqdm=disable_tqdm, override_bs=override_bs
            )
            for i, ans in zip(rest, fallback, strict=True):
                out[i] = ans
        if mine:
            answers = self._score_with_tree([requests[i] for i in mine], override_bs)
            for i, ans in zip(mine, answers, strict=True):
                out[i] = ans
                req_str = requests[i][0]
                if req_str is not None:
                    self.cache_hook.add_partial("loglikelihood", req_str, ans)
        self.forward_stats.requests += len(requests)
        return out  # type: ignore[return-value]

    def _usable_window(self) -> int:
        window = self.max_length
        sliding = getattr(self.model.config.get_text_config(decoder=True), "sliding_window", None)
        if sliding:  # sliding-window caches drop old keys; keep such models on hf's path past the window
            window = min(window, int(sliding) - 1)
        return window

    # -- scoring through the prefix tree -------------------------------------------------------------

    def _score_with_tree(self, requests, override_bs: int | None) -> list[tuple[float, bool]]:
        seqs = [ctx + cont for _, ctx, cont in requests]
        root = build_tree(seqs, [len(ctx) - 1 for _, ctx, _ in requests], min_span=self.prefix_min_span)
        n = len(requests)
        self._logp: list[list[float]] = [[] for _ in range(n)]
        self._greedy = [True] * n
        self._logp_dtype = torch.float32  # set by _gather to the log-softmax dtype
        rows = override_bs or (self.batch_size if isinstance(self.batch_size, int) else 64)
        self._max_rows = max(1, int(rows))
        # The task's progress bar moves as targets are scored (gate.lmeval.terminal; silent unless shown).
        self._bar = request_bar(sum(len(node.targets) for node in root.walk()), "Running loglikelihood requests")
        try:
            with torch.no_grad():
                self._forward_children([(c, 0) for c in root.children], None)
        finally:
            self._bar.close()
        out = []
        for i in range(n):
            # hf sums the gathered log-probs of the continuation in the softmax dtype (the floats held
            # here are those values exactly: float32 -> Python float -> float32 round-trips)
            total = torch.tensor(self._logp[i], dtype=self._logp_dtype).sum()
            out.append((float(total), self._greedy[i]))
        del self._logp, self._greedy, self._logp_dtype, self._bar
        return out

    def _forward_children(self, nodes: list[tuple[Node, int]], parent: _Level | None) -> None:
        nodes = sorted(nodes, key=lambda nr: len(nr[0].tokens))
        for chunk in self._chunks(nodes):
            level = self._forward(chunk, parent)
            self._bar.update(sum(len(node.targets) for node, _ in chunk))
            kids = [(c, row) for row, (node, _) in enumerate(chunk) for c in node.children]
            if kids:
                self._forward_children(kids, level)
            del level

    def _chunks(self, nodes: list[tuple[Node, int]]):
        vocab_bytes = self.model.config.get_text_config(decoder=True).vocab_size * 4
        chunk: list[tuple[Node, int]] = []
        width = keep = real = 0
        for nr in nodes:  # sorted by span length, so the last node added sets the width
            n = len(nr[0].tokens)
            n_width, n_keep, rows = max(width, n), max(keep, _keep(nr[0])), len(chunk) + 1
            over = (
                len(chunk) >= self._max_rows
                or rows * n_width > self.prefix_token_budget
                or rows * n_keep * vocab_bytes > LOGIT_BUDGET_BYTES
                or rows * n_width > MAX_PADDING * (real + n)
            )
            if chunk and over:
                yield chunk
                chunk, n_width, n_keep, real = [], n, _keep(nr[0]), 0
            chunk.append(nr)
            width, keep, real = n_width, n_keep, real + n
        if chunk:
            yield chunk

    def _forward(self, chunk: list[tuple[Node, int]], parent: _Level | None) -> _Level:
        dev = self.device
        width = max(len(node.tokens) for node, _ in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        pos = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.bool)
        for r, (node, _) in enumerate(chunk):
            n = len(node.tokens)
            ids[r, width - n :] = torch.tensor(node.tokens)
            pos[r, width - n :] = torch.arange(node.start, node.end)
            pos[r, : width - n] = node.start  # padding: any position; masked out as a key
            mask[r, width - n :] = True
        ids, pos, mask = ids.to(dev), pos.to(dev), mask.to(dev)
        if parent is None:
            cache = DynamicCache(config=self.model.config)
            full_mask = mask
        else:
            rows = torch.tensor([pr for _, pr in chunk], device=dev)
            cache = DynamicCache(
                [(layer.keys[rows], layer.values[rows]) for layer in parent.cache.layers], config=self.model.config
            )
            full_mask = torch.cat([parent.mask[rows], mask], dim=1)
        keep = max(_keep(node) for node, _ in chunk)
        has_kids = any(node.children for node, _ in chunk)
        extra = {"logits_to_keep": max(keep, 1)} if self._keeps_logits() else {}
        with torch.autocast(
            device_type=dev.type if isinstance(dev, torch.device) else torch.device(dev).type,
            dtype=self.mixed_precision_dtype,
            enabled=self.mixed_precision_dtype is not None,
        ):
            out = self.model(
                input_ids=ids,
                attention_mask=full_mask.long(),
                position_ids=pos,
                past_key_values=cache,
                use_cache=has_kids,
                **extra,
            )
        st = self.forward_stats
        st.calls += 1
        st.tokens += int(mask.sum())
        st.padded += ids.numel()
        if keep:
            self._gather(chunk, out.logits[:, -keep:, :] if out.logits.shape[1] > keep else out.logits, keep)
        return _Level(cache=out.past_key_values if has_kids else None, mask=full_mask)

    def _keeps_logits(self) -> bool:
        """Whether the model can skip the vocabulary projection of unscored positions (most HF causal LMs)."""
        if not hasattr(self, "_logits_to_keep"):
            import inspect

            self._logits_to_keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        return self._logits_to_keep

    def _gather(self, chunk: list[tuple[Node, int]], logits: torch.Tensor, keep: int) -> None:
        """Log-probabilities and greedy matches of every scored position in this batch."""
        rows, cols, toks, reqs = [], [], [], []
        for r, (node, _) in enumerate(chunk):
            n = len(node.tokens)
            for t in node.targets:
                rows.append(r)
                cols.append(keep - (n - t.offset))
                toks.append(t.token)
                reqs.append(t.request)
        if not rows:
            return
        dev = logits.device
        r_i, c_i = torch.tensor(rows, device=dev), torch.tensor(cols, device=dev)
        picked = logits[r_i, c_i]  # [targets, vocab]
        logp = F.log_softmax(picked, dim=-1, dtype=self.softmax_dtype)
        tok = torch.tensor(toks, device=dev)
        self._logp_dtype = logp.dtype
        vals = logp.gather(1, tok[:, None]).squeeze(1).cpu().tolist()
        greedy = (logp.argmax(dim=-1) == tok).cpu().tolist()
        for j, req in enumerate(reqs):
            self._logp[req].append(vals[j])
            if not greedy[j]:
                self._greedy[req] = False


def _keep(node: Node) -> int:
    """How many trailing positions of the node's span carry scored logits."""
    if not node.targets:
        return 0
    return len(node.tokens) - min(t.offset for t in node.targets)
