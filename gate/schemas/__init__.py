"""JSON Schemas shipped with the package, and one way to check a document against them.

Errors name the file, the path of the bad key inside it, and what is allowed, with a
"did you mean" for misspelt keys.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from gate.errors import ConfigError


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _explain(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        return "; ".join(hints) + f"; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def validate(data: Any, schema_name: str, source: str) -> None:
    """Raise ConfigError naming every problem, most specific first, in one line each."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if not errors:
        return
    lines = [f"{source}: {_where(e)}: {_explain(e)}" for e in errors[:5]]
    if len(errors) > 5:
        lines.append(f"{source}: ... and {len(errors) - 5} more problems")
    raise ConfigError("\n".join(lines))
