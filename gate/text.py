"""Cutting text to fit a cell, a line or a field, with a visible mark where it was cut."""

from __future__ import annotations

ELLIPSIS = "…"


def clip(text: str, limit: int, *, keep: str = "start", one_line: bool = False) -> str:
    """`text` in at most `limit` characters, `…` marking the cut.

    keep="start" keeps the beginning (a fingerprint, a reason); keep="end" keeps the end (a prompt,
    whose question is at its end). one_line=True first folds all whitespace to single spaces.
    """
    if one_line:
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    if keep == "end":
        return ELLIPSIS + text[len(text) - (limit - 1) :]
    return text[: limit - 1] + ELLIPSIS
