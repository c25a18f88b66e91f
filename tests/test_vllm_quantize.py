"""`--backend vllm --quantize`: vLLM is asked for the quantisation the record names, or the run is refused
(vLLM is not installed here: what lm-eval's vllm backend is given, and the refusals, are checked without it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import _register, cli
from gate.config import ModelSpec
from gate.run.models import vllm_args

_register()


def test_4bit_is_passed_to_vllm_and_none_is_not():
    four = vllm_args(ModelSpec(model="m", backend="vllm", quantization="4bit"), Path("/w"), "bfloat16")
    assert four["quantization"] == "bitsandbytes" and four["pretrained"] == "/w"
    assert "quantization" not in vllm_args(ModelSpec(model="m", backend="vllm"), Path("/w"), "bfloat16")


@pytest.mark.parametrize(
    "quantize, says",
    [
        ("8bit", "--backend vllm --quantize 8bit: vLLM quantises in flight with bitsandbytes to 4-bit only"),
        ("4bit", "needs a CUDA GPU"),  # this machine has none: refused, never an unquantised run recorded as 4bit
    ],
)
def test_vllm_quantisation_refused_in_one_line_before_loading(repo, tmp_path, quantize, says):
    import torch

    if torch.cuda.is_available() and quantize == "4bit":
        pytest.skip("a GPU machine can run vllm 4bit")
    cmd = ["run", "--model", "smollm2-135m", "--backend", "vllm", "--quantize", quantize, "--no-mlflow"]
    cmd += ["--suite", str(repo / "suites/fast.yaml"), "--output", str(tmp_path / "o.json")]
    r = CliRunner().invoke(cli, cmd)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert says in line, line


def test_vllm_spread_settings_reach_vllm_and_need_it():
    spec = ModelSpec(
        model="m", backend="vllm", tensor_parallel_size=2, data_parallel_size=4, gpu_memory_utilization=0.8
    )
    args = vllm_args(spec, Path("/w"), "bfloat16")
    assert (args["tensor_parallel_size"], args["data_parallel_size"], args["gpu_memory_utilization"]) == (2, 4, 0.8)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--backend", "hf", "--tensor-parallel-size", "2"], "are vLLM's: add --backend vllm"),
        (["--backend", "vllm", "--tensor-parallel-size", "2"], "needs a CUDA GPU"),
    ],
)
def test_vllm_spread_refused_in_one_line_without_vllm_or_cuda(repo, tmp_path, args, says):
    import torch

    if torch.cuda.is_available() and "vllm" in args:
        pytest.skip("a GPU machine can run vllm")
    cmd = ["run", "--model", "smollm2-135m", "--no-mlflow", *args]
    cmd += ["--suite", str(repo / "suites/fast.yaml"), "--output", str(tmp_path / "o.json")]
    r = CliRunner().invoke(cli, cmd)
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert says in line, line
