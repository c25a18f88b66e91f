"""Which lm-eval backend a run uses: --backend (or the checkpoint file), else the suite's `backend:`, else hf."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.config import ModelSpec, load_suite, resolve_backend
from gate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def suite(tmp_path: Path, name: str, backend: str | None) -> Path:
    p = tmp_path / f"{name}.yaml"
    line = f"backend: {backend}\n" if backend else ""
    task = "  - task: arc_easy\n    num_fewshot: 0\n    metric: acc\n    kind: general\n"
    p.write_text(f"name: {name}\nversion: 1\n{line}tasks:\n{task}")
    return p


def test_shipped_stages_run_on_gate_hf():
    assert load_suite(ROOT / "suites/fast.yaml").backend == "gate-hf"
    assert load_suite(ROOT / "suites/full.yaml").backend == "gate-hf"


def test_flag_beats_suite_and_suite_beats_the_default(tmp_path):
    fast = load_suite(suite(tmp_path, "a", "gate-hf"))
    plain = load_suite(suite(tmp_path, "b", None))
    assert resolve_backend(ModelSpec(model="m", backend="hf"), fast).backend == "hf"
    assert resolve_backend(ModelSpec(model="m"), fast).backend == "gate-hf"
    assert resolve_backend(ModelSpec(model="m"), plain).backend == "hf"
    assert resolve_backend(ModelSpec(model="m"), plain, fast).backend == "gate-hf"


def test_chained_suites_that_disagree_are_refused_unless_the_flag_decides(tmp_path):
    a, b = load_suite(suite(tmp_path, "a", "gate-hf")), load_suite(suite(tmp_path, "b", "hf"))
    with pytest.raises(ConfigError, match=r"b\.yaml: backend: hf differs from .*a\.yaml's gate-hf"):
        resolve_backend(ModelSpec(model="m"), a, b)
    assert resolve_backend(ModelSpec(model="m", backend="hf"), a, b).backend == "hf"


def test_unknown_backend_in_a_suite_is_exit_2_naming_the_key(tmp_path):
    import gate.cli.run  # noqa: F401 - registers `gate run`
    from gate.cli import cli

    bad = suite(tmp_path, "bad", "vllm2")
    r = CliRunner().invoke(cli, ["run", "--model", "m", "--suite", str(bad), "--output", str(tmp_path / "o.json")])
    assert r.exit_code == 2 and "backend" in r.output and "bad.yaml" in r.output, r.output
