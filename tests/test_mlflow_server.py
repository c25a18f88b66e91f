"""The store against a real `mlflow server` on 127.0.0.1: log, freeze, load back; then the server stops.

The server is a separate process started here and stopped by its PID (its process group, so
its uvicorn workers go with it) in the fixture's teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

import gate.cli.baseline  # noqa: F401  (registers `gate baseline`)
from gate.cli import cli
from gate.errors import StoreUnavailable
from gate.store.tracking import Store
from tests.fixtures_store import make_record

STARTUP_TIMEOUT_S = 90


@dataclass
class Server:
    uri: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group led by the PID we started
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    # A dead server must fail in seconds: no retries with backoff, short timeouts.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    port = _free_port()
    log = tmp_path / "server.log"
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    server = Server(uri=f"http://127.0.0.1:{port}", proc=proc, log=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{server.uri}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {STARTUP_TIMEOUT_S}s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield server
    finally:
        server.stop()


def test_log_freeze_and_load_through_a_server_then_fail_fast_when_it_stops(mlflow_server: Server) -> None:
    store = Store(mlflow_server.uri)
    base = store.log_record(make_record(seed="base", scores=(1, 1, 1, 0)))
    cand = store.log_record(make_record(seed="cand", scores=(1, 0, 0, 0)))
    assert base.mlflow_run_id != cand.mlflow_run_id

    ref = store.freeze("main", run_id=base.mlflow_run_id, who="ci")

    # A second client, as a later CI job would be, loads the baseline back through the server.
    loaded = Store(mlflow_server.uri).load_baseline("main")
    assert loaded.record == base
    assert (loaded.ref.run_id, loaded.ref.frozen_by, loaded.ref.tracking_uri) == (ref.run_id, "ci", mlflow_server.uri)
    assert loaded.record.task("arc_easy").value != cand.task("arc_easy").value
    assert [(e.name, e.current) for e in store.list_baselines()] == [("main", True)]
    r = CliRunner().invoke(cli, ["baseline", "list", "--tracking-uri", mlflow_server.uri])
    assert r.exit_code == 0, r.output
    assert ref.run_id in r.stdout

    mlflow_server.stop()

    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable"):
        Store(mlflow_server.uri).load_baseline("main")
    r = CliRunner().invoke(cli, ["baseline", "show", "main", "--tracking-uri", mlflow_server.uri])
    assert r.exit_code == 3, r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "unreachable" in r.stderr
    assert time.monotonic() - t0 < 15
