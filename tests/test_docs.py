"""The README and docs/cli.md stay true to the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_matches_help():
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert block == ["scripts/demo.sh", "scripts/test.sh"]
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    for cmd in block:
        assert (ROOT / cmd).is_file()


def test_readme_lists_every_command():
    from gate.cli import _register, cli

    _register()
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"`gate {name}" in readme, name
