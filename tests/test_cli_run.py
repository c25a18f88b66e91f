"""`gate run` through the real CLI: bad input is exit 2 with one line; a real run writes and logs a record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import _register, cli

_register()
SUITES = Path(__file__).parent / "data" / "suites"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--quantize", "4bit"], "needs a CUDA GPU"),
        (["--quantize", "8bit"], "needs a CUDA GPU"),
        (["--device", "cuda"], "no CUDA device"),
        (["--backend", "vllm"], "vLLM needs a CUDA GPU"),
        (["--dtype", "float16"], "half precision needs CUDA"),
    ],
)
def test_gpu_only_options_fail_clearly_without_a_gpu(extra, needle, tmp_path):
    r = invoke("run", "--model", "smollm2-135m", "--suite", str(SUITES / "smoke.yaml"), "--output", "r.json", *extra)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert len([x for x in r.output.splitlines() if x.startswith("gate: error")]) == 1
    assert not Path("r.json").exists()


def test_pickle_weights_are_refused_unless_asked(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "pytorch_model.bin").write_bytes(b"not really")
    r = invoke("run", "--model", str(ckpt), "--suite", str(SUITES / "smoke.yaml"), "--output", "r.json")
    assert r.exit_code == 2, r.output
    assert "--allow-pickle" in r.output


@pytest.mark.parametrize(
    ("task_line", "needles"),
    [
        (
            "{task: arc_chalenge, num_fewshot: 0, metric: acc, kind: general}",
            ("unknown lm-eval task 'arc_chalenge'", "arc_challenge"),
        ),
        ("{task: arc_easy, num_fewshot: 0, metirc: acc, kind: general}", ("tasks.0", "did you mean 'metric'")),
    ],
)
def test_bad_suite_is_exit_2_naming_what_to_fix(task_line, needles, tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text(f"name: bad\nversion: 1\ntasks:\n  - {task_line}\n")
    r = invoke("run", "--model", "smollm2-135m", "--suite", str(suite), "--output", "r.json")
    assert r.exit_code == 2, r.output
    assert all(n in r.output for n in needles), r.output


def test_existing_output_is_never_overwritten(tmp_path):
    Path("r.json").write_text("precious")
    r = invoke("run", "--model", "smollm2-135m", "--suite", str(SUITES / "smoke.yaml"), "--output", "r.json")
    assert r.exit_code == 2, r.output
    assert Path("r.json").read_text() == "precious"


@pytest.mark.slow
def test_missing_data_is_exit_2_naming_the_file(tmp_path, data_dir):
    partial = tmp_path / "data"
    shutil.copytree(data_dir / "cais", partial / "cais")  # MMLU only: ARC-Easy is missing
    r = invoke(
        "run",
        "--model",
        "smollm2-135m",
        "--suite",
        str(SUITES / "smoke.yaml"),
        "--data-dir",
        str(partial),
        "--sample",
        "2",
        "--output",
        "r.json",
        "--no-mlflow",
    )
    assert r.exit_code == 2, r.output
    assert str(partial / "allenai/ai2_arc/ARC-Easy/test.jsonl") in r.output
    assert not Path("r.json").exists()


@pytest.mark.slow
def test_run_writes_a_record_and_logs_it_to_mlflow(data_dir):
    from gate.store.tracking import Store

    r = invoke(
        "run",
        "--model",
        "smollm2-135m",
        "--suite",
        str(SUITES / "smoke.yaml"),
        "--data-dir",
        str(data_dir),
        "--sample",
        "4",
        "--seed",
        "3",
        "--output",
        "out/r.json",
    )
    assert r.exit_code == 0, r.output
    rec = json.loads(Path("out/r.json").read_text())
    assert rec["model"]["id"] == "smollm2-135m" and rec["model"]["gguf_file"].endswith(".gguf")
    assert [t["n"] for t in rec["tasks"]] == [4, 4]
    assert rec["mlflow_run_id"]
    run = Store().client.get_run(rec["mlflow_run_id"])
    assert run.data.params["model.fingerprint"] == rec["model"]["fingerprint"]
    assert run.data.metrics["arc_easy/acc"] == pytest.approx(rec["tasks"][0]["value"])


@pytest.mark.slow
@pytest.mark.parametrize("floor, code", [(0.0, 0), (0.99, 1)])
def test_then_runs_the_next_stage_only_after_floors_pass(floor, code, tmp_path, data_dir):
    t = tmp_path / "t.yaml"
    t.write_text(
        f"tasks:\n  arc_easy: {{metric: acc, higher_is_better: true, floor: {floor}}}\n"
        "  hellaswag: {metric: acc_norm, higher_is_better: true, floor: 0.99}\n"
    )
    r = invoke(
        "run",
        "--model",
        "smollm2-135m",
        "--suite",
        str(SUITES / "stage_one.yaml"),
        "--then",
        str(SUITES / "stage_two.yaml"),
        "--thresholds",
        str(t),
        "--data-dir",
        str(data_dir),
        "--sample",
        "3",
        "--output",
        "r.json",
        "--no-mlflow",
    )
    assert r.exit_code == code, r.output
    assert Path("r.json").exists()
    second = Path("r.stage-two.json")
    assert second.exists() is (code == 0)
    if code == 0:
        # the second stage's own floors are not checked by `run`: that is `gate check`'s job on its record
        assert json.loads(second.read_text())["tasks"][0]["name"] == "hellaswag"
    else:
        assert "next stage not run" in r.output
