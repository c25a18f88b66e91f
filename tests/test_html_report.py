"""`gate report` in a real headless browser (Debian's chromium): the DOM after its JS ran has the verdict,
the task table with error bars and the flipped items with their whole answers; a screenshot is kept
under pytest's tmp dir. The records are the committed diff fixtures (tests/data/records/diff/, the
forgetting pair), one flipped item given a long answer kept whole in its `full` field."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from gfm_render import CHROMIUM

from gate import record as records
from gate.cli import cli
from gate.cli import report as _report_command  # noqa: F401  (registers `gate report`)
from gate.item_text import pack

PAIR = Path(__file__).parent / "data" / "records" / "diff" / "regress" / "forgetting"
LONG = "Step 1: " + "the mitochondria is the powerhouse of the cell. " * 12 + "So the answer is B."

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def _dom(html_file: Path) -> str:
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000", "--dump-dom",
         html_file.resolve().as_uri()],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    cand = records.load(PAIR / "candidate.json")
    arc = cand.task("arc_easy")
    first = arc.items[1]  # doc 1: right in the baseline, wrong here
    items = list(arc.items)
    items[1] = replace(first, prediction=LONG[:200], full=pack(first.excerpt, LONG))
    cand = replace(cand, tasks=tuple(replace(t, items=tuple(items)) if t is arc else t for t in cand.tasks))
    cand_file = tmp / "candidate.json"
    records.save(cand, cand_file)
    out = tmp / "report.html"
    r = CliRunner().invoke(
        cli,
        ["report", str(cand_file), "--baseline-record", str(PAIR / "baseline.json"),
         "--thresholds", str(PAIR / "thresholds.yaml"), "-o", str(out)],
    )  # fmt: skip
    assert r.exit_code == 1, r.output  # the diff blocks: the report says so and exits like `gate diff`
    return out


def test_the_file_fetches_nothing(report):
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text


def test_the_dom_has_the_verdict_the_table_and_the_flipped_items(report):
    dom = _dom(report)
    verdict = re.search(r'<h1 id="verdict" class="failure">(.*?)</h1>', dom).group(1)
    assert "blocked — arc_easy −20.0 pts" in verdict and "catastrophic forgetting" in verdict
    tasks = dom[dom.index('<table id="tasks">') : dom.index("</table>", dom.index('<table id="tasks">'))]
    assert "regressed (blocks)" in tasks and tasks.count('<svg class="bar"') == 2
    rows = re.findall(r'<tr class="item (newly-wrong|newly-right|same)">', dom)
    assert rows and set(rows) == {"newly-wrong"}  # opens on the newly wrong items
    assert len(rows) == 41  # 40 on arc_easy, 1 on medqa: every one of them
    assert "showing 41 of 41 matching items (300 paired)" in dom
    assert LONG.replace("'", "&#x27;")[-120:] in dom or LONG[-120:] in dom  # the whole answer, not 200 characters


def test_screenshot(report, tmp_path):
    png = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=2000",
         f"--screenshot={png}", "--window-size=1280,1400", report.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 50_000
    print(f"screenshot: {png}")
