"""Scoring of `short_answers`: four one-word questions (written for the tests), rule-checked.

A model answers each in a few tokens and stops: the baseline of tests/test_operational.py, against which
a candidate whose generation config suppresses the end-of-sequence token is measurably more verbose.
"""

from __future__ import annotations

from pathlib import Path

from gate.domain.scorers import check_case

DATA_FILES = {"test": str(Path(__file__).resolve().parent / "cases.jsonl")}


def doc_to_text(doc: dict) -> str:
    return doc["user_input"]


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    return {"pass": float(check_case(results[0], doc["must_include"], doc["must_not"]).passed)}
