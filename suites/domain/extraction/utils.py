"""Scoring for the `domain_extraction` task: field exact match and JSON-schema validity.

lm-eval loads this file by path (`!function utils.process_results`); the rule logic lives in
`gate.domain.scorers`, where it is unit-tested.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from gate.domain.scorers import is_schema_valid, score_fields

HERE = Path(__file__).resolve().parent
# datasets resolves relative data_files against the working directory, not this folder, so
# the YAML asks this module for an absolute path (`data_files: !function utils.DATA_FILES`).
DATA_FILES = {"test": str(HERE / "cases.jsonl")}
SCHEMA = json.loads((HERE / "output.schema.json").read_text())


def expected(doc: dict) -> dict:
    """The expected fields, with the date as the YYYY-MM-DD string the JSONL holds.

    JSON has no date type, but Arrow reads ISO date strings as timestamps when lm-eval loads
    the JSONL through `datasets`; this undoes that guess.
    """
    fields = dict(doc["expected"])
    if isinstance(fields["date"], dt.date):
        fields["date"] = fields["date"].strftime("%Y-%m-%d")
    return fields


def doc_to_text(doc: dict) -> str:
    return (
        "Extract the fields of this business document. Reply with one JSON object and nothing else, "
        'with exactly these keys: "document_type" ("invoice" or "purchase_order"), "document_number", '
        '"date" (YYYY-MM-DD), "seller", "buyer", "total" (a number, no currency sign), '
        '"currency" (three-letter ISO code).\n\n'
        f"Document:\n{doc['document']}\n\nJSON:"
    )


def doc_to_target(doc: dict) -> str:
    return json.dumps(expected(doc))


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    output = results[0]
    fields = score_fields(output, expected(doc))
    return {
        "field_acc": fields.accuracy,
        "exact_match": float(fields.exact),
        "schema_valid": float(is_schema_valid(output, SCHEMA)),
    }
