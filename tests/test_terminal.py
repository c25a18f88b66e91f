"""What a person sees in the terminal: the report on stdout; on stderr one progress bar per task (also while
gate-hf scores), none of the libraries' chatter, and a last line with the state and the wall time."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import _register, cli

_register()
DATA = Path(__file__).parent / "data"
SUITES = DATA / "suites"
CHATTER = (
    "Overwriting default num_fewshot",
    "Generating test split",
    "Tokenizing inputs",
    "Loading weights",
    "FutureWarning",
    "past_key_values",
    "`pretrained` model kwarg",
)


def _run_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `python -m gate ARGS` with stderr on a pseudo-terminal (as a person's shell gives it) and stdout
    on a pipe; returns (exit code, stdout, what the terminal received)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))  # rows, columns, as a shell sets them
    proc = subprocess.Popen(
        [sys.executable, "-m", "gate", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal: it exited
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(timeout=60), out, seen.decode(errors="replace")


@pytest.mark.slow
def test_a_run_on_a_terminal_shows_one_bar_per_task_and_no_library_noise(tmp_path, data_dir):
    env = {**os.environ, "NO_COLOR": "1"}
    code, out, term = _run_on_a_terminal(
        # gate-hf: its prefix-tree scorer has no lm-eval loop of its own, and must still move the bar
        ["run", "--model", "smollm2-135m", "--backend", "gate-hf", "--suite", str(SUITES / "smoke.yaml")]
        # no answer cache: answers an earlier test cached would skip the model, and the bars with it
        + ["--data-dir", str(data_dir), "--sample", "4", "--output", "r.json", "--no-mlflow", "--no-answer-cache"],
        tmp_path,
        env,
    )
    assert code == 0, term
    # The report is on stdout, in one unit: scores in percent, their spread in points.
    assert re.search(r"arc_easy acc = \d+\.\d% ± \d+\.\d pts \(n=4, 0-shot\)", out), out
    assert "record: r.json" in out
    # Each task's bar reached its item count, with a rate (the ETA's basis), in items.
    for task in ("arc_easy", "mmlu"):
        assert re.search(rf"{task}: 100%\|[^\n\r]*\| 4/4 \[[^\]]*(item/s|s/item)\]", term), term
    for noise in CHATTER:
        assert noise not in term, f"{noise!r} reached the terminal:\n{term}"
    last = [ln for ln in re.split(r"[\r\n]+", term) if ln.strip()][-1]
    assert re.fullmatch(
        r"gate: RECORDED: record r\.json \(\d+\.\d s\)|gate: RECORDED: record r\.json \(\d+ min \d\d s\)", last
    ), last
    assert "\x1b[1m" not in term and "\x1b[3" not in term  # NO_COLOR: no bold, no colours


def test_check_reports_on_stdout_in_points_and_ends_with_the_state():
    record, thresholds = (
        DATA / "records" / "smollm2-check.json",
        DATA / "configs" / "thresholds" / "valid" / "pass.yaml",
    )
    r = CliRunner().invoke(cli, ["check", str(record), "--thresholds", str(thresholds)])
    assert r.exit_code == 0, r.output
    assert "arc_easy" in r.stdout and ">= 25.0%" in r.stdout  # a floor of 0.25 on an accuracy, as gate diff shows it
    assert re.search(r"\d+\.\d%", r.stdout) and not re.search(r"\b0\.\d{3}\b", r.stdout)
    assert re.fullmatch(r"gate: PASSED: .+ \(\d+\.\d s\)\n", r.stderr), r.stderr
    # Right-aligned numbers: every row's n column ends at the same place.
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith(("arc_easy ", "mmlu "))]
    assert len({ln.index(" pass") for ln in rows}) == 1, rows


def test_quiet_keeps_warnings_and_drops_progress_lines(capsys):
    from gate.cli import console

    console.setup(quiet=True, verbose=False)
    try:
        console.progress("loading smollm2-135m")
        console.progress("warning: mmlu: 3 items, fewer than the 10 asked")
    finally:
        console.setup(quiet=False, verbose=False)
    console.progress("loading smollm2-135m")
    assert capsys.readouterr().err.splitlines() == [
        "gate: warning: mmlu: 3 items, fewer than the 10 asked",
        "gate: loading smollm2-135m",
    ]
