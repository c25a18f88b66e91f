"""The jagged-profile warning of a diff (`Comparison.jagged`), as text or markdown lines. Formatting only."""

from __future__ import annotations

from collections.abc import Callable

from gate.results import Comparison


def jagged_lines(c: Comparison, fmt: str, cell: Callable[[str], str] = str) -> list[str]:
    """One warning per jagged task, then a blank line; nothing when no task is jagged.

    `cell` escapes text for markdown (the comparison renderer's own escaping, passed in).
    """
    if not c.jagged:
        return []
    if fmt == "markdown":
        out = []
        for j in c.jagged:
            label = "Jagged profile (blocks)" if j.blocking else "Jagged profile"
            out += [f"> ⚠️ **{label}**: {cell(j.message)}.", ""]
        return out
    return [f"!! jagged profile{' (blocks)' if j.blocking else ''}: {j.message}" for j in c.jagged]
