"""A diff's contamination probes (`Comparison.contamination`), as text or markdown lines. Formatting only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gate.results import Comparison


def contamination_lines(c: Comparison, fmt: str, cell: Callable[[str], str] = str) -> list[str]:
    """A warning per flagged probe, the others' numbers folded (markdown) or indented (text); nothing without probes.

    `cell` escapes text for markdown (the comparison renderer's own escaping, passed in).
    """
    if not c.contamination:
        return []
    flagged = [p for p in c.contamination if p.flagged]
    quiet = [p for p in c.contamination if not p.flagged]
    if fmt == "markdown":
        out = []
        for p in flagged:
            label = "Option order (contamination probe, blocks)" if p.blocking else "Option order (contamination probe)"
            out += [f"> ⚠️ **{label}**: {cell(p.message)}.", ""]
        if quiet:
            out += ["<details><summary>Contamination probe: options permuted</summary>", ""]
            out += [f"- {cell(p.message)}" for p in quiet]
            out += ["", "</details>", ""]
        return out
    out = [f"!! contamination probe{' (blocks)' if p.blocking else ''}: {p.message}" for p in flagged]
    return out + [f"   contamination probe: {p.message}" for p in quiet]


def without_empty_contamination(data: dict[str, Any]) -> dict[str, Any]:
    """A comparison's JSON without an empty `contamination` list: diffs of unprobed suites read as before."""
    if not data.get("contamination"):
        data = {k: v for k, v in data.items() if k != "contamination"}
    return data
