"""The operational rules of a `Comparison` (latency, output length, throughput, memory, cost) as text,
markdown and JSON; formatting only, the decisions are `gate.decide.operational`'s."""

from __future__ import annotations

from typing import Any

from gate.record import EvalRecord
from gate.record_operational import fmt_value
from gate.results import Comparison, OperationalCheck

_ICON = {"ok": "✅", "exceeded": "❌", "inconclusive": "⚪", "not_comparable": "➖"}


def _change(o: OperationalCheck) -> str:
    if o.change is None:
        return "n/a"
    ci = f" ({o.ci_low:+.0%} to {o.ci_high:+.0%})" if o.ci_low is not None and o.ci_high is not None else ""
    return f"{o.change:+.0%}{ci}"


def _values(o: OperationalCheck) -> tuple[str, str]:
    if o.baseline_value is None or o.candidate_value is None:
        return "n/a", "n/a"
    return fmt_value(o.metric, o.baseline_value), fmt_value(o.metric, o.candidate_value)


def _allowed(o: OperationalCheck) -> str:
    return f"{'+' if o.worse_when == 'higher' else '-'}{o.limit:.0%}"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def operational_text(c: Comparison) -> list[str]:
    """Lines for the text report: a table of the rules, then each rule's reason; nothing without rules."""
    if not c.operational:
        return []
    head = ("operational", "metric", "baseline", "candidate", "change (CI)", "allowed", "decision")
    rows = [head]
    for o in c.operational:
        b, v = _values(o)
        decision = o.decision + (" (blocks)" if o.blocking else "")
        rows.append((o.scope, o.metric, b, v, _change(o), _allowed(o), decision))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out += [o.reason for o in c.operational]
    return [*out, ""]


def operational_markdown(c: Comparison) -> list[str]:
    """Lines for the markdown report (PR comment, job summary); nothing without rules."""
    if not c.operational:
        return []
    # Six columns at most, as every table of the PR comment (it must fit GitHub's comment column).
    out = [
        "Fractions of the baseline; compared only on the same hardware and settings.",
        "",
        "| scope · metric | baseline | candidate | change (CI) | allowed | decision |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for o in c.operational:
        b, v = _values(o)
        decision = f"{_ICON.get(o.decision, '')} {o.decision.replace('_', ' ')}"
        if o.blocking:
            decision = f"**{decision} (blocks)**"
        out.append(f"| `{o.scope}` {o.metric} | {b} | {v} | {_change(o)} | {_allowed(o)} | {decision} |")
    out.append("")
    out += [f"- {_cell(o.reason)}" for o in c.operational]
    title = "Operational: latency, output length, memory, cost"
    if any(o.blocking for o in c.operational):  # what blocks is never folded away
        return [f"**{title}**", "", *out, ""]
    return ["<details>", f"<summary>{title}</summary>", "", *out, "", "</details>", ""]


def without_empty_operational(data: dict[str, Any]) -> dict[str, Any]:
    """A comparison's JSON without an empty `operational` list: files without operational rules read as before."""
    if not data.get("operational"):
        data = {k: v for k, v in data.items() if k != "operational"}
    return data


def run_operational_line(r: EvalRecord) -> str | None:
    """One line of `gate run`'s summary: where it ran, generation latency and length, memory, cost."""
    op = r.operational
    if op is None:
        return None
    parts = [op.hardware]
    g = op.generation
    if g is not None:
        parts.append(
            f"{g.requests} generation requests: latency P50/P95/P99 {g.latency_p50_s:.3g}/{g.latency_p95_s:.3g}/"
            f"{g.latency_p99_s:.3g} s (timed per {op.timing_method}), {g.output_tokens_mean:.1f} output tokens mean, "
            f"{g.tokens_per_second:.3g} tokens/s"
        )
    parts.append(f"peak memory {fmt_value('peak_memory', op.peak_memory_bytes)} ({op.peak_memory_kind})")
    if op.estimated_cost is not None:
        parts.append(f"estimated cost {op.estimated_cost:.4g} at {op.price_per_hour:g}/hour")
    return "operational: " + "; ".join(parts)
