"""Token prefix trees over scoring requests: which spans are shared, and how many tokens are unique.

A log-likelihood request is a token sequence `context + continuation`; the model reads all of it but the
last token, and the continuation's tokens are scored from the logits at positions `len(context) - 1` onward.
Requests that share a prefix (the options of one question, the few-shot block of one MMLU subject) share
the keys and values of that prefix, so the prefix only needs one forward pass. This module is pure: it
builds the tree and counts tokens; `gate.lmeval.gate_hf` runs it through a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_MIN_SPAN = 16  # shorter shared spans are recomputed per child: one more forward pass would cost more


@dataclass(frozen=True)
class Target:
    """One scored position: request `request` reads the logits at `offset` in the node's span for `token`."""

    request: int
    offset: int
    token: int


@dataclass(eq=False)
class Node:
    """A span of tokens shared by every request below it; `start` is its absolute position in them."""

    start: int
    tokens: list[int]
    children: list[Node] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    terminal: bool = False  # some request's input ends here, so the span cannot be pushed into the children

    @property
    def end(self) -> int:
        return self.start + len(self.tokens)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


def _lcp(a: np.ndarray, b: np.ndarray) -> int:
    m = min(len(a), len(b))
    diff = np.flatnonzero(a[:m] != b[:m])
    return int(diff[0]) if diff.size else m


def _sorted_with_lcp(seqs: Sequence[Sequence[int]]) -> tuple[list[int], list[np.ndarray], np.ndarray]:
    order = sorted(range(len(seqs)), key=lambda i: list(seqs[i]))
    arrs = [np.asarray(seqs[i], dtype=np.int64) for i in order]
    lcp = np.zeros(len(arrs), dtype=np.int64)  # lcp[k] = common prefix of sorted k-1 and k
    for k in range(1, len(arrs)):
        lcp[k] = _lcp(arrs[k - 1], arrs[k])
    return order, arrs, lcp


def count_unique_tokens(seqs: Sequence[Sequence[int]]) -> int:
    """Nodes of a token trie over `seqs`: the tokens a perfect prefix cache would forward once each."""
    if not seqs:
        return 0
    _, arrs, lcp = _sorted_with_lcp(seqs)
    return int(sum(len(a) for a in arrs) - lcp.sum())


def build_tree(
    sequences: Sequence[Sequence[int]],
    scored_from: Sequence[int],
    *,
    min_span: int = DEFAULT_MIN_SPAN,
) -> Node:
    """A radix tree over the model inputs `sequences[i][:-1]`, with the scored positions of each request.

    `sequences[i]` is request i's full token sequence (context + continuation) and `scored_from[i]` the
    first input position whose logits score it (`len(context) - 1`); position t scores `sequences[i][t + 1]`.
    The returned root has an empty span; every token of every input lies in exactly one node below it.
    Shared spans shorter than `min_span` tokens are pushed down into the children that share them.
    """
    if len(sequences) != len(scored_from):
        raise ValueError("sequences and scored_from differ in length")
    inputs = [list(s)[:-1] for s in sequences]
    for i, s in enumerate(inputs):
        if not s or not 0 <= scored_from[i] < len(s):
            raise ValueError(f"request {i}: needs a non-empty context and continuation")
    root = Node(start=0, tokens=[])
    if not inputs:
        return root
    order, arrs, lcp = _sorted_with_lcp(inputs)

    def targets_for(lo: int, hi: int, start: int, end: int) -> list[Target]:
        out = []
        for k in range(lo, hi):
            req = order[k]
            full = sequences[req]
            for t in range(max(start, scored_from[req]), end):
                out.append(Target(req, t - start, int(full[t + 1])))
        return out

    def build(lo: int, hi: int, start: int) -> Node:
        end = len(arrs[lo]) if hi - lo == 1 else int(lcp[lo + 1 : hi].min())
        node = Node(start=start, tokens=arrs[lo][start:end].tolist(), targets=targets_for(lo, hi, start, end))
        k = lo
        while k < hi and len(arrs[k]) == end:  # inputs equal to the span sort first
            node.terminal = True
            k += 1
        while k < hi:
            j = k + 1
            while j < hi and lcp[j] > end:
                j += 1
            node.children.append(build(k, j, end))
            k = j
        return node

    top = build(0, len(arrs), 0)
    root.children = [top] if top.tokens else top.children
    if not top.tokens:  # only possible when inputs differ at their first token
        root.terminal = top.terminal
    _collapse(root, min_span)
    return root


def _collapse(node: Node, min_span: int) -> None:
    """Push short, non-terminal spans down into their children (one forward pass fewer per level)."""
    kids: list[Node] = []
    pending = list(node.children)
    while pending:
        c = pending.pop(0)
        if c.children and not c.terminal and len(c.tokens) < min_span:
            for g in c.children:
                shift = len(c.tokens)
                g.targets = [Target(t.request, t.offset + shift, t.token) for t in g.targets]
                mine = {t.request for t in g.targets} | _requests_below(g)
                g.targets = [t for t in c.targets if t.request in mine] + g.targets
                g.tokens = c.tokens + g.tokens
                g.start = c.start
                pending.append(g)
        else:
            kids.append(c)
    node.children = kids
    for c in kids:
        _collapse(c, min_span)


def _requests_below(node: Node) -> set[int]:
    return {t.request for n in node.walk() for t in n.targets}


def forwarded_tokens(root: Node) -> int:
    """Tokens the tree forwards (every span once)."""
    return sum(len(n.tokens) for n in root.walk())
