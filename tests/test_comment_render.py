"""Every golden comment as GitHub renders it: one-line heading, tables of at most 6 columns, and a
screenshot of the blocked comment in the 820 px comment column (kept under pytest's tmp dir).

The goldens are what `gate diff` and `gate comment` write (tests/test_comment_golden.py and
tests/test_report.py say how they are produced); rendering is markdown-it-py with GitHub's table and
raw-HTML rules (tests/gfm_render.py), the screenshot headless Debian chromium.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from gfm_render import CHROMIUM, page, render, screenshot

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(
    [*DATA.glob("github/*/comment.md"), *DATA.glob("github/*/summary.md"), *DATA.glob("github/*/report.md")]
    + list(DATA.glob("golden/diff_*.md"))
)
WORDS = ("blocked", "inconclusive", "passed", "gate broke")


class _Tables(HTMLParser):
    """The column count of every table row, and the text of every h3."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[int] = []
        self.headings: list[str] = []
        self._in_h3 = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += 1
        elif tag == "h3":
            self._in_h3 = True
            self.headings.append("")
        elif tag == "br" and self._in_h3:
            self.headings[-1] += "\n"

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data):
        if self._in_h3:
            self.headings[-1] += data


def test_there_are_goldens_to_render():
    assert len(GOLDEN) >= 11, GOLDEN


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: str(p.relative_to(DATA)))
def test_golden_renders_with_a_one_line_heading_and_narrow_tables(path):
    text = path.read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("<!--")]
    assert lines[0].startswith("### "), f"{path}: the first line is not the heading"
    parsed = _Tables()
    parsed.feed(render(text))
    heading = parsed.headings[0]
    assert "\n" not in heading.strip() and len(heading) <= 150, heading
    assert any(f" {w} — " in heading or heading.startswith(w) for w in WORDS) or re.search(r"` (\w+) — ", heading)
    assert parsed.rows, f"{path}: no table rendered"
    assert max(parsed.rows) <= 6, f"{path}: a table of {max(parsed.rows)} columns"
    assert text.count("<details>") == text.count("</details>")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_blocked_comment_screenshot_at_820px(tmp_path):
    html_file = tmp_path / "blocked-comment.html"
    html_file.write_text(page((DATA / "github/blocked/comment.md").read_text(), open_details=True))
    png = tmp_path / "blocked-comment.png"
    screenshot(html_file, png, height=1600)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width = int.from_bytes(data[16:20], "big")
    assert width == 820
    print(f"screenshot: {png}")
