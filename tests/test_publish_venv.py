"""The publish path in a virtual environment holding exactly what the workflow's light jobs install
(PyGithub, click, pyyaml, jsonschema): `gate ci pick` and `gate ci publish` work there, and a command
that needs what is missing exits 3 with one line, never 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.github_server import GitHubServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LIGHT = ["PyGithub>=2.4", "click>=8.1", "pyyaml>=6", "jsonschema>=4.20"]  # as in model-gate.yml
TOKEN = "ghs_Light0Venv0Token00000000000000000000000"
SHA = "2a6c97f6f5dc9166cc2e5d0d95415a386805ca07"


@pytest.fixture(scope="module")
def light(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *LIGHT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return venv / "bin" / "python"


def gate(light: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(
        [str(light), "-m", "gate", *args],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_light_environment_lacks_the_heavy_packages(light):
    r = subprocess.run([str(light), "-c", "import numpy"], capture_output=True, text=True)
    assert r.returncode == 1 and "ModuleNotFoundError" in r.stderr


def test_publish_posts_one_check_and_one_comment_there(light, tmp_path):
    from gate.ci.summary import StageResult

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9, "head": {"sha": SHA}}}))
    pick = json.dumps({"run": True, "pointer": "checkpoints/x.yaml", "baseline": "main", "reason": "changed"})
    fast = StageResult("fast", "passed", 0, "1 gated task(s) within their allowed drop", "fast body", "r1").encode()
    with GitHubServer(token=TOKEN) as gh:
        r = gate(
            light, "ci", "publish", "--pick", pick,
            "--stage", "fast", "success", fast, "--stage", "full", "skipped", "",
            GITHUB_REPOSITORY="acme/models", GITHUB_EVENT_PATH=str(event), GITHUB_API_URL=gh.base_url,
            GITHUB_TOKEN=TOKEN, GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        )  # fmt: skip
        # The full stage was skipped although the fast one passed: the gate broke, said as such.
        assert r.returncode == 3, r.stderr
        (run,) = gh.check_runs.values()
        assert run["conclusion"] == "failure" and run["output"]["title"].startswith("gate broke: full: skipped")
        assert len(gh.comments_on(9)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "tests/data/records/diff/pass/unchanged/candidate.json", "--baseline", "main"],
        ["ci", "stage", "fast", "--pointer", "checkpoints/smollm2-135m-instruct.yaml", "--suite", "suites/fast.yaml",
         "--thresholds", "thresholds/default.yaml"],
    ],
)  # fmt: skip
def test_a_missing_dependency_is_exit_3_in_one_line(light, args):
    r = gate(light, *args)
    assert r.returncode == 3, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gate: error: this command needs the Python package"), r.stderr
