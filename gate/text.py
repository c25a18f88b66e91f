"""Cutting text to fit a cell, a line or a field, with a visible mark where it was cut; redacting secrets from it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable

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


# Credentials that can turn up inside an exception's text: GitHub tokens, Hugging Face tokens,
# a user:password in a URL, and whatever follows an Authorization header's scheme.
SECRET_PATTERNS = (
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9_]{10,}|github_pat_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{20,})"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    re.compile(r"(?i)\b((?:token|bearer|basic)\s+)[^\s'\"]{8,}"),
)
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value, and anything shaped like a credential, replaced by `***`.

    A secret is also removed in the escaped forms an exception message gives it (`repr`, JSON), and
    piece by piece when it holds whitespace, so a token with a pasted newline never leaks half of itself.
    """
    values: set[str] = set()
    for s in secrets:
        if not s or len(s.strip()) < 4:
            continue
        values.update({s, s.strip(), repr(s)[1:-1], json.dumps(s)[1:-1]})
        values.update(part for part in s.split() if len(part) >= 4)
    for v in sorted(values, key=len, reverse=True):
        text = text.replace(v, REDACTED)
    text = SECRET_PATTERNS[0].sub(REDACTED, text)
    text = SECRET_PATTERNS[1].sub(REDACTED, text)
    return SECRET_PATTERNS[2].sub(lambda m: m.group(1) + REDACTED, text)


def fmt_score(value: float | None, percent: bool) -> str:
    """A score as people read it: a percentage for proportions (46.7%), else 4 significant digits."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:.1f}%" if percent else f"{value:.4g}"


def fmt_delta(value: float | None, percent: bool, signed: bool = True) -> str:
    """Metric units as people read them: points (x100) for proportions."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "undetectable"
    v = value * 100 if percent else value
    out = f"{v:+.1f}" if signed else f"{v:.1f}"
    if percent:
        out += " pts"
    return out


# ---------------------------------------------------------------- reading a comparison back from JSON
