"""Render a baseline diff (`Comparison`) as text, markdown or JSON. Formatting only: pass or fail comes from
`Comparison`, computed once in `gate.decide.compare`.

Output is deterministic (no clock, no randomness), so golden files can pin it and a sticky PR
comment only changes when the result does.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from gate.report.contamination import contamination_lines, without_empty_contamination
from gate.report.jagged import jagged_lines
from gate.report.markdown import Trends, environment_note, render_markdown
from gate.report.operational import operational_text, without_empty_operational
from gate.report.pairwise import pairwise_text, without_empty_pairwise
from gate.results import CategoryMove, Comparison, FlippedItem, TaskComparison, fmt_delta, fmt_score
from gate.store.keys import safe_uri
from gate.text import clip

FORMATS = ("text", "markdown", "json")


def render_comparison(c: Comparison, fmt: str, trends: Trends | None = None) -> str:
    """The comparison as `text` (terminal), `markdown` (PR comment, job summary) or `json`.

    `trends` (task -> its value in the last baselines, oldest first) adds a sparkline column to markdown.
    """
    if fmt == "json":
        return _json(c)
    if fmt == "markdown":
        return _markdown(c, trends)
    if fmt == "text":
        return _text(c)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def _ci(t: TaskComparison) -> str:
    if t.ci_low is None or t.ci_high is None:
        return "n/a"
    return f"{fmt_delta(t.ci_low, t.percent)} to {fmt_delta(t.ci_high, t.percent)}"


def _ci_name(c: Comparison) -> str:
    return f"{1 - c.alpha:.0%} CI"


def _p(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _allowed(t: TaskComparison) -> str:
    return fmt_delta(t.allowance, t.percent, signed=False) if t.gated else "informational"


def _short_fp(fp: str) -> str:
    return clip(fp, 20)


def _context_lines(c: Comparison) -> list[tuple[str, str]]:
    b, p = c.baseline, c.policy
    where = safe_uri(b.tracking_uri) if b.tracking_uri else "n/a"  # printed into PR comments: no credentials
    yes = {True: "yes", False: "no"}
    lines = [
        ("baseline", f"'{b.name}', run {b.run_id}, model {c.baseline_model} ({_short_fp(c.baseline_fingerprint)})"),
        (
            "frozen",
            f"{b.frozen_at or 'n/a'} by {b.frozen_by or 'n/a'} in {where}",
        ),
        (
            "candidate",
            f"model {c.candidate_model} ({_short_fp(c.candidate_fingerprint)}), run {c.candidate_run_id or 'none'}",
        ),
        ("thresholds", c.thresholds_source),
        (
            "policy",
            f"alpha {c.alpha:g}, power {c.power:.0%}; likely regression blocks: {yes[p.block_on_likely_regression]}, "
            f"inconclusive blocks: {yes[p.inconclusive_blocks]}, "
            f"forgetting blocks: {yes[p.block_on_forgetting]}, "
            f"not comparable blocks: {yes[p.block_on_not_comparable]}",
        ),
    ] + ([("rules not applied", "in neither record: " + ", ".join(c.unmatched_rules))] if c.unmatched_rules else [])
    if c.environment_differences:
        lines.append(("setup differences", environment_note(c)))
    return lines


# ---------------------------------------------------------------- text


def _text(c: Comparison) -> str:
    out = [c.headline]
    if c.forgetting:
        out.append(f"!! {c.forgetting.message}")
    out += jagged_lines(c, "text")
    out += contamination_lines(c, "text")
    out.append("")
    head = ("task", "kind", "metric", "baseline", "candidate", "delta", _ci_name(c), "MDE@80%", "allowed", "decision")
    rows = [head]
    for t in c.tasks:
        rows.append(
            (
                t.name,
                t.kind,
                t.metric,
                fmt_score(t.baseline_value, t.percent),
                fmt_score(t.candidate_value, t.percent),
                fmt_delta(t.delta, t.percent),
                _ci(t),
                fmt_delta(t.mde, t.percent, signed=False),
                _allowed(t),
                t.decision + (" (blocks)" if t.blocking else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append("")
    for t in c.tasks:
        out.append(f"{t.name}: {t.reason}")
        if t.n_paired:
            out.append(
                f"  n={t.n_paired} paired ({t.method}, {t.n_clusters} units), p={_p(t.p_value)}, "
                f"Holm p={_p(t.p_adjusted)}; newly wrong {t.newly_wrong}, newly right {t.newly_right}"
            )
        out += [f"  {line}" for line in _context_text(t)]
        for label, items in (("newly wrong", t.newly_wrong_examples), ("newly right", t.newly_right_examples)):
            for it in items:
                out.append(f"  {label}: {_item_text(it)}")
    out.append("")
    out += operational_text(c)
    out += pairwise_text(c)
    out += [f"{k}: {v}" for k, v in _context_lines(c)]
    return "\n".join(out) + "\n"


def _category_text(m: CategoryMove, percent: bool) -> str:
    move = f"{fmt_score(m.baseline, percent)} -> {fmt_score(m.candidate, percent)}"
    return f"{m.category} {move} ({fmt_delta(m.delta, percent)})"


def _context_text(t: TaskComparison) -> list[str]:
    ctx = t.context
    out = []
    if ctx.blocking_failures:
        out.append(f"high-severity cases failed (block): {', '.join(ctx.blocking_failures)}")
    if ctx.categories:
        out.append("categories: " + "; ".join(_category_text(m, t.percent) for m in ctx.categories))
    out += [f"note: {n}" for n in ctx.notes]
    return out


def _item_text(it: FlippedItem) -> str:
    where = f"{it.group}/" if it.group else ""
    move = f"{it.baseline_score:g} -> {it.candidate_score:g}"
    pred = f" [{it.baseline_prediction} -> {it.candidate_prediction}]" if it.baseline_prediction else ""
    return f"doc {where}{it.doc_id} ({move}){pred}: {it.excerpt}"


# ---------------------------------------------------------------- markdown


def _markdown(c: Comparison, trends: Trends | None = None) -> str:
    return render_markdown(c, trends)  # laid out for GitHub's comment column: gate.report.markdown


# ---------------------------------------------------------------- json


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON data, with the verdict properties spelled out."""
    data = without_empty_pairwise(without_empty_contamination(without_empty_operational(_finite(asdict(c)))))
    data = {
        "passed": c.passed,
        "exit_code": c.exit_code,
        "headline": c.headline,
        **data,
    }
    return data


def _json(c: Comparison) -> str:
    return json.dumps(comparison_dict(c), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
