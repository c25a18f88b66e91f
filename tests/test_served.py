"""A served model, against a real OpenAI-compatible server: `transformers serve` with the bundled small model,
started here on 127.0.0.1 and stopped by its PID. It generates but returns no prompt log-probabilities, so it
is also the server a log-likelihood suite is refused against (before anything is evaluated)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate import record as records
from gate.cli import _register, cli

_register()
ROOT = Path(__file__).resolve().parents[1]

GENERATION = """name: served
version: 1
include_paths: [{inc}]
tasks:
  - {{task: domain_support_policy, num_fewshot: 0, metric: pass, kind: domain, limit: 3, max_gen_toks: 8}}
"""
LOGLIKELIHOOD = """name: served-mc
version: 1
tasks:
  - {{task: arc_easy, num_fewshot: 0, metric: acc, kind: general, limit: 4}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smol_dir):
    """`transformers serve` of the small model on a free local port; its base URL and served model id."""
    exe = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [exe, "serve", str(smol_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen([*cmd, "--dtype", "float32"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import requests

    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("transformers serve did not start within 180 s")
            time.sleep(1)
        # one request first: the server finishes loading the model on it, which is not what the tests time
        body = {"model": str(smol_dir), "prompt": "Hi", "max_tokens": 1}
        requests.post(f"http://127.0.0.1:{port}/v1/completions", json=body, timeout=300)
        yield f"http://127.0.0.1:{port}/v1", str(smol_dir)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _run(tmp_path, suite_text, *args):
    suite = tmp_path / "suite.yaml"
    suite.write_text(suite_text.format(inc=ROOT / "suites/domain/support_policy"))
    cmd = ["run", "--suite", str(suite), "--output", str(tmp_path / "served.json"), "--no-mlflow", *args]
    return CliRunner().invoke(cli, cmd)


@pytest.mark.slow
def test_served_generation_matches_the_in_process_model_item_by_item(server, smol_lm, smol_dir, tmp_path):
    import torch

    from gate.config import load_suite
    from gate.run.runner import RunOptions, run_suite

    url, served = server
    r = _run(tmp_path, GENERATION, "--backend", "local-completions", "--base-url", url, "--model", served)
    assert r.exit_code == 0, r.output
    rec = records.load(tmp_path / "served.json")
    assert rec.model.backend == "local-completions" and rec.model.id == served and rec.setup.accelerator == "server"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared CI cores: two threads per process fight and run slower than one
    try:
        local = run_suite(smol_lm, load_suite(tmp_path / "suite.yaml"), RunOptions())
    finally:
        torch.set_num_threads(threads)
    (s,), (h,) = rec.tasks, local.tasks
    assert [i.doc_id for i in s.items] == [i.doc_id for i in h.items] and s.n == 3
    for a, b in zip(s.items, h.items, strict=True):  # greedy decoding: the same prompt, the same answer
        assert (a.doc_hash, a.prompt_hash, a.prediction, a.score) == (b.doc_hash, b.prompt_hash, b.prediction, b.score)


@pytest.mark.slow
def test_loglikelihood_tasks_refused_before_evaluating_when_the_server_has_no_prompt_logprobs(server, tmp_path):
    url, served = server
    start = time.monotonic()
    r = _run(tmp_path, LOGLIKELIHOOD, "--backend", "local-completions", "--base-url", url, "--model", served)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert "returns no prompt log-probabilities" in line and "arc_easy" in line, line
    assert not (tmp_path / "served.json").exists() and time.monotonic() - start < 60


@pytest.mark.slow
def test_a_model_the_server_does_not_serve_is_refused(server, tmp_path):
    url, served = server
    r = _run(tmp_path, GENERATION, "--backend", "local-completions", "--base-url", url, "--model", "other")
    assert r.exit_code == 2 and f"it serves {served}" in r.stderr, r.output


def test_unreachable_server_is_exit_3_in_one_line_and_the_key_is_never_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-print-4f9a")
    url = f"http://user:hunter2@127.0.0.1:{_free_port()}/v1"  # nothing listens there
    start = time.monotonic()
    r = _run(tmp_path, GENERATION, "--backend", "local-completions", "--base-url", url, "--model", "m")
    assert r.exit_code == 3, r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "did not answer after 3 attempts" in line, line
    assert "sk-test-do-not-print-4f9a" not in r.output and "hunter2" not in r.output
    assert time.monotonic() - start < 60  # bounded retries


def test_served_options_are_checked_before_any_request(tmp_path):
    r = _run(tmp_path, GENERATION, "--backend", "local-completions", "--model", "m")
    assert r.exit_code == 2 and "needs --base-url" in r.stderr, r.output
    r = _run(tmp_path, GENERATION, "--backend", "local-completions", "--base-url", "http://127.0.0.1:9/v1", "--model")
    assert r.exit_code == 2
    r = _run(
        tmp_path,
        GENERATION,
        *("--backend", "local-completions", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"),
        *("--quantize", "4bit"),
    )
    assert r.exit_code == 2 and "drop --quantize" in r.stderr, r.output
