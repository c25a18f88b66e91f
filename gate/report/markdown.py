"""A `Comparison` as the markdown a reviewer reads on GitHub: the PR comment, the job summary, the check.

Laid out for GitHub's 820 px comment column: a one-line heading (state and main cause), one line of
context, one table of at most six columns with the blocking rows first, and everything else
(statistics, flipped items, the forgetting explanation, provenance) folded in `<details>`.
Formatting only: the state and the cause come from `Comparison`, computed once in `gate.decide`.

The layout is a contract with `gate.github.comment` and `gate.ci.summary`: the first line is the
heading, the third the context line (`split_report`), so the comment can put its own links and the
baseline's age there and a multi-stage summary can merge the stages' rows into one table.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from gate.report.contamination import contamination_lines
from gate.report.jagged import jagged_lines
from gate.report.operational import operational_markdown
from gate.report.pairwise import pairwise_markdown
from gate.report.sparkline import sparkline
from gate.results import STATE_ICONS, STATE_WORDS, Comparison, FlippedItem, TaskComparison
from gate.store.keys import safe_uri
from gate.text import clip

STATE = {state: (STATE_ICONS[state], word) for state, word in STATE_WORDS.items()}
ICON = {
    "regressed": "❌",
    "likely_regressed": "🔻",
    "inconclusive": "⚠️",
    "not_comparable": "⛔",
    "ok": "✅",
    "improved": "⬆️",
}
UNDERPOWERED = "†"  # a footnote mark: ⚠️ already marks an inconclusive row
HEADING_CHARS = 140  # a heading longer than this wraps in the comment column
MINUS = "−"  # U+2212: a minus sign as wide as the plus, so the column lines up

Trends = Mapping[str, Sequence[float | None]]  # task -> its value in the last baselines, oldest first


def points(v: float | None, percent: bool, signed: bool = True) -> str:
    """A move in points (x100) for proportions, with a true minus sign: `−20.0`, `+3.1`."""
    if v is None or math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "undetectable"
    x = v * 100 if percent else v
    text = f"{x:+.1f}" if signed else f"{x:.1f}"
    return text.replace("-", MINUS)


def level(v: float | None, percent: bool) -> str:
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}" if percent else f"{v:.4g}"


def cell(s: str) -> str:
    """Text safe inside a table cell or inline HTML: no pipes, tags or code spans breaking out."""
    return html.escape(s, quote=False).replace("|", "\\|").replace("`", "'")


def heading(c: Comparison) -> str:
    icon, word = STATE[c.state]
    return f"### {icon} {word} — {cell(clip(c.cause, HEADING_CHARS, one_line=True))}"


def context_line(c: Comparison, model: bool = True) -> str:
    """Model, run, baseline (name, run, freeze date), items, duration and hardware, `·`-separated
    (without the model for a stage of a summary, whose pointer names it)."""
    b = c.baseline
    parts = [f"`{cell(c.candidate_model)}`" + (f" run `{c.candidate_run_id}`" if c.candidate_run_id else "")]
    parts = parts if model else []
    base = f"vs baseline **{cell(b.name)}** (run `{b.run_id}`"
    if b.frozen_at:
        base += f", frozen {b.frozen_at[:10]}"
    parts.append(base + ")")
    s = c.candidate_setup
    if s is not None:
        parts.append(f"{s.items:,} items, {duration(s.wall_seconds)} on {s.hardware}")
    return " · ".join(parts)


def duration(seconds: float) -> str:
    """`42 s`, `12 min`, `1 h 42 min`."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def table_head(percent: bool, trend: bool) -> list[str]:
    delta = "Δ pts (95% CI)" if percent else "Δ (95% CI)"
    cols = ["", "task · metric", "base → cand", delta, "allowed"] + (["trend"] if trend else [])
    align = [":-:", "---", "--:", "--:", "--:"] + ([":--"] if trend else [])
    return ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]


def underpowered(t: TaskComparison) -> bool:
    """The sample could miss a drop larger than the allowed one: a pass here says less than it seems."""
    return t.gated and t.mde is not None and t.mde > t.allowance


def table_row(t: TaskComparison, trend: Sequence[float | None] | None, stage: str | None = None) -> str:
    icon = "🚫" if t.context.blocking_failures and t.decision not in ("regressed",) else ICON.get(t.decision, "")
    name = f"`{t.name}` {cell(t.metric)}" + (" · domain" if t.kind == "domain" else "")
    if stage:  # in a summary's shared table the stage sits by the icon, where the row's state is read
        icon = f"{icon} {stage}"
    move = f"{level(t.baseline_value, t.percent)} → {level(t.candidate_value, t.percent)}"
    delta = points(t.delta, t.percent)
    if t.blocking:
        delta = f"**{delta}**"
    if t.ci_low is not None and t.ci_high is not None:
        delta += f" ({points(t.ci_low, t.percent)}, {points(t.ci_high, t.percent)})"
    if t.gated:
        allowed = MINUS + points(t.allowance, t.percent, signed=False)
        if underpowered(t):
            allowed += f" {UNDERPOWERED}"  # the word goes under the table (`underpowered_note`): rows stay one line
    else:
        allowed = "info"
    cells = ["|", icon, "|", name, "|", move, "|", delta, "|", allowed, "|"]
    if trend is not None:
        spark = sparkline([*trend, t.candidate_value]) if trend else ""
        cells += [f"`{spark}`" if spark else "", "|"]
    return " ".join(cells)


def underpowered_note(tasks: list[TaskComparison]) -> list[str]:
    """The line under the table that names the marker, only where a row carries it."""
    weak = [t.name for t in tasks if underpowered(t)]
    if not weak:
        return []
    return [
        f"<sub>{UNDERPOWERED} underpowered: {cell(', '.join(weak))} could miss a drop larger than the allowed one "
        "at this sample size (see How sure).</sub>",
        "",
    ]


def ordered(c: Comparison) -> list[TaskComparison]:
    """Blocking rows first, then regressions, then the rest in the thresholds file's order."""
    rank = {"regressed": 1, "likely_regressed": 1, "not_comparable": 2, "inconclusive": 2}
    return sorted(c.tasks, key=lambda t: 0 if t.blocking or t.context.blocking_failures else rank.get(t.decision, 3))


def rows(c: Comparison, trends: Trends | None = None, stage: str | None = None) -> list[tuple[bool, str]]:
    """(blocks, markdown row) per task, blocking first; a trend column when `trends` is given."""
    return [
        (t.blocking or bool(t.context.blocking_failures), table_row(t, _trend(trends, t), stage)) for t in ordered(c)
    ]


def _trend(trends: Trends | None, t: TaskComparison) -> Sequence[float | None] | None:
    if trends is None:
        return None
    return trends.get(t.name, ()) if t.gated else ()


def all_percent(c: Comparison) -> bool:
    return all(t.percent for t in c.tasks)


def render_markdown(c: Comparison, trends: Trends | None = None) -> str:
    """The whole report: heading, context line, table, then the folded details."""
    out = [heading(c), "", context_line(c), ""]
    out += table_head(all_percent(c), trends is not None)
    out += [row for _, row in rows(c, trends)]
    out += ["", *underpowered_note(ordered(c)), *jagged_lines(c, "markdown", cell)]
    out += [*contamination_lines(c, "markdown", cell), *operational_markdown(c)]
    out += pairwise_markdown(c)
    out += details(c, trends is not None)
    return "\n".join(out).rstrip("\n") + "\n"


def details(c: Comparison, trend: bool = False) -> list[str]:
    out: list[str] = []
    if c.forgetting:
        blocks = "blocking by policy" if c.policy.block_on_forgetting else "not blocking by policy"
        flag = str(c.policy.block_on_forgetting).lower()
        out += _fold(
            f"Catastrophic forgetting ({blocks})",
            [
                f"{cell(c.forgetting.message)}.",
                "",
                "General ability fell while a domain task rose: the pattern of a fine-tune that forgot what the "
                f"base model knew. The policy says `block_on_forgetting: {flag}`.",
            ],
        )
    out += _stats(c, trend)
    out += _flipped(c)
    out += _provenance(c)
    return out


def _fold(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _p(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _stats(c: Comparison, trend: bool) -> list[str]:
    table = [
        "| task | decision | pairs | test | p (Holm) | 80% power for |",
        "|---|---|--:|---|--:|--:|",
    ]
    for t in ordered(c):
        decision = t.decision.replace("_", " ") + (" (blocks)" if t.blocking else "")
        mde = points(t.mde, t.percent, signed=False) + (" pts" if t.percent and t.mde is not None else "")
        mde += " ⚠️" if t.baseline_near_chance else ""  # the reason below says why
        table.append(
            f"| `{t.name}` | {decision} | {t.n_paired} | {cell(t.method) or 'n/a'} | {_p(t.p_adjusted)} | {mde} |"
        )
    reasons = [f"- `{t.name}`: {cell(t.reason)}" for t in ordered(c)]
    for t in ordered(c):
        ctx = t.context
        if ctx.blocking_failures:
            reasons.append(
                f"  - `{t.name}` high-severity cases failed (block): {cell(', '.join(ctx.blocking_failures))}"
            )
        if ctx.categories:
            moves = "; ".join(
                f"{cell(m.category)} {level(m.baseline, t.percent)} → {level(m.candidate, t.percent)}"
                for m in ctx.categories
            )
            reasons.append(f"  - `{t.name}` categories: {moves}")
        reasons += [f"  - `{t.name}` note: {cell(n)}" for n in ctx.notes]
    legend = (
        "<sub>Paired per item by task and doc id where doc and prompt hashes agree; interval clustered by group "
        "where a task has enough groups; p-values Holm-corrected across gated tasks; a true drop as large as "
        "'80% power for' is found 80% of the time at this n ('underpowered' where that exceeds the allowed drop)"
        + ("; trend: this task in the last baselines of main, oldest first, then this run" if trend else "")
        + ".</sub>"
    )
    return _fold("How sure: n, tests, power", [*table, "", *reasons, "", legend])


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text, quote=False)}</pre>" if text else "<pre>(empty)</pre>"


PROMPT_SHOWN = 400  # characters of a prompt's end shown before its fold
SHORT_ANSWER = 60  # answers this short (one line) sit in the item's line; longer ones get their own blocks


def _item(it: FlippedItem) -> list[str]:
    where = f"{it.group}/" if it.group else ""
    line = f"**doc {cell(where)}{it.doc_id}** · score {it.baseline_score:g} → {it.candidate_score:g}"
    # The whole texts where the records kept them (gate.item_text); the excerpts of older records else.
    prompt = it.prompt or it.excerpt
    answers = (it.baseline_answer or it.baseline_prediction, it.candidate_answer or it.candidate_prediction)
    if all(len(a) <= SHORT_ANSWER and "\n" not in a for a in answers):
        line += f" · answered `{cell(answers[0]) or '(empty)'}` → `{cell(answers[1]) or '(empty)'}`"
        return [line, _fold_prompt(prompt), ""]
    return [
        line,
        _fold_prompt(prompt),
        "baseline answered:",
        _pre(answers[0]),
        "candidate answered:",
        _pre(answers[1]),
        "",
    ]


def _fold_prompt(prompt: str) -> str:
    # A 5-shot prompt is long: its end (the question) shows, the whole one is a click away.
    if len(prompt) <= PROMPT_SHOWN:
        return _pre(prompt)
    head = html.escape(clip(prompt, PROMPT_SHOWN, keep="end", one_line=False), quote=False)
    return f"<details><summary>prompt ({len(prompt):,} characters)</summary>{_pre(prompt)}</details><pre>{head}</pre>"


def _flipped(c: Comparison) -> list[str]:
    moved = [t for t in ordered(c) if t.newly_wrong or t.newly_right]
    if not moved:
        return []
    title = " · ".join(f"{t.name} {t.newly_wrong} newly wrong, {t.newly_right} newly right" for t in moved)
    body: list[str] = []
    for t in moved:
        for label, items, total in (
            ("newly wrong", t.newly_wrong_examples, t.newly_wrong),
            ("newly right", t.newly_right_examples, t.newly_right),
        ):
            if not items:
                continue
            body += [f"#### `{t.name}`: {label} (first {len(items)} of {total})", ""]
            for it in items:
                body += _item(it)
    return _fold(f"Flipped items: {cell(clip(title, 200, one_line=True))}", body)


def _provenance(c: Comparison) -> list[str]:
    b, p = c.baseline, c.policy
    where = safe_uri(b.tracking_uri) if b.tracking_uri else "n/a"  # printed into PR comments: no credentials
    yes = {True: "yes", False: "no"}
    lines = [
        f"- baseline `{cell(b.name)}` = run `{b.run_id}`, model `{cell(c.baseline_model)}` "
        f"(`{clip(c.baseline_fingerprint, 20)}`), frozen {b.frozen_at or 'n/a'} by {cell(b.frozen_by or 'n/a')} "
        f"in {cell(where)}",
        f"- candidate model `{cell(c.candidate_model)}` (`{clip(c.candidate_fingerprint, 20)}`), "
        f"run `{c.candidate_run_id or 'none'}`",
    ]
    for who, s in (("candidate", c.candidate_setup), ("baseline", c.baseline_setup)):
        if s is not None:
            lines.append(
                f"- {who} setup: {s.items:,} items in {duration(s.wall_seconds)} on {cell(s.hardware)}, "
                f"backend {cell(s.backend)}, {cell(s.dtype)}, batch {s.batch_size}, suite {cell(s.suite)}, "
                f"lm-eval {cell(s.lm_eval or 'n/a')}, measured {s.created_at[:19]}"
            )
    lines += [
        f"- thresholds `{cell(c.thresholds_source)}`",
        f"- policy: alpha {c.alpha:g}, power {c.power:.0%}; likely regression blocks: "
        f"{yes[p.block_on_likely_regression]}, inconclusive blocks: {yes[p.inconclusive_blocks]}, "
        f"forgetting blocks: {yes[p.block_on_forgetting]}, not comparable blocks: {yes[p.block_on_not_comparable]}",
    ]
    lines += [f"- setup differs: {cell(d)}" for d in c.setup_differences]
    if c.environment_differences:
        lines.append(f"- setup differences: {cell(environment_note(c))}")
    if c.unmatched_rules:
        lines.append(f"- rules not applied (in neither record): {cell(', '.join(c.unmatched_rules))}")
    return _fold("Provenance", lines)


def environment_note(c: Comparison) -> str:
    """Hardware and library differences between the two runs, and what the policy makes of them."""
    effect = (
        "tasks not comparable (policy.block_on_setup_change)"
        if c.policy.block_on_setup_change
        else "may move scores by a few tenths; not blocking (policy.block_on_setup_change: no)"
    )
    return "; ".join(c.environment_differences) + f": {effect}"


def split_report(body: str) -> tuple[str | None, str | None, str]:
    """(heading, context line, the rest) of a body `render_markdown` wrote; a body that opens with some
    other heading gives (heading, None, rest), one without a heading (None, None, body)."""
    lines = body.strip("\n").split("\n")
    if not lines[0].startswith("#"):
        return None, None, body
    if len(lines) >= 3 and lines[1] == "" and " · " in lines[2] and not lines[2].startswith(("|", ">", "<")):
        return lines[0], lines[2], "\n".join(lines[3:]).strip("\n")
    return lines[0], None, "\n".join(lines[1:]).strip("\n")


__all__ = ["render_markdown", "rows", "split_report", "table_head"]
