"""Render the floor verdict of `gate check` (`Verdict`) as text, markdown or JSON. Formatting only:
pass or fail comes from `Verdict`, computed once in `gate.decide.floors`."""

from __future__ import annotations

import json
from dataclasses import asdict

from gate.results import Verdict


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def verdict_rows(v: Verdict) -> list[list[str]]:
    rows = [["task", "metric", "value", f"{100 * (1 - v.alpha):.0f}% CI", "floor", "margin", "n", "outcome"]]
    for c in v.checks:
        ci = "-" if c.ci_low is None else f"[{c.ci_low:.3f}, {c.ci_high:.3f}]"
        floor = f"{'>=' if c.higher_is_better else '<='} {c.floor}"
        outcome = c.outcome + (" (near chance)" if c.near_chance else "")
        rows.append([c.task, c.metric, _fmt(c.value), ci, floor, _fmt(c.margin, 3), str(c.n), outcome])
    return rows


def render_verdict_text(v: Verdict) -> str:
    rows = verdict_rows(v)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = [v.headline, "", *lines]
    if v.reasons:
        out += ["", *[f"- {r}" for r in v.reasons]]
    early = [c for c in v.checks if c.reason.startswith("early verdict")]
    if early:
        out += ["", *[f"{c.task}: {c.reason}" for c in early]]
    notes = [c for c in v.checks if c.near_chance]
    if notes:
        out += [
            "",
            "Near chance: "
            + ", ".join(f"{c.task} ({_fmt(c.value)} vs chance {_fmt(c.chance)})" for c in notes)
            + ". A floor there cannot tell this model from random guessing.",
        ]
    return "\n".join(out) + "\n"


def render_verdict_markdown(v: Verdict) -> str:
    rows = verdict_rows(v)
    md = [f"**{v.headline}**", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    if v.reasons:
        md += ["", *[f"- {r}" for r in v.reasons]]
    return "\n".join(md) + "\n"


def render_verdict_json(v: Verdict) -> str:
    data = {
        "passed": v.passed,
        "exit_code": v.exit_code,
        "headline": v.headline,
        "reasons": v.reasons,
        "alpha": v.alpha,
        "state": v.state,
        "inconclusive_blocks": v.inconclusive_blocks,
        "checks": [asdict(c) | {"margin": c.margin} for c in v.checks],
        "blocking": [asdict(b) for b in v.blocking],
    }
    return json.dumps(data, indent=2) + "\n"


def render_verdict(v: Verdict, fmt: str) -> str:
    return {"text": render_verdict_text, "markdown": render_verdict_markdown, "json": render_verdict_json}[fmt](v)
