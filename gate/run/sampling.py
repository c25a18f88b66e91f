"""Which items to evaluate: all of them, a seeded sample stratified by group, or the doc ids of a record.

lm-eval's own `--limit` takes the *first* N docs of each subtask, which biases MMLU towards the
start of every subject file; a stratified random sample keeps every subject in proportion.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    """Doc ids to evaluate per leaf task; leaves with no ids are not run at all."""

    doc_ids: dict[str, list[int]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.doc_ids.values())

    def leaves(self) -> list[str]:
        return [k for k, v in self.doc_ids.items() if v]


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Split n items over strata in proportion to their sizes (largest remainder, ties by name)."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    quotas = {k: n * s / total for k, s in sizes.items()}
    alloc = {k: int(q) for k, q in quotas.items()}
    left = n - sum(alloc.values())
    by_remainder = sorted(sizes, key=lambda k: (-(quotas[k] - alloc[k]), k))
    for k in by_remainder[:left]:
        alloc[k] += 1
    return alloc


def stratified(sizes: dict[str, int], n: int | None, seed: int) -> Selection:
    """A seeded random sample of n items across leaves, proportional to leaf size; all items when n is None."""
    if n is None:
        return Selection({k: list(range(s)) for k, s in sizes.items()})
    alloc = allocate(sizes, n)
    out: dict[str, list[int]] = {}
    for leaf in sorted(sizes):
        # One generator per leaf, seeded by leaf name, so adding a subject elsewhere never
        # reshuffles this one's items.
        rng = random.Random(f"{seed}:{leaf}")
        out[leaf] = sorted(rng.sample(range(sizes[leaf]), alloc[leaf]))
    return Selection(out)


def from_doc_ids(sizes: dict[str, int], wanted: dict[str, list[int]], task: str) -> Selection:
    """Reuse exactly the items of an earlier record; an id past the end of a leaf is an error upstream."""
    out = {leaf: sorted(set(ids)) for leaf, ids in wanted.items() if leaf in sizes}
    return Selection(out)
