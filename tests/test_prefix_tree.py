"""The prefix tree: every scored position is covered exactly once, and shared spans are forwarded once."""

from __future__ import annotations

import random

import pytest

from gate.lmeval.prefix_tree import build_tree, count_unique_tokens, forwarded_tokens


def _paths(root):
    """For each node, the absolute token sequence from the root to its end."""
    out = {}

    def rec(node, prefix):
        seq = prefix + node.tokens
        out[id(node)] = seq
        for c in node.children:
            rec(c, seq)

    for c in root.children:
        rec(c, [])
    return out


def _check_targets(root, seqs, scored_from):
    paths = _paths(root)
    got: dict[int, list[tuple[int, int]]] = {}
    for node in root.walk():
        if node is root:
            continue
        path = paths[id(node)]
        assert len(path) == node.end
        for t in node.targets:
            pos = node.start + t.offset
            # the request's own input agrees with the node's path up to the scored position
            assert seqs[t.request][: pos + 1] == path[: pos + 1]
            got.setdefault(t.request, []).append((pos, t.token))
    for i, s in enumerate(seqs):
        want = [(p, s[p + 1]) for p in range(scored_from[i], len(s) - 1)]
        assert sorted(got[i]) == want, f"request {i}"


def test_options_of_one_question_share_their_context():
    ctx = list(range(100, 140))
    seqs = [ctx + [1, 2, 3], ctx + [1, 2, 4], ctx + [7], ctx + [8, 9]]
    root = build_tree(seqs, [len(ctx) - 1] * 4, min_span=4)
    _check_targets(root, seqs, [len(ctx) - 1] * 4)
    assert len(root.children) == 1 and root.children[0].tokens == ctx
    # inputs are seq[:-1]: the context once, then only what the options add
    assert forwarded_tokens(root) == len(ctx) + 2 + 1


def test_few_shot_block_is_shared_across_questions():
    shots = list(range(500, 600))
    questions = [[1000 + q * 10 + k for k in range(20)] for q in range(5)]
    seqs, starts = [], []
    for q in questions:
        for opt in (1, 2, 3, 4):
            seqs.append(shots + q + [opt])
            starts.append(len(shots) + len(q) - 1)
    root = build_tree(seqs, starts)
    _check_targets(root, seqs, starts)
    assert forwarded_tokens(root) == len(shots) + 5 * 20
    assert forwarded_tokens(root) == count_unique_tokens([s[:-1] for s in seqs])


def test_short_shared_spans_are_pushed_down():
    # "Question:" shared by two unrelated long contexts is recomputed rather than given its own pass
    seqs = [[1, 2, 3] + list(range(10, 60)) + [5], [1, 2, 3] + list(range(70, 120)) + [6]]
    root = build_tree(seqs, [52, 52], min_span=16)
    assert [len(c.tokens) for c in root.children] == [53, 53]
    _check_targets(root, seqs, [52, 52])


@pytest.mark.parametrize("seed", range(20))
def test_random_requests_cover_every_scored_position(seed):
    rnd = random.Random(seed)
    seqs, starts = [], []
    prefixes = [[rnd.randrange(5) for _ in range(rnd.randrange(1, 30))] for _ in range(4)]
    for _ in range(rnd.randrange(1, 40)):
        ctx = rnd.choice(prefixes) + [rnd.randrange(5) for _ in range(rnd.randrange(0, 6))]
        if not ctx:
            ctx = [0]
        cont = [rnd.randrange(5) for _ in range(rnd.randrange(1, 5))]
        seqs.append(ctx + cont)
        starts.append(len(ctx) - 1)
    root = build_tree(seqs, starts, min_span=rnd.choice([0, 3, 16]))
    _check_targets(root, seqs, starts)
    assert forwarded_tokens(root) >= count_unique_tokens([s[:-1] for s in seqs])
    exact = build_tree(seqs, starts, min_span=0)  # nothing pushed down: exactly the unique tokens
    assert forwarded_tokens(exact) == count_unique_tokens([s[:-1] for s in seqs])


def test_duplicate_requests_are_scored_from_one_pass():
    seqs = [[1, 2, 3, 4]] * 3
    root = build_tree(seqs, [2, 2, 2], min_span=0)
    assert forwarded_tokens(root) == 3
    _check_targets(root, seqs, [2, 2, 2])


def test_empty_continuation_is_refused():
    with pytest.raises(ValueError, match="request 0"):
        build_tree([[1]], [0])


def test_count_unique_tokens():
    assert count_unique_tokens([[1, 2, 3], [1, 2, 4], [1, 5]]) == 5
    assert count_unique_tokens([]) == 0
