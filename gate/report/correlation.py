"""Render `gate correlate`'s result as text, markdown, HTML or JSON; markdown and HTML draw each pair's
scatter plot as inline SVG. Formatting only: the numbers come from `gate.decide.correlate`."""

from __future__ import annotations

import html
import json
from dataclasses import asdict

from gate.correlation import CorrelationReport, PairCorrelation
from gate.text import clip

FORMATS = ("text", "markdown", "html", "json")
_W, _H, _PAD = 320, 240, 36


def render_correlation(r: CorrelationReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(asdict(r), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "markdown":
        return _markdown(r)
    if fmt == "html":
        return _html(r)
    if fmt == "text":
        return _text(r)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def _num(v: float | None, spec: str = ".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def _headline(r: CorrelationReport) -> str:
    where = f" ({r.filter})" if r.filter else ""
    return f"Benchmark vs domain: {len(r.pairs)} pair(s) over {len(r.checkpoints)} checkpoint(s){where}"


def _text(r: CorrelationReport) -> str:
    out = [_headline(r)] + [f"!! {w}" for w in r.warnings] + [""]
    rows = [("general task", "domain task", "n", "rho", "p", "band")]
    rows += [(p.general, p.domain, str(p.n), _num(p.rho, "+.2f"), _num(p.p_value, ".3g"), p.band) for p in r.pairs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    out.append("")
    out += [f"{p.general} / {p.domain}: {p.reading}" for p in r.pairs]
    return "\n".join(out) + "\n"


def _cell(s: str) -> str:
    return html.escape(s).replace("|", "\\|")


def _markdown(r: CorrelationReport) -> str:
    out = [f"### {_cell(_headline(r))}", ""] + [f"> ⚠️ {_cell(w)}" for w in r.warnings]
    if r.warnings:
        out.append("")
    out += ["| general task | domain task | n | Spearman rho | p | band | reading |", "|---|---|--:|--:|--:|---|---|"]
    for p in r.pairs:
        out.append(
            f"| `{p.general}` ({_cell(p.general_metric)}) | `{p.domain}` ({_cell(p.domain_metric)}) | {p.n} "
            f"| {_num(p.rho, '+.2f')} | {_num(p.p_value, '.3g')} | {p.band} | {_cell(p.reading)} |"
        )
    out.append("")
    for p in r.pairs:
        summary = f"<details><summary>{_cell(p.general)} vs {_cell(p.domain)}</summary>"
        out += [summary, "", scatter_svg(p), "", "</details>", ""]
    return "\n".join(out) + "\n"


def _html(r: CorrelationReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.general)}</td><td>{html.escape(p.domain)}</td><td>{p.n}</td>"
        f"<td>{_num(p.rho, '+.2f')}</td><td>{_num(p.p_value, '.3g')}</td><td>{p.band}</td>"
        f"<td>{html.escape(p.reading)}</td></tr>"
        for p in r.pairs
    )
    warn = "".join(f"<p><strong>Warning:</strong> {html.escape(w)}</p>" for w in r.warnings)
    plots = "".join(f"<figure>{scatter_svg(p)}</figure>" for p in r.pairs)
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>gate correlate</title></head><body>'
        f"<h1>{html.escape(_headline(r))}</h1>{warn}<table><tr><th>general task</th><th>domain task</th><th>n</th>"
        f"<th>Spearman rho</th><th>p</th><th>band</th><th>reading</th></tr>{rows}</table>{plots}</body></html>\n"
    )


def _scale(values: list[float], lo_px: float, hi_px: float):
    lo, hi = min(values), max(values)
    if hi == lo:  # every checkpoint scored the same: one column (or row) in the middle
        return lambda v: (lo_px + hi_px) / 2
    return lambda v: lo_px + (v - lo) / (hi - lo) * (hi_px - lo_px)


def scatter_svg(p: PairCorrelation) -> str:
    """The pair's checkpoints as points: general task across, domain task up, each titled with its model."""
    title = f"{p.general} vs {p.domain}: rho {_num(p.rho, '+.2f')}, n={p.n}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="{_PAD}" y="{_PAD // 2}" width="{_W - 1.5 * _PAD:g}" height="{_H - 1.5 * _PAD:g}" '
        'fill="none" stroke="#888"/>',
        f'<text x="{_W / 2:g}" y="{_H - 6}" font-size="11" text-anchor="middle">{html.escape(p.general)}</text>',
        f'<text x="12" y="{_H / 2:g}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {_H / 2:g})">{html.escape(p.domain)}</text>',
    ]
    if p.points:
        sx = _scale([q.general for q in p.points], _PAD + 8, _W - _PAD / 2 - 8)
        sy = _scale([q.domain for q in p.points], _H - _PAD - 8, _PAD / 2 + 8)
        for q in p.points:
            label = html.escape(f"{clip(q.model_id, 60)}: {q.general:.3f}, {q.domain:.3f}")
            parts.append(
                f'<circle cx="{sx(q.general):.1f}" cy="{sy(q.domain):.1f}" r="4" fill="#1f77b4">'
                f"<title>{label}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
