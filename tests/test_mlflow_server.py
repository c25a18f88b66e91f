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


def test_runs_tell_the_story_in_mlflow_name_commit_pr_items_datasets_and_the_verdict(
    mlflow_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a reviewer opening MLflow's UI sees: checkpoint@commit, who and which PR, each item's outcome,
    the datasets read, and the diff's verdict on the candidate's own run."""
    import json

    from mlflow import MlflowClient

    import gate.cli.diff  # noqa: F401  (registers `gate diff`)
    from gate import record as records

    head = "ab12cd3" + "4" * 33
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 17, "head": {"sha": head}}}))
    for k, v in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTOR": "octo-trainer",
        "GITHUB_SHA": "f" * 40,  # the PR's temporary merge commit: not what the run is named after
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_RUN_ID": "991",
    }.items():
        monkeypatch.setenv(k, v)
    store = Store(mlflow_server.uri)
    base = store.log_record(make_record(seed="base", scores=(1,) * 24), pointer="checkpoints/main.yaml")
    cand = store.log_record(make_record(seed="cand", scores=(0,) * 24), pointer="checkpoints/candidate.yaml")
    store.freeze("main", run_id=base.mlflow_run_id, who="ci")
    cand_file = tmp_path / "cand.json"
    records.save(cand, cand_file)

    r = CliRunner().invoke(cli, ["diff", str(cand_file), "--baseline", "main", "--tracking-uri", mlflow_server.uri])
    assert r.exit_code == 1, r.output  # every item flipped: blocked

    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(cand.mlflow_run_id)
    tags = run.data.tags
    assert run.info.run_name == "candidate@ab12cd3 (fast)"
    assert tags["mlflow.user"] == "octo-trainer"
    assert tags["mlflow.source.git.commit"] == head
    assert (tags["gate.pr"], tags["gate.pointer"]) == ("17", "checkpoints/candidate.yaml")
    assert tags["gate.hardware"].startswith("CPU (")
    assert tags["gate.workflow_run"] == "https://github.com/acme/models/actions/runs/991"
    assert "arc_easy acc_norm = 0.0000 (n=24)" in tags["mlflow.note.content"]

    # The verdict, on the candidate's run: state, per-task decisions, deltas, and the reports as artifacts.
    assert tags["gate.diff.state"] == "blocked" and tags["gate.diff.baseline"] == "main"
    assert tags["gate.diff.task.arc_easy"] == "regressed"
    assert run.data.metrics["diff/main/arc_easy/delta"] == pytest.approx(-1.0)
    assert run.data.metrics["diff/main/arc_easy/newly_wrong"] == 24
    (folder,) = [a.path for a in client.list_artifacts(cand.mlflow_run_id, "diff")]
    names = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(cand.mlflow_run_id, folder)}
    assert names == {"comparison.json", "comparison.md", "report.html"}  # gate report's HTML, in the run

    # Per-item outcomes as MLflow's table, and the datasets as the run's inputs.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)  # load_table searches through the global client
    table = client.load_table(run.info.experiment_id, "tables/items.json", run_ids=[cand.mlflow_run_id])
    assert len(table) == sum(len(t.items) for t in cand.tasks)
    assert set(table["task"]) == {"arc_easy", "demo_policy"} and set(table["score"]) == {0.0}
    assert sorted(d.dataset.name for d in run.inputs.dataset_inputs) == ["arc_easy", "demo_policy"]

    # A second diff adds to the run; the first one's reports stay.
    r = CliRunner().invoke(cli, ["diff", str(cand_file), "--baseline", "main", "--tracking-uri", mlflow_server.uri])
    assert r.exit_code == 1, r.output
    assert len(client.list_artifacts(cand.mlflow_run_id, "diff")) == 2
