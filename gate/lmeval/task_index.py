"""lm-eval's TaskManager with its index of task YAMLs read from a disk cache.

lm-eval parses every task YAML it ships (~14k) on each start: seconds, paid again by every checkpoint.
The index is a pure function of those files, so it is cached, keyed by the lm-eval version and each
YAML's path, size and mtime. This reads and sets lm-eval's private index (`lm_eval.tasks._index`,
`TaskManager._index`, `_all_tasks`, ...); any surprise there falls back to a plain TaskManager.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from gate.files import atomic_write
from gate.lmeval.request_cache import default_cache_dir


def _yaml_stamp(roots: list[Path]) -> str:
    h = hashlib.sha256(f"index-format 2 {version('lm_eval')}".encode())
    for root in roots:
        h.update(f"\0root {root}".encode())
        for p in sorted(root.glob("**/*.yaml")):
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_task_manager(
    include_paths: tuple[Path, ...] | list[Path] = (), cache_dir: Path | None = None, include_defaults: bool = True
):
    """lm-eval's TaskManager, its index of task YAMLs read from disk cache when none has changed."""
    import lm_eval.tasks
    from lm_eval.tasks import TaskManager

    # Written against lm-eval 0.4.13: `lm_eval.tasks._index` is private; it relies on `Entry` having
    # name/kind/yaml_path/cfg/tags, `Kind` being an Enum and `TaskIndex.build(roots)` returning {name: Entry}.
    from lm_eval.tasks._index import Entry, Kind, TaskIndex

    defaults = [Path(lm_eval.tasks.__file__).parent] if include_defaults else []
    roots = [*defaults, *(Path(p) for p in include_paths)]
    inc = [str(p) for p in include_paths] or None
    try:
        tm = TaskManager(include_defaults=False)
        path = (cache_dir or default_cache_dir().parent) / "task-index" / f"{_yaml_stamp(roots)}.json"
        try:
            raw = json.loads(path.read_text())
            index = {
                k: Entry(
                    name=e["name"],
                    kind=Kind[e["kind"]],
                    yaml_path=Path(e["yaml_path"]) if e["yaml_path"] else None,
                    cfg=e["cfg"],
                    tags=set(e["tags"]),
                )
                for k, e in raw.items()
            }
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            index = TaskIndex.build(roots)
            blob = {
                k: {
                    "name": e.name,
                    "kind": e.kind.name,
                    "yaml_path": str(e.yaml_path) if e.yaml_path else None,
                    # lm-eval reads an entry's cfg only when it has no YAML file (TaskFactory._load_full_config)
                    "cfg": None if e.yaml_path else e.cfg,
                    "tags": sorted(e.tags),
                }
                for k, e in index.items()
            }
            try:
                text = json.dumps(blob)
            except TypeError:
                text = None
            if text is not None:
                atomic_write(path, text)
        tm.include_path = inc
        # Written against lm-eval 0.4.13: TaskManager keeps its index in `_index` and the name lists its
        # `all_tasks`/`all_subtasks`/`all_groups`/`all_tags` properties return in `_all_*`; the constructor
        # fills them from `TaskIndex.build`, which is exactly what is replaced here.
        tm._index = index
        kinds: dict[Any, list[str]] = {}
        for k, e in index.items():
            kinds.setdefault(e.kind, []).append(k)
        tm._all_tasks = sorted(index)
        tm._all_subtasks = sorted(kinds.get(Kind.TASK, []) + kinds.get(Kind.PY_TASK, []))
        tm._all_groups = sorted(kinds.get(Kind.GROUP, []))
        tm._all_tags = sorted(kinds.get(Kind.TAG, []))
        return tm
    except (AttributeError, TypeError, ImportError):
        return TaskManager(include_path=inc, include_defaults=include_defaults)
