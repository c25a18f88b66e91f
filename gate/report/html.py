"""`gate report`: a comparison and its two records as one self-contained HTML file.

One file, no network fetches (inline CSS, SVG and a few lines of JS), so it opens the same from a CI
artifact, an MLflow artifact or a laptop: the verdict, a per-task table with each interval drawn as an
error bar against the allowed drop, trend charts where history is given, every paired item side by side
(prompt, both answers, both scores; filters for newly wrong / newly right, task, group), and the setup
of both runs. Formatting only: the verdict comes from `Comparison`, computed once in `gate.decide`.
Items whose score moved carry their whole prompt and answers (`gate.item_text`); the others their excerpts.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from gate.decide.pairing import pair_items
from gate.item_text import full_texts
from gate.record import EvalRecord
from gate.report.markdown import STATE, Trends, duration, level, points
from gate.results import Comparison, RunSummary, TaskComparison
from gate.text import clip

BAR_W, BAR_H = 260, 22  # px of one error bar
TREND_W, TREND_H = 160, 40


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def render_html(c: Comparison, candidate: EvalRecord, baseline: EvalRecord, trends: Trends | None = None) -> str:
    icon, word = STATE[c.state]
    items = _items(candidate, baseline)
    data = json.dumps(items, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>model-gate: {_e(word)} — {_e(c.cause)}</title>",
            f"<style>{CSS}</style></head><body>",
            f'<h1 id="verdict" class="{_e(c.state)}">{icon} {_e(word)} — {_e(c.cause)}</h1>',
            f'<p class="headline">{_e(c.headline)}</p>',
            _context(c),
            "<h2>Tasks</h2>",
            _task_table(c, trends),
            _setup(c, candidate, baseline),
            "<h2>Items</h2>",
            _filters(items),
            '<p id="shown"></p>',
            '<table id="items"><thead><tr><th>task</th><th>doc</th><th>scores</th><th>prompt</th>'
            "<th>baseline answered</th><th>candidate answered</th></tr></thead><tbody></tbody></table>",
            f'<script type="application/json" id="item-data">{data}</script>',
            f"<script>{JS}</script>",
            "</body></html>",
        ]
    )


def _context(c: Comparison) -> str:
    b = c.baseline
    run = f" run <code>{_e(c.candidate_run_id)}</code>" if c.candidate_run_id else ""
    frozen = f", frozen {_e(b.frozen_at[:10])}" if b.frozen_at else ""
    parts = [
        f"candidate <code>{_e(c.candidate_model)}</code>{run}",
        f"baseline <b>{_e(b.name)}</b> run <code>{_e(b.run_id)}</code>{frozen}",
    ]
    if c.candidate_setup:
        s = c.candidate_setup
        parts.append(f"{s.items:,} items, {_e(duration(s.wall_seconds))} on {_e(s.hardware)}")
    return f'<p class="context">{" · ".join(parts)}</p>'


def _scale(c: Comparison) -> tuple[float, float]:
    ends = [0.0]
    for t in c.tasks:
        ends += [v for v in (t.ci_low, t.ci_high, t.delta) if v is not None]
        if t.gated:
            ends.append(-t.allowance if t.higher_is_better else t.allowance)
    lo, hi = min(ends), max(ends)
    pad = (hi - lo) * 0.08 or 0.01
    return lo - pad, hi + pad


def _bar(t: TaskComparison, lo: float, hi: float) -> str:
    def x(v: float) -> float:
        return round((v - lo) / (hi - lo) * BAR_W, 1)

    parts = [f'<svg class="bar" width="{BAR_W}" height="{BAR_H}" viewBox="0 0 {BAR_W} {BAR_H}" role="img">']
    parts.append(f'<line x1="{x(0)}" y1="0" x2="{x(0)}" y2="{BAR_H}" class="zero"/>')
    if t.gated:
        a = x(-t.allowance if t.higher_is_better else t.allowance)
        parts.append(f'<line x1="{a}" y1="0" x2="{a}" y2="{BAR_H}" class="allowed"><title>allowed drop</title></line>')
    if t.ci_low is not None and t.ci_high is not None and t.delta is not None:
        y = BAR_H / 2
        cls = "blocks" if t.blocking else t.decision
        parts.append(
            f'<g class="{_e(cls)}"><line x1="{x(t.ci_low)}" y1="{y}" x2="{x(t.ci_high)}" y2="{y}" class="ci"/>'
            f'<line x1="{x(t.ci_low)}" y1="{y - 5}" x2="{x(t.ci_low)}" y2="{y + 5}" class="ci"/>'
            f'<line x1="{x(t.ci_high)}" y1="{y - 5}" x2="{x(t.ci_high)}" y2="{y + 5}" class="ci"/>'
            f'<circle cx="{x(t.delta)}" cy="{y}" r="4"/>'
            f"<title>{_e(points(t.delta, t.percent))} ({_e(points(t.ci_low, t.percent))}, "
            f"{_e(points(t.ci_high, t.percent))})</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _trend_svg(values: Sequence[float | None], current: float | None) -> str:
    pts = [v for v in [*values, current] if v is not None]
    if len(pts) < 2:
        return ""
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0
    series = [*values, current]
    step = TREND_W / max(1, len(series) - 1)
    coords = [
        (round(i * step, 1), round(TREND_H - 4 - (v - lo) / span * (TREND_H - 8), 1))
        for i, v in enumerate(series)
        if v is not None
    ]
    line = " ".join(f"{x},{y}" for x, y in coords)
    cx, cy = coords[-1]
    return (
        f'<svg class="trend" width="{TREND_W}" height="{TREND_H}" viewBox="-4 0 {TREND_W + 8} {TREND_H}">'
        f'<polyline points="{line}"/><circle cx="{cx}" cy="{cy}" r="3"/></svg>'
    )


def _task_table(c: Comparison, trends: Trends | None) -> str:
    lo, hi = _scale(c)
    head = [
        "task",
        "baseline → candidate",
        "Δ (95% CI)",
        "allowed",
        "decision",
        "95% CI (bar) · 0 (solid) · allowed drop (dashed)",
    ]
    head += ["trend (last baselines → this)"] if trends is not None else []
    rows = ['<table id="tasks"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for t in sorted(c.tasks, key=lambda t: (not t.blocking, t.name)):
        ci = ""
        if t.ci_low is not None and t.ci_high is not None:
            ci = f" ({points(t.ci_low, t.percent)}, {points(t.ci_high, t.percent)})"
        unit = " pts" if t.percent else ""
        allowed = f"−{points(t.allowance, t.percent, signed=False)}{unit}" if t.gated else "info"
        decision = t.decision.replace("_", " ") + (" (blocks)" if t.blocking else "")
        cells = [
            f"<code>{_e(t.name)}</code> {_e(t.metric)}" + (" · domain" if t.kind == "domain" else ""),
            f"{level(t.baseline_value, t.percent)} → {level(t.candidate_value, t.percent)}",
            f"{_e(points(t.delta, t.percent))}{_e(ci)}{unit}",
            _e(allowed),
            f'<span class="d {_e(t.decision)}">{_e(decision)}</span>',
            _bar(t, lo, hi),
        ]
        if trends is not None:
            cells.append(_trend_svg(trends.get(t.name, ()), t.candidate_value))
        cls = ' class="blocking"' if t.blocking else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        rows.append(f'<tr class="reason"><td colspan="{len(head)}">{_e(t.reason)}</td></tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _setup(c: Comparison, candidate: EvalRecord, baseline: EvalRecord) -> str:
    def col(r: EvalRecord, s: RunSummary | None) -> dict[str, str]:
        s = s or RunSummary.of(r)
        m = r.model
        return {
            "model": m.id,
            "revision": m.revision or "-",
            "fingerprint": clip(m.fingerprint, 32),
            "backend / dtype / batch": f"{m.backend} / {m.dtype} / {m.batch_size}",
            "quantization": m.quantization,
            "hardware": s.hardware,
            "items / wall time": f"{s.items:,} / {duration(s.wall_seconds)}",
            "suite": s.suite,
            "sampling": f"{r.sampling.source}, n={r.sampling.n}, seed={r.sampling.seed}",
            "versions": f"gate {r.versions.gate}, lm-eval {r.versions.lm_eval}, transformers "
            f"{r.versions.transformers}, torch {r.versions.torch}",
            "measured": r.created_at,
            "MLflow run": r.mlflow_run_id or "-",
        }

    b, cand = col(baseline, c.baseline_setup), col(candidate, c.candidate_setup)
    rows = "".join(
        f"<tr{' class=differs' if b[k] != cand[k] else ''}><th>{_e(k)}</th><td>{_e(b[k])}</td>"
        f"<td>{_e(cand[k])}</td></tr>"
        for k in b
    )
    diffs = "".join(f"<li>{_e(d)}</li>" for d in c.setup_differences)
    return (
        "<details><summary><h2>Setup of both runs</h2></summary>"
        f'<table id="setup"><thead><tr><th></th><th>baseline</th><th>candidate</th></tr></thead><tbody>{rows}'
        f"</tbody></table>{f'<ul>{diffs}</ul>' if diffs else ''}"
        f"<p>thresholds: <code>{_e(c.thresholds_source)}</code>, alpha {c.alpha:g}</p></details>"
    )


def _items(candidate: EvalRecord, baseline: EvalRecord) -> list[dict]:
    """Every paired item: task, group, doc, both scores, how it moved, prompt and both answers."""
    out = []
    btasks = {t.name: t for t in baseline.tasks}
    for ct in candidate.tasks:
        bt = btasks.get(ct.name)
        if bt is None:
            continue
        paired = pair_items(ct, bt)
        if isinstance(paired, str):
            continue
        sign = 1 if ct.higher_is_better else -1
        for ic, ib in paired.pairs:
            moved = sign * (ic.score - ib.score)
            change = "newly wrong" if moved < 0 else "newly right" if moved > 0 else "same"
            if change == "same":  # whole texts only where a reviewer will read them
                prompt, c_answer, b_answer = ic.excerpt, ic.prediction, ib.prediction
            else:
                prompt, c_answer = full_texts(ic.excerpt, ic.prediction, ic.full, "candidate record")
                b_answer = full_texts(ib.excerpt, ib.prediction, ib.full, "baseline record")[1]
            out.append(
                {
                    "task": ct.name,
                    "kind": ct.kind,
                    "group": ic.group or "",
                    "doc": ic.doc_id,
                    "b": ib.score,
                    "c": ic.score,
                    "change": change,
                    "prompt": prompt,
                    "ba": b_answer,
                    "ca": c_answer,
                }
            )
    return out


def _filters(items: list[dict]) -> str:
    def select(name: str, label: str, values: list[str]) -> str:
        opts = "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
        return f'<label>{label} <select id="f-{name}"><option value="">all</option>{opts}</select></label>'

    changes = [c for c in ("newly wrong", "newly right", "same") if any(i["change"] == c for i in items)]
    return (
        '<div id="filters">'
        + select("change", "change", changes)
        + select("task", "task", sorted({i["task"] for i in items}))
        + select("group", "MMLU subject / domain category", sorted({i["group"] for i in items if i["group"]}))
        + '<label>text <input id="f-text" type="search" placeholder="in prompt or answers"></label></div>'
    )


CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, "DejaVu Sans", sans-serif;
  color: #1f2328; margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h1.failure { color: #b3261e; } h1.neutral { color: #6e7781; }
h1.success { color: #1a7f37; } h2 { font-size: 17px; margin: 24px 0 8px; display: inline-block; }
.headline { color: #59636e; margin: 0 0 4px; } .context { margin: 0 0 8px; }
table { border-collapse: collapse; margin: 4px 0 12px; } th, td { border: 1px solid #d1d9e0; padding: 4px 8px;
  text-align: left; vertical-align: top; } th { background: #f6f8fa; }
code { background: rgba(129,139,152,.12); border-radius: 4px; padding: 0 4px; font-size: 90%; }
tr.blocking td { background: #fff0ee; } tr.reason td { color: #59636e; font-size: 12px; border-top: 0; }
.d.regressed, .d.likely_regressed { color: #b3261e; font-weight: 600; } .d.improved { color: #1a7f37; }
.d.inconclusive, .d.not_comparable { color: #9a6700; }
svg.bar .zero { stroke: #6e7781; } svg.bar .allowed { stroke: #b3261e; stroke-dasharray: 3 2; }
svg.bar .ci { stroke: #0969da; stroke-width: 2; } svg.bar circle { fill: #0969da; }
svg.bar .blocks .ci, svg.bar .regressed .ci { stroke: #b3261e; } svg.bar .blocks circle { fill: #b3261e; }
svg.trend polyline { fill: none; stroke: #0969da; stroke-width: 1.5; } svg.trend circle { fill: #b3261e; }
#filters label { margin-right: 16px; } #items { width: 100%; table-layout: fixed; }
#items th:nth-child(1) { width: 140px; } #items th:nth-child(2) { width: 120px; }
#items th:nth-child(3) { width: 60px; } #items th:nth-child(4) { width: 38%; }
#items pre { white-space: pre-wrap; margin: 0; font-size: 12px; max-height: 240px; overflow: auto; }
tr.newly-wrong td:nth-child(3) { color: #b3261e; font-weight: 600; }
tr.newly-right td:nth-child(3) { color: #1a7f37; font-weight: 600; }
tr.differs td { background: #fff8c5; } summary h2 { cursor: pointer; }
#setup td { word-break: break-word; max-width: 480px; }
"""

JS = """
(function () {
  var items = JSON.parse(document.getElementById('item-data').textContent);
  var body = document.querySelector('#items tbody'), shown = document.getElementById('shown');
  var MAX = 500;
  function get(id) { return document.getElementById(id).value; }
  function pre(text) { var p = document.createElement('pre'); p.textContent = text; return p; }
  function cell(row, child) { var td = document.createElement('td'); td.appendChild(child); row.appendChild(td); }
  function draw() {
    var f = {change: get('f-change'), task: get('f-task'), group: get('f-group')};
    var q = get('f-text').toLowerCase(), n = 0;
    body.textContent = '';
    var hits = items.filter(function (it) {
      return (!f.change || it.change === f.change) && (!f.task || it.task === f.task) &&
        (!f.group || it.group === f.group) &&
        (!q || (it.prompt + '\\n' + it.ba + '\\n' + it.ca).toLowerCase().indexOf(q) >= 0);
    });
    hits.slice(0, MAX).forEach(function (it) {
      var tr = document.createElement('tr');
      tr.className = 'item ' + it.change.replace(' ', '-');
      cell(tr, document.createTextNode(it.task + (it.group ? ' / ' + it.group : '')));
      cell(tr, document.createTextNode(it.doc + ' · ' + it.change));
      cell(tr, document.createTextNode(it.b + ' → ' + it.c));
      cell(tr, pre(it.prompt)); cell(tr, pre(it.ba)); cell(tr, pre(it.ca));
      body.appendChild(tr); n++;
    });
    shown.textContent = 'showing ' + n + ' of ' + hits.length + ' matching items (' + items.length + ' paired)';
  }
  ['f-change', 'f-task', 'f-group', 'f-text'].forEach(function (id) {
    document.getElementById(id).addEventListener('input', draw);
  });
  var wrong = items.some(function (it) { return it.change === 'newly wrong'; });
  if (wrong) { document.getElementById('f-change').value = 'newly wrong'; }
  draw();
})();
"""
