"""The contamination probe's findings as plain data (`gate.decide.contamination` computes them).

A probed task runs twice (`gate.lmeval.probe`): as itself and as `<task>_permuted`, the same items with
their options in a seeded new order. A model that learned the answers follows them to their new places;
one that learned the benchmark's option order does not, and its score falls. Imports nothing heavy:
`Comparison.from_dict` reads these back in the publish job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeGap:
    """One record's probe of one task: its paired items' score in the original and the permuted order."""

    task: str
    companion: str  # the `<task>_permuted` task of the record
    n: int  # items paired by doc id
    original: float  # mean over the paired items
    permuted: float
    gap: float  # permuted - original, in the metric's better direction (negative: worse when permuted)
    low: float  # (1 - alpha) paired interval of the gap
    high: float
    flagged: bool  # the gap's interval lies wholly beyond the allowed gap: possible memorisation of the order
    message: str


@dataclass(frozen=True)
class ContaminationCheck:
    """A diff's probe of one task: the candidate's gap against the baseline's (their position-bias baseline)."""

    task: str
    candidate: ProbeGap
    baseline: ProbeGap | None  # None: the baseline record has no probe of this task
    # candidate gap - baseline gap over the items all four runs share (difference in differences, paired per item)
    growth: float | None
    growth_low: float | None
    growth_high: float | None
    n: int  # items the growth is measured on
    max_gap: float
    flagged: bool  # the gap grew beyond max_gap (interval wholly), or without a baseline probe: the gap itself
    blocking: bool
    message: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContaminationCheck:
        """The check back from its asdict() form (`Comparison.from_dict`); TypeError or KeyError when it is not one."""
        base = data.get("baseline")
        return cls(
            **{**data, "candidate": ProbeGap(**data["candidate"]), "baseline": ProbeGap(**base) if base else None}
        )
