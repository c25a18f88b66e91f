"""Resume: a real `gate run` killed by SIGKILL halfway continues from its answers and gives the same record."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gate import record as records
from gate.config import ModelSpec, load_suite

SUITE = Path(__file__).parent / "data" / "suites" / "resume.yaml"
SAMPLE = 30  # 120 log-likelihood requests: the cache commits every 64 answers, so a kill falls between commits


def committed(cache: Path) -> int:
    """Answers the killed run had committed, as a second process sees them."""
    for f in cache.glob("*/answers.sqlite"):
        try:
            # read-write, as the resumed run opens it: a kill mid-commit leaves a journal that SQLite rolls back
            con = sqlite3.connect(f, timeout=0.1)
            try:
                return con.execute("SELECT count(*) FROM answers").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:  # not created yet, or being written
            return 0
    return 0


@pytest.mark.slow
def test_a_run_killed_halfway_resumes_from_its_answers_and_gives_the_uninterrupted_record(smol_dir, data_dir, tmp_path):
    from gate.run.pipeline import RunRequest, evaluate_checkpoint

    spec = ModelSpec(model=str(smol_dir), backend="hf", batch_size=4)
    whole = evaluate_checkpoint(
        RunRequest(
            spec=spec,
            suite=load_suite(SUITE),
            output=tmp_path / "whole.json",
            data_dir=data_dir,
            sample=SAMPLE,
            log_to_mlflow=False,
            answer_cache=tmp_path / "other-cache",
        )
    ).record
    cache, out = tmp_path / "cache", tmp_path / "resumed.json"
    args = [sys.executable, "-m", "gate", "run", "--model", str(smol_dir), "--backend", "hf", "--batch-size", "4"]
    args += ["--suite", str(SUITE), "--data-dir", str(data_dir), "--sample", str(SAMPLE), "--no-mlflow"]
    args += ["--answer-cache", str(cache), "--output", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while committed(cache) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed halfway:\n{proc.stderr.read()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = committed(cache)
    assert 0 < before < whole.timing.answers_computed
    assert not out.exists(), "a killed run left a record behind"

    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = records.load(out)
    assert resumed.timing.answers_from_cache == before
    assert resumed.timing.answers_computed == whole.timing.answers_computed - before
    assert _answers(resumed) == _answers(whole)
    assert resumed.model == whole.model


def _answers(record):
    """The record's tasks without their operational measurements: latencies are timed anew on every run,
    while every item, value and interval must come out the same."""
    from dataclasses import replace

    return tuple(replace(t, operational=None) for t in record.tasks)
