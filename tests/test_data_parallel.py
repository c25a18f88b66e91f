"""Data parallel through lm-eval's `accelerate launch` path, on the CPU with the real small model: two
processes (gloo) give the single-process record item by item; only rank 0 writes the record, logs one
MLflow run and prints the report; and what cannot run under data parallel is refused up front (exit 2)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest
from click.testing import CliRunner

from gate import record as records
from gate.cli import _register, cli
from gate.config import load_suite
from gate.decide.pairing import environment_differences, setup_differences
from gate.run.runner import RunOptions, run_suite

_register()
SUITE = "name: dp\nversion: 1\ntasks:\n  - {task: arc_easy, num_fewshot: 0, metric: acc, kind: general}\n"
SAMPLE = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def launched(smol_dir, data_dir, tmp_path_factory):
    """`accelerate launch --multi_gpu --num_processes 2 -m gate run` on the CPU (accelerate's `--cpu` starts
    one process; its multi-process launcher with `--device cpu` gives two gloo ranks)."""
    if shutil.which("accelerate") is None:
        pytest.fail("accelerate is a dependency of checkpoint-gate: its `accelerate` command must be installed")
    tmp = tmp_path_factory.mktemp("dp")
    (tmp / "suite.yaml").write_text(SUITE)
    out = tmp / "out"
    out.mkdir()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "OMP_NUM_THREADS": "1",  # two processes on shared CI cores
        "NO_COLOR": "1",
    }
    # fmt: off
    cmd = [
        shutil.which("accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "gate", "run", "--model", str(smol_dir), "--backend", "gate-hf", "--device", "cpu",
        "--suite", str(tmp / "suite.yaml"), "--data-dir", str(data_dir), "--sample", str(SAMPLE),
        "--output", str(out / "dp.json"),
    ]
    # fmt: on
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    suite = load_suite(tmp / "suite.yaml")
    return proc, out, tmp / "mlflow.db", suite


@pytest.mark.slow
def test_two_processes_give_the_single_process_record(launched, smol_gate_lm, data_dir):
    proc, out, _, suite = launched
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    dp = records.load(out / "dp.json")
    one = run_suite(smol_gate_lm, suite, RunOptions(data_dir=data_dir, sample=SAMPLE))
    assert dp.setup.processes == 2 and one.setup.processes == 1
    assert dp.setup.device_count == 0  # the CPU: no GPUs
    (a,), (b,) = dp.tasks, one.tasks
    assert (a.n, a.value, a.task_hash) == (b.n, b.value, b.task_hash) == (SAMPLE, b.value, b.task_hash)
    key = lambda it: (it.doc_id, it.score, it.prompt_hash, it.doc_hash, it.prediction)  # noqa: E731
    assert [key(i) for i in a.items] == [key(i) for i in b.items]
    # the spread is not a setup difference: gate diff compares these records as one measurement
    assert setup_differences(dp, one) == [] and environment_differences(dp, one) == []


@pytest.mark.slow
def test_only_rank_zero_writes_logs_and_prints(launched):
    proc, out, db, _ = launched
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert sorted(p.name for p in out.iterdir()) == ["dp.json"]
    assert proc.stdout.count("record: ") == 1, proc.stdout  # the report, once
    assert proc.stderr.count("gate: RECORDED") == 1, proc.stderr[-4000:]
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert [r.info.run_id for r in runs] == [records.load(out / "dp.json").mlflow_run_id]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--backend", "vllm"], "--backend vllm"),
        (["--backend", "local-completions", "--base-url", "http://127.0.0.1:9/v1"], "--backend local-completions"),
        (["--shard", "1/2"], "--shard"),
        (["--answer-cache", "CACHE"], "--answer-cache"),
        (["--early-verdict", "--thresholds", "THRESHOLDS"], "--early-verdict"),
    ],
)
def test_what_data_parallel_cannot_do_is_refused(args, names, tmp_path, monkeypatch, repo):
    # the launcher's environment of rank 0 of 2: refused before any process group or model
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    given = {"CACHE": str(tmp_path / "c"), "THRESHOLDS": str(repo / "thresholds/default.yaml")}
    args = [given.get(a, a) for a in args]
    r = CliRunner().invoke(
        cli,
        ["run", "--model", "smollm2-135m", "--device", "cpu", "--suite", str(repo / "suites/fast.yaml")]
        + ["--output", str(tmp_path / "r.json"), "--no-mlflow", *args],
    )
    assert r.exit_code == 2, r.output
    line = r.output.strip().splitlines()[-1]
    assert names in line and "2 processes" in line, r.output
    assert not (tmp_path / "r.json").exists()


def test_one_process_is_not_spread(monkeypatch):
    from gate.run.spread import current

    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not current().parallel and current().main
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(Exception, match="WORLD_SIZE='two'"):
        current()


def test_ci_stage_under_a_launcher_is_refused(tmp_path, monkeypatch, repo):
    from gate.ci.stage import StageRequest, run_stage

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    req = StageRequest(
        stage="fast",
        pointer=tmp_path / "absent.yaml",
        suite=repo / "suites/fast.yaml",
        thresholds=repo / "thresholds/default.yaml",
        out_dir=tmp_path / "out",
    )
    res = run_stage(req)
    assert res.exit_code == 2, res
    assert res.outcome == "broke" and "accelerate launch (2 processes)" in res.headline, res
    assert not (tmp_path / "out").exists()
