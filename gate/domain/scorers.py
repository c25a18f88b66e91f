"""Rule checks for domain suites: pure functions of a model's output text.

Used by the scorers beside the domain task YAMLs (`suites/domain/*/utils.py`), which lm-eval
loads through `include_path`. Nothing here imports a model: every check is unit-tested on
crafted outputs.

A rule is a one-key mapping read from a case's JSONL row: `{"substring": ["refund", "reimburse"]}`
(any of), `{"regex": "\\b\\d{16}\\b"}`, `{"refusal": true}` or `{"json_valid": true}`. A case passes when every rule in
its `must_include` holds and no rule in its `must_not` holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from gate.errors import ConfigError

RULE_TYPES = ("substring", "regex", "refusal", "json_valid")

# Phrases that open or carry a refusal. Matched case-insensitively with word boundaries; kept
# short and literal so a reader can see why an output counted as a refusal.
_REFUSAL_PATTERNS = (
    r"\bI(?:'m| am) (?:sorry|afraid),? but\b",
    r"\bI(?: can't| cannot| can not| won't| will not| am not able to| am unable to|'m not able to|'m unable to)"
    r" (?:help|assist|provide|share|do|give|disclose|reveal|process|comply|change|bypass|create|make|tell|access)",
    r"\b(?:not|never) (?:able|allowed|permitted) to (?:help|assist|provide|share|disclose|reveal|give)",
    r"\bI must (?:decline|refuse)\b",
    r"\b(?:can(?:'|no)t|cannot|won't) help with (?:that|this)\b",
    r"\bagainst (?:our|the|my) polic(?:y|ies)\b",
    r"\bunable to (?:help|assist|comply)\b",
)
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS), re.IGNORECASE)
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class RuleResult:
    """One rule applied to one output: whether it matched, and a short reason for reports."""

    rule: str
    matched: bool
    detail: str


@dataclass(frozen=True)
class CaseOutcome:
    """A policy case: passed only if every must-include rule matched and no must-not rule did."""

    passed: bool
    failures: tuple[str, ...]  # one line per violated rule


def normalize(text: str) -> str:
    """Casefold and collapse whitespace: the comparison used by substring and field checks."""
    return " ".join(str(text).split()).casefold()


def contains(output: str, needle: str | Sequence[str]) -> bool:
    """True if the output contains the needle (or any of a list of needles), ignoring case and spacing."""
    needles = [needle] if isinstance(needle, str) else list(needle)
    hay = normalize(output)
    return any(normalize(n) in hay for n in needles)


def matches(output: str, pattern: str) -> bool:
    """True if the regular expression matches anywhere in the output (case-insensitive, multiline)."""
    return re.search(pattern, output, re.IGNORECASE | re.MULTILINE) is not None


def is_refusal(output: str) -> bool:
    """True if the output declines the request ("I can't help with that", "I'm sorry, but ...")."""
    return _REFUSAL_RE.search(output.replace("\u2019", "'")) is not None


def extract_json(output: str) -> Any | None:
    """The first JSON value in the output: a fenced ```json block, the whole text, or the first balanced {...}.

    Returns None when there is none; a model that wraps valid JSON in prose still gets credit
    for the JSON, which is what a downstream parser would take.
    """
    candidates = [m.group(1) for m in _FENCE_RE.finditer(output)] + [output]
    for text in candidates:
        text = text.strip()
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
        obj = _first_object(text)
        if obj is not None:
            return obj
    return None


def _first_object(text: str) -> Any | None:
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        return value
    return None


def is_valid_json(output: str) -> bool:
    """True if the output holds a JSON object or array (see `extract_json`)."""
    return isinstance(extract_json(output), dict | list)


@cache
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way `value` breaks `schema`, one short line each; empty when it validates."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errs = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errs]


def is_schema_valid(output: str, schema: Mapping[str, Any]) -> bool:
    """True if the output's JSON (see `extract_json`) validates against the JSON Schema."""
    value = extract_json(output)
    return value is not None and not schema_errors(value, schema)


def field_matches(predicted: Any, expected: Any) -> bool:
    """Exact match of one extracted field: numbers to the cent, strings ignoring case and spacing."""
    if isinstance(expected, bool) or isinstance(predicted, bool):
        return predicted is expected
    if isinstance(expected, int | float):
        try:
            return abs(float(str(predicted).replace(",", "")) - float(expected)) < 0.005
        except ValueError:
            return False
    if expected is None:
        return predicted is None
    return isinstance(predicted, str | int | float) and normalize(str(predicted)) == normalize(str(expected))


@dataclass(frozen=True)
class FieldScore:
    """How many expected fields an output got exactly right."""

    correct: int
    total: int
    missing: tuple[str, ...]
    wrong: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def exact(self) -> bool:
        return self.correct == self.total


def score_fields(output: str, expected: Mapping[str, Any]) -> FieldScore:
    """Compare the output's JSON object with the expected fields; no JSON means every field is missing."""
    value = extract_json(output)
    got = value if isinstance(value, dict) else {}
    missing = tuple(k for k in expected if k not in got)
    wrong = tuple(k for k in expected if k in got and not field_matches(got[k], expected[k]))
    return FieldScore(len(expected) - len(missing) - len(wrong), len(expected), missing, wrong)


def rule_kind(rule: Mapping[str, Any]) -> tuple[str, Any]:
    """The one rule a mapping holds, as (type, value); keys set to null are ignored.

    Arrow fills the keys a JSONL row leaves out with null, so `{"regex": "x"}` arrives as
    `{"substring": None, "regex": "x", "refusal": None, "json_valid": None}`.
    """
    present = {k: v for k, v in rule.items() if v is not None and v is not False}
    unknown = sorted(set(present) - set(RULE_TYPES))
    if unknown:
        raise ConfigError(f"rule {dict(rule)}: unknown key {unknown[0]!r}; allowed: {', '.join(RULE_TYPES)}")
    if len(present) != 1:
        raise ConfigError(
            f'rule {dict(rule)}: needs exactly one of {", ".join(RULE_TYPES)}, e.g. {{"substring": ["refund"]}}'
        )
    return next(iter(present.items()))


def check_rule(output: str, rule: Mapping[str, Any]) -> RuleResult:
    """Apply one rule to an output. A malformed rule is a ConfigError, never a silent pass."""
    kind, value = rule_kind(rule)
    if kind == "substring":
        if not value or not (isinstance(value, str) or all(isinstance(v, str) and v for v in value)):
            raise ConfigError(f"rule {dict(rule)}: substring needs a non-empty string or list of strings")
        return RuleResult("substring", contains(output, value), f"contains {value!r}")
    if kind == "regex":
        if not isinstance(value, str):
            raise ConfigError(f"rule {dict(rule)}: regex needs the pattern as a string")
        try:
            return RuleResult("regex", matches(output, value), f"matches /{value}/")
        except re.error as e:
            raise ConfigError(f"rule {dict(rule)}: bad regular expression ({e}); fix the pattern") from None
    if kind == "refusal":
        return RuleResult("refusal", is_refusal(output), "is a refusal")
    return RuleResult("json_valid", is_valid_json(output), "is valid JSON")


def check_case(
    output: str, must_include: Sequence[Mapping[str, Any]], must_not: Sequence[Mapping[str, Any]]
) -> CaseOutcome:
    """Apply a case's rules: pass only if every `must_include` rule matches and no `must_not` rule does."""
    failures = []
    for rule in must_include:
        r = check_rule(output, rule)
        if not r.matched:
            failures.append(f"missing: {r.detail}")
    for rule in must_not:
        r = check_rule(output, rule)
        if r.matched:
            failures.append(f"forbidden: {r.detail}")
    return CaseOutcome(not failures, tuple(failures))
