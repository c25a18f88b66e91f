"""JSON Schemas shipped with the package, and one way to check a document against them.

Errors name the file, the path of the bad key inside it, and what is allowed, with a
"did you mean" for misspelt keys. Every number in every document must be finite: JSON Schema's
bounds let NaN through (every comparison with NaN is false), so `validate` refuses NaN and
Infinity itself, whatever the schema.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from gate.errors import ConfigError


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def where(data: Any, path: Iterable[str | int]) -> str:
    """A key path as `tasks.0 (arc_easy).items.3.score`: list entries that have a name say it."""
    parts, node = [], data
    for key in path:
        node = node[key] if isinstance(node, dict | list) and _has(node, key) else None
        label = str(key)
        if isinstance(key, int) and isinstance(node, dict):
            name = node.get("name", node.get("task"))
            if isinstance(name, str) and name:
                label += f" ({name})"
        parts.append(label)
    return ".".join(parts) if parts else "(top level)"


def _has(node: dict | list, key: str | int) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and 0 <= key < len(node)


def non_finite(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], float]]:
    """Every NaN or infinite number in a JSON- or YAML-shaped document, with its key path."""
    if isinstance(data, float):
        if not math.isfinite(data):
            yield path, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from non_finite(v, (*path, k))
    elif isinstance(data, list | tuple):
        for i, v in enumerate(data):
            yield from non_finite(v, (*path, i))


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
    if error.validator == "anyOf" and all(set(s) == {"required"} for s in error.validator_value):
        keys = [k for s in error.validator_value for k in s["required"]]
        return f"gives none of {', '.join(keys)}; at least one is needed"
    return error.message


def validate(data: Any, schema_name: str, source: str) -> None:
    """Raise ConfigError naming every problem, most specific first, in one line each.

    NaN and Infinity come first: a bound the schema sets cannot catch them.
    """
    bad = list(non_finite(data))
    if bad:
        path, value = bad[0]
        more = f" (and {len(bad) - 1} more non-finite numbers)" if len(bad) > 1 else ""
        raise ConfigError(f"{source}: {where(data, path)}: {value} is not a finite number{more}")
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    # A misspelt key first: the "is required" beside it is only its consequence.
    errors = sorted(
        validator.iter_errors(data),
        key=lambda e: (list(map(str, e.absolute_path)), e.validator != "additionalProperties", e.message),
    )
    if not errors:
        return
    lines = [f"{source}: {where(data, e.absolute_path)}: {_explain(e)}" for e in errors[:5]]
    if len(errors) > 5:
        lines.append(f"{source}: ... and {len(errors) - 5} more problems")
    raise ConfigError("\n".join(lines))
