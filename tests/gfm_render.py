"""Markdown as GitHub shows it, for tests: GitHub-flavoured rendering (markdown-it-py with tables and
raw HTML, as cmark-gfm allows in comments), a page with GitHub-like CSS in the 820 px comment column,
and a headless Debian `chromium` screenshot of it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# GitHub's markdown-body essentials (primer/css): system font 14px, 1.5 line height, tables with
# borders and 6px 13px padding, code spans with a grey background, <sub> smaller, details summary.
CSS = """
body { margin: 0; background: #fff; }
.comment { width: 820px; box-sizing: border-box; padding: 16px; color: #1f2328;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, "DejaVu Sans",
  sans-serif; word-wrap: break-word; }
h3 { font-size: 1.25em; font-weight: 600; margin: 0 0 16px; line-height: 1.25; }
h4 { font-size: 1em; font-weight: 600; margin: 16px 0 8px; }
p, table, pre, details, blockquote, ul { margin: 0 0 16px; }
table { border-spacing: 0; border-collapse: collapse; display: block; width: max-content; max-width: 100%;
  overflow: auto; }
th, td { padding: 6px 13px; border: 1px solid #d1d9e0; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
code { padding: .2em .4em; font-size: 85%; background: rgba(129,139,152,.12); border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono",
  monospace; }
pre { padding: 16px; font-size: 85%; background: #f6f8fa; border-radius: 6px; overflow: auto;
  white-space: pre-wrap; }
blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
summary { cursor: pointer; }
a { color: #0969da; text-decoration: none; }
sub { font-size: 75%; }
"""


def markdown() -> MarkdownIt:
    """GitHub's dialect as far as the gate uses it: CommonMark, tables, strikethrough, raw HTML."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render(text: str) -> str:
    return markdown().render(text)


def page(text: str, *, open_details: bool = False) -> str:
    body = render(text)
    if open_details:  # a screenshot shows what a reviewer sees after opening every fold
        body = body.replace("<details>", "<details open>")
    return f'<!doctype html><meta charset="utf-8"><style>{CSS}</style><div class="comment">{body}</div>\n'


def screenshot(html_file: Path, png: Path, *, width: int = 820, height: int = 1400) -> None:
    """A headless chromium screenshot of a local file (no network: the page fetches nothing)."""
    assert CHROMIUM, "chromium is not installed"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", f"--window-size={width},{height}", html_file.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
