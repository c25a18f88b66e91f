"""A `Comparison`'s pairwise-judge row (the candidate's win rate against the baseline) as text, markdown and
JSON; formatting only, the decision is `gate.decide.pairwise`'s."""

from __future__ import annotations

from typing import Any

from gate.pairwise import PairwiseCheck
from gate.results import Comparison

_ICON = {"ok": "✅", "below_floor": "❌", "inconclusive": "⚪", "not_comparable": "➖", "informational": "ℹ️"}


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _rate(p: PairwiseCheck) -> str:
    if p.win_rate is None:
        return "n/a"
    ci = f" ({p.ci_low:.1%} to {p.ci_high:.1%})" if p.ci_low is not None and p.ci_high is not None else ""
    return f"{p.win_rate:.1%}{ci}"


def _floor(p: PairwiseCheck) -> str:
    return "none" if p.min_win_rate is None else f"{p.min_win_rate:.0%}"


def _counts(p: PairwiseCheck) -> str:
    return f"{p.wins}/{p.ties}/{p.losses}/{p.judge_failures}"


def pairwise_text(c: Comparison) -> list[str]:
    """Lines for the text report; nothing without a pairwise row."""
    p = c.pairwise
    if p is None:
        return []
    decision = p.decision + (" (blocks)" if p.blocking else "")
    return [
        f"pairwise judge: win rate {_rate(p)}, floor {_floor(p)}, won/tied/lost/judge failures {_counts(p)}: "
        f"{decision}",
        f"  {p.reason}",
        *([f"  judge: {p.judge}; tasks: {', '.join(p.tasks)}"] if p.judge else []),
        "",
    ]


def pairwise_markdown(c: Comparison) -> list[str]:
    """Lines for the markdown report (PR comment, job summary): a one-row table, folded unless it blocks."""
    p = c.pairwise
    if p is None:
        return []
    decision = f"{_ICON.get(p.decision, '')} {p.decision.replace('_', ' ')}"
    if p.blocking:
        decision = f"**{decision} (blocks)**"
    out = [
        "Blinded, judged in both orders; a preference counts only when it survives the swap, else a tie; "
        "judge failures count as lost.",
        "",
        "| win rate (CI) | floor | prompts | won · tied · lost · judge failures | decision |",
        "|--:|--:|--:|--:|---|",
        f"| {_rate(p)} | {_floor(p)} | {p.n} | {p.wins} · {p.ties} · {p.losses} · {p.judge_failures} | {decision} |",
        "",
        f"- {_cell(p.reason)}",
    ]
    if p.judge:
        out.append(f"- judge {_cell(p.judge)}; tasks {', '.join(f'`{t}`' for t in p.tasks)}")
    title = "Pairwise judge: win rate against the baseline"
    if p.blocking:  # what blocks is never folded away
        return [f"**{title}**", "", *out, ""]
    return ["<details>", f"<summary>{title}</summary>", "", *out, "", "</details>", ""]


def without_empty_pairwise(data: dict[str, Any]) -> dict[str, Any]:
    """A comparison's JSON without a null `pairwise`: diffs without the pairwise judge read as before."""
    if data.get("pairwise") is None:
        data = {k: v for k, v in data.items() if k != "pairwise"}
    return data
