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

from gate.report.operational import operational_markdown, operational_text, without_empty_operational
from gate.results import CategoryMove, Comparison, FlippedItem, TaskComparison, fmt_delta
from gate.store.keys import safe_uri
from gate.text import clip

FORMATS = ("text", "markdown", "json")
_ICON = {
    "regressed": "❌",
    "likely_regressed": "🔻",
    "inconclusive": "⚠️",
    "not_comparable": "⛔",
    "ok": "✅",
    "improved": "⬆️",
}


def render_comparison(c: Comparison, fmt: str) -> str:
    """The comparison as `text` (terminal), `markdown` (PR comment, job summary) or `json`."""
    if fmt == "json":
        return _json(c)
    if fmt == "markdown":
        return _markdown(c)
    if fmt == "text":
        return _text(c)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def _value(v: float | None, percent: bool) -> str:
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}%" if percent else f"{v:.4g}"


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
    return [
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


# ---------------------------------------------------------------- text


def _text(c: Comparison) -> str:
    out = [c.headline]
    if c.forgetting:
        out.append(f"!! {c.forgetting.message}")
    out.append("")
    head = ("task", "kind", "metric", "baseline", "candidate", "delta", _ci_name(c), "MDE@80%", "allowed", "decision")
    rows = [head]
    for t in c.tasks:
        rows.append(
            (
                t.name,
                t.kind,
                t.metric,
                _value(t.baseline_value, t.percent),
                _value(t.candidate_value, t.percent),
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
    out += [f"{k}: {v}" for k, v in _context_lines(c)]
    return "\n".join(out) + "\n"


def _category_text(m: CategoryMove, percent: bool) -> str:
    move = f"{_value(m.baseline, percent)} -> {_value(m.candidate, percent)}"
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


def _cell(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("`", "'")


def _markdown(c: Comparison) -> str:
    icon = {"failure": "❌", "neutral": "⚪"}.get(c.state, "✅")
    out = [f"### {icon} {_cell(c.headline)}", ""]
    if c.forgetting:
        out += [f"> ⚠️ **{_cell(c.forgetting.message)}.**", ""]
    out += [
        f"| task | kind | baseline | candidate | Δ | {_ci_name(c)} | MDE (80% power) | allowed drop | decision |",
        "|---|---|--:|--:|--:|---|--:|--:|---|",
    ]
    for t in c.tasks:
        decision = f"{_ICON.get(t.decision, '')} {t.decision.replace('_', ' ')}"
        if t.blocking:
            decision = f"**{decision} (blocks)**"
        out.append(
            f"| `{t.name}` ({_cell(t.metric)}) | {t.kind} | {_value(t.baseline_value, t.percent)} "
            f"| {_value(t.candidate_value, t.percent)} | {fmt_delta(t.delta, t.percent)} | {_ci(t)} "
            f"| {fmt_delta(t.mde, t.percent, signed=False)} | {_allowed(t)} | {decision} |"
        )
    out.append("")
    for t in c.tasks:
        stats = ""
        if t.n_paired:
            stats = f" (n={t.n_paired}, {t.method}, p={_p(t.p_value)}, Holm p={_p(t.p_adjusted)})"
        out.append(f"- `{t.name}`: {_cell(t.reason)}{stats}")
        out += [f"  - {_cell(line)}" for line in _context_text(t)]
    out.append("")
    for t in c.tasks:
        if not (t.newly_wrong or t.newly_right):
            continue
        out += [
            "<details>",
            f"<summary><code>{t.name}</code>: {t.newly_wrong} newly wrong, {t.newly_right} newly right</summary>",
            "",
        ]
        for label, items, total in (
            ("Newly wrong", t.newly_wrong_examples, t.newly_wrong),
            ("Newly right", t.newly_right_examples, t.newly_right),
        ):
            if not items:
                continue
            out += [
                f"{label} (first {len(items)} of {total}):",
                "",
                "| doc | baseline → candidate | prompt (end) |",
                "|---|---|---|",
            ]
            for it in items:
                where = f"{it.group}/" if it.group else ""
                move = f"{it.baseline_score:g} → {it.candidate_score:g}"
                if it.baseline_prediction or it.candidate_prediction:
                    move += f" ({_cell(it.baseline_prediction)} → {_cell(it.candidate_prediction)})"
                out.append(f"| {_cell(where)}{it.doc_id} | {move} | {_cell(it.excerpt)} |")
            out.append("")
        out += ["</details>", ""]
    out += operational_markdown(c)
    out += [f"**{k}**: {_cell(v)}  " for k, v in _context_lines(c)]
    out.append("")
    out.append(
        "<sub>Paired per item by task and doc id where doc and prompt hashes agree; interval clustered by group "
        "where a task has enough groups; p-values Holm-corrected across gated tasks; MDE = the true drop found "
        "regressed 80% of the time at this n.</sub>"
    )
    return "\n".join(out) + "\n"


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
    data = without_empty_operational(_finite(asdict(c)))
    data = {
        "passed": c.passed,
        "exit_code": c.exit_code,
        "headline": c.headline,
        **data,
    }
    return data


def _json(c: Comparison) -> str:
    return json.dumps(comparison_dict(c), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
