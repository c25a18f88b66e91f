"""The package layout's promises: the public API, the import rules between stages, and the module map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gate
import gate.errors

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in (ROOT / "gate").rglob("*.py")
)
HEAVY = ("torch", "transformers", "lm_eval", "mlflow", "numpy", "scipy", "github")


def imported_after(statement: str) -> set[str]:
    """Top-level packages a fresh interpreter holds after running `statement`."""
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_the_public_api_exports_what_a_library_user_needs():
    expected = {
        "__version__",
        *("run_suite", "RunOptions", "evaluate_checkpoint", "RunRequest", "RunResult", "load_lm", "LoadedModel"),
        *("check", "compare", "Verdict", "FloorCheck", "Comparison", "TaskComparison"),
        *("EvalRecord", "TaskResult", "ItemOutcome", "BaselineRef", "load_record", "save_record"),
        *("ModelSpec", "Suite", "TaskSpec", "Thresholds", "TaskThreshold", "Policy", "Checkpoint"),
        *("load_suite", "load_thresholds", "load_checkpoint", "Store", "render_comparison", "render_verdict"),
        *("GateError", "ConfigError", "DataMissing", "BaselineNotFound", "GpuRequired"),
        *("InfraError", "ModelLoadError", "EvalFailed", "StoreUnavailable", "GitHubUnavailable"),
    }
    assert set(gate.__all__) == expected
    assert len(gate.__all__) == len(expected)  # no name listed twice

    errors = {n for n, v in vars(gate.errors).items() if isinstance(v, type) and issubclass(v, gate.errors.GateError)}
    assert errors <= set(gate.__all__), "every error class is exported"
    for name in gate.__all__:
        assert getattr(gate, name) is not None, name
    with pytest.raises(AttributeError):
        gate.no_such_name  # noqa: B018


def test_importing_the_package_loads_nothing_heavy():
    assert not imported_after("import gate") & set(HEAVY)


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if m.startswith(("gate.results", "gate.report", "gate.github", "gate.config", "gate.ci"))]
    + ["gate.record", "gate.errors", "gate.text", "gate.files", "gate.schemas"],
)
def test_the_publish_path_needs_no_model_code_statistics_or_mlflow(module):
    # The publish job installs PyGithub, click, pyyaml and jsonschema only.
    heavy = {"torch", "transformers", "lm_eval", "mlflow", "numpy", "scipy"}
    assert not imported_after(f"import {module}") & heavy


def test_every_gate_command_starts_without_model_code_statistics_or_mlflow():
    # `python -m gate comment` registers every command; each imports its heavy parts when it runs.
    heavy = {"torch", "transformers", "lm_eval", "mlflow", "numpy", "scipy"}
    assert not imported_after("import gate.cli; gate.cli._register()") & heavy


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("gate.decide")])
def test_decisions_are_pure(module):
    # Statistics may use numpy and scipy; nothing that loads models, talks to MLflow or to GitHub.
    assert not imported_after(f"import {module}") & {"torch", "transformers", "lm_eval", "mlflow", "github"}


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("gate.store")])
def test_the_store_loads_no_model_code(module):
    assert not imported_after(f"import {module}") & {"torch", "transformers", "lm_eval", "github"}


def test_the_module_map_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for m in MODULES:
        path = m.removeprefix("gate.").replace(".", "/")
        is_pkg = (ROOT / "gate" / path / "__init__.py").exists() if m != "gate" else True
        name = f"{path}/" if is_pkg else f"{path}.py"
        if m != "gate" and f"`{name}`" not in doc:
            missing.append(name)
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"
