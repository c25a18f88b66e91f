"""Render the floor verdict of `gate check` (`Verdict`) as text, markdown or JSON. Formatting only:
pass or fail comes from `Verdict`, computed once in `gate.decide.floors`."""

from __future__ import annotations

import json
from dataclasses import asdict

from gate.metrics import UNIT, base_name, metric_range
from gate.results import FloorCheck, Verdict, fmt_delta, fmt_score


def _percent(c: FloorCheck) -> bool:
    """Scores of a metric bounded by [0, 1] read as percentages, margins as points, as in `gate diff`."""
    return metric_range(c.metric) == UNIT


# Columns of numbers: right-aligned in the terminal, so digits line up.
_NUMERIC = frozenset({"value", "floor", "margin", "n"})


def verdict_rows(v: Verdict) -> list[list[str]]:
    rows = [["task", "metric", "value", f"{100 * (1 - v.alpha):.0f}% CI", "floor", "margin", "n", "outcome"]]
    for c in v.checks:
        pc = _percent(c)
        ci = "-" if c.ci_low is None else f"({fmt_score(c.ci_low, pc)}, {fmt_score(c.ci_high, pc)})"
        floor = f"{'>=' if c.higher_is_better else '<='} {fmt_score(c.floor, pc)}"
        outcome = c.outcome + (" (near chance)" if c.near_chance else "")
        margin = "-" if c.margin is None else fmt_delta(c.margin, pc)
        value = "-" if c.value is None else fmt_score(c.value, pc)
        rows.append([c.task, base_name(c.metric), value, ci, floor, margin, str(c.n), outcome])
    return rows


def render_verdict_text(v: Verdict) -> str:
    rows = verdict_rows(v)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = [h in _NUMERIC for h in rows[0]]

    def line(r: list[str]) -> str:
        cells = (c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(r, widths, right, strict=True))
        return "  ".join(cells).rstrip()

    lines = [line(r) for r in rows]
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
            + ", ".join(
                f"{c.task} ({fmt_score(c.value, _percent(c))} vs chance {fmt_score(c.chance, _percent(c))})"
                for c in notes
            )
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
