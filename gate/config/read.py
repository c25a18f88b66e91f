"""Reading a config file: YAML with errors that name the file and line, and the canonical hash of its data.

Every YAML file the gate reads (suites, thresholds, checkpoint pointers, rubrics) goes through
`read_yaml`. A key written twice in one mapping is an error naming both lines: plain YAML keeps
the last one silently, so a second `mmlu:` under `tasks:` would replace a floor of 0.60 by 0.10.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from gate.errors import ConfigError
from gate.files import read_text

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key written twice in one mapping (`<<` merges may still override)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key; SafeLoader reports it below
                    continue
                if first is not None:
                    raise _DuplicateKey(
                        problem=f"key {key!r} appears twice: at line {first.start_mark.line + 1} and at line "
                        f"{key_node.start_mark.line + 1}; keep one",
                        problem_mark=key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_yaml_map)


def parse_yaml(text: str, source: str) -> Any:
    """YAML text as data, with a key written twice refused; ConfigError names `source` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no Python objects
    except _DuplicateKey as e:
        raise ConfigError(f"{source}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """A YAML config file whose top level is a mapping of keys (every config the gate reads is one)."""
    data = parse_yaml(read_text(path, what), str(path))
    if data is None:
        raise ConfigError(f"{path}: the {what} file is empty; see its schema in gate/schemas/ for the keys it needs")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} file must be a mapping of keys, not a {_yaml_kind(data)}")
    return data


def _yaml_kind(data: Any) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "plain string"
    return type(data).__name__


def canonical_hash(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()
