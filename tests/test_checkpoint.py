"""Checkpoint pointers (checkpoints/*.yaml) and `gate checkpoint show`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import gate.cli.checkpoint  # noqa: F401 - registers `gate checkpoint`
from gate.cli import cli
from gate.config.checkpoint import load_checkpoint
from gate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHA = "0123456789abcdef0123456789abcdef01234567"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ck.yaml"
    p.write_text(text)
    return p


def test_the_shipped_pointers_are_valid():
    pointers = sorted((ROOT / "checkpoints").glob("*.yaml"))
    assert pointers
    for p in pointers:
        ck = load_checkpoint(p)
        assert ck.name and ck.baseline


def test_hub_pointer_gives_pinned_run_args(tmp_path):
    p = write(tmp_path, f"name: sft-v3\nmodel: acme/sft-v3\nrevision: {SHA}\ndtype: bfloat16\nbaseline: release-1\n")
    r = CliRunner().invoke(cli, ["checkpoint", "show", str(p), "--format", "github-output"])
    assert r.exit_code == 0, r.output
    out = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert (out["name"], out["revision"], out["baseline"]) == ("sft-v3", SHA, "release-1")
    args = shlex.split(out["run_args"])
    assert args[:4] == ["--model", "acme/sft-v3", "--revision", SHA]
    assert "--dtype" in args and args[args.index("--dtype") + 1] == "bfloat16"


def test_every_flag_of_a_full_pointer_is_one_gate_run_accepts(tmp_path, repo):
    import gate.cli.run  # noqa: F401 - registers `gate run`

    text = (
        f"name: q\nmodel: acme/m\nrevision: {SHA}\ngguf_file: m.gguf\ndtype: bfloat16\nquantization: 4bit\n"
        "backend: gate-hf\nbatch_size: 4\nmax_length: 2048\n"
    )
    args = load_checkpoint(write(tmp_path, text)).run_args()
    run = cli.commands["run"]
    ctx = run.make_context("run", [*args, "--suite", str(repo / "suites/fast.yaml"), "--output", "o.json"])
    p = ctx.params
    assert (p["model"], p["revision"], p["gguf_file"], p["dtype"]) == ("acme/m", SHA, "m.gguf", "bfloat16")
    assert (p["quantize"], p["backend"], p["batch_size"], p["max_length"]) == ("4bit", "gate-hf", 4, 2048)


def test_pointer_without_a_backend_leaves_it_to_the_suite(tmp_path):
    args = load_checkpoint(write(tmp_path, f"name: q\nmodel: acme/m\nrevision: {SHA}\n")).run_args()
    assert "--backend" not in args


def test_json_format(tmp_path):
    p = write(tmp_path, "name: local\nmodel: /models/x\ngguf_file: x.Q4_1.gguf\n")
    r = CliRunner().invoke(cli, ["checkpoint", "show", str(p)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["model"]["gguf_file"] == "x.Q4_1.gguf" and data["baseline"] == "main"
    assert data["model"]["trust_remote_code"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nmodel: acme/m\n", "revision: required for hub id"),
        ("name: a\nmodel: acme/m\nrevision: main\n", "does not match"),
        ("name: a\nmodel: ./weights\n", "is relative"),
        ("name: a\nmodel: justaname\n", "neither a hub id"),
        (f"name: a\nmodel: acme/m\nrevision: {SHA}\ntrust_remote_code: true\n", "unknown key 'trust_remote_code'"),
        ("name: a\nmodle: /x\n", "did you mean 'model'"),
        ("name: a b\nmodel: /x\n", "name"),
    ],
)
def test_bad_pointers_are_refused_with_the_reason(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load_checkpoint(p)
    r = CliRunner().invoke(cli, ["checkpoint", "show", str(p)])
    assert r.exit_code == 2, r.output


def test_args_format_is_one_flag_per_line_for_mapfile(tmp_path):
    p = write(tmp_path, "name: local\nmodel: /models/x\ngguf_file: x.Q4_1.gguf\nbatch_size: 4\n")
    r = CliRunner().invoke(cli, ["checkpoint", "show", str(p), "--format", "args"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:2] == ["--model", "/models/x"]
    assert lines[lines.index("--gguf-file") + 1] == "x.Q4_1.gguf"
    assert lines[lines.index("--batch-size") + 1] == "4"


def test_a_value_cannot_smuggle_a_second_line(tmp_path):
    p = write(tmp_path, 'name: a\nmodel: /x\ngguf_file: "a\\n--trust-remote-code.gguf"\n')
    with pytest.raises(ConfigError, match="gguf_file"):
        load_checkpoint(p)
