"""Scoring for the `domain_support_policy` task: rule checks per case, severity and category kept.

Each JSONL row is one case: `user_input`, `must_include` and `must_not` (lists of rules, see
`gate.domain.scorers`), `severity` (low | medium | high) and `category`. A case passes when every
must-include rule holds and no must-not rule does. Per-category scores and the
high-severity blocking rule are computed from the per-case outcomes by `gate.domain.cases`.
"""

from __future__ import annotations

from pathlib import Path

from gate.domain.scorers import check_case

HERE = Path(__file__).resolve().parent
# datasets resolves relative data_files against the working directory, not this folder, so
# the YAML asks this module for an absolute path (`data_files: !function utils.DATA_FILES`).
DATA_FILES = {"test": str(HERE / "cases.jsonl")}
JUDGED_FILES = {"test": str(HERE / "judged.jsonl")}
POLICY = (HERE / "policy.txt").read_text().strip()


def doc_to_text(doc: dict) -> str:
    return f"{POLICY}\n\nCustomer: {doc['user_input']}\nAssistant:"


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    outcome = check_case(results[0], doc["must_include"], doc["must_not"])
    return {"pass": float(outcome.passed)}


def process_unjudged(doc: dict, results: list[str]) -> dict[str, float]:
    """Judged cases score 0 until the LLM judge has passed them (gate.domain.cases.post_process): fail closed."""
    return {"judge_pass": 0.0}
