"""scripts/bench.py --smoke: plain lm-eval and the gate agree on every item of a few real ones."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_smoke_agrees_with_plain_lm_eval(repo, smol_dir, tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(repo / "scripts" / "bench.py"), "--smoke", "--items", "2", "--threads", "1"]
    cmd += ["--suite", str(repo / "tests/data/suites/bench_smoke.yaml"), "--device", "cpu", "--dtype", "float32"]
    cmd += ["--batch-size", "8", "--json", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    data = json.loads(out.read_text())
    assert [t["task"] for t in data["tasks"]] == ["arc_easy", "mmlu"]
    assert all(t["answers_agree"] and t["items"] == 2 for t in data["tasks"])
    assert data["max_abs_dll"] < 1e-4 and data["missing_lls"] == 0
    arc = data["tasks"][0]
    assert arc["gate_tokens"] < arc["lmeval_tokens"]  # the options share their question once
    assert data["request_cache"][1]["hits"] >= 1 and data["request_cache"][1]["misses"] == 0
    assert "total" in r.stdout and "agree" in r.stdout
