"""One definition of "near chance": `gate run`'s summary, `gate check` and `gate diff` agree on the same record."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import gate.cli.check  # noqa: F401 - registers `gate check`
import gate.cli.diff  # noqa: F401 - registers `gate diff`
from gate import record as records
from gate.cli import cli
from gate.run.pipeline import RunResult

RECORD = Path(__file__).parent / "data" / "records" / "smollm2-check.json"  # real SmolLM2-135M run, see README


def test_run_check_and_diff_agree_on_which_tasks_are_near_chance(tmp_path):
    rec = records.load(RECORD)
    th = tmp_path / "th.yaml"
    th.write_text(
        "tasks:\n"
        + "".join(f"  {t.name}: {{metric: {t.metric}, higher_is_better: true, floor: 0.3}}\n" for t in rec.tasks)
    )
    runner = CliRunner()
    r = runner.invoke(cli, ["check", str(RECORD), "--thresholds", str(th), "--format", "json"])
    assert r.exit_code in (0, 1), r.output
    in_check = {c["task"] for c in json.loads(r.stdout)["checks"] if c["near_chance"]}

    r = runner.invoke(cli, ["diff", str(RECORD), "--baseline-record", str(RECORD), "--format", "json"])
    assert r.exit_code in (0, 1), r.output
    in_diff = {t["name"] for t in json.loads(r.stdout)["tasks"] if t["baseline_near_chance"]}

    summary = RunResult(record=rec, path=RECORD).summary.splitlines()
    flagged = [line for line in summary if "near chance" in line]
    in_run = {t.name for t in rec.tasks for line in flagged if line.startswith(f"  {t.name} ")}

    # MMLU at 28.3% of 60 items (chance 25%) cannot be told from guessing; ARC-Easy at 46.7% can.
    assert in_check == in_diff == in_run == {"mmlu"}
