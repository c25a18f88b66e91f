"""The data directory: serve every task's hub dataset from local JSONL files.

Layout: `<data_dir>/<hub dataset id>/<config name or "default">/<split>.jsonl`. Real users load
from the hub (no data dir); air-gapped runners and the tests point `--data-dir` here, and a
file that is missing is an error naming the path, never a silently skipped task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval.tasks import TaskManager
from lm_eval.tasks._factory import TaskFactory  # private module (lm-eval 0.4.13); see _DataDirFactory

from gate.errors import DataMissing

EVAL_SPLITS = ("test_split", "validation_split")
SPLIT_KEYS = ("test_split", "validation_split", "training_split", "fewshot_split")


@dataclass(frozen=True)
class DataDir:
    root: Path

    def split_file(self, hub_id: str, config: str | None, split: str) -> Path:
        return self.root / hub_id / (config or "default") / f"{split}.jsonl"


def _eval_split_key(cfg: dict[str, Any]) -> str | None:
    # lm-eval evaluates on test docs when a test split is named, else on validation docs.
    for key in EVAL_SPLITS:
        if cfg.get(key):
            return key
    return None


def _fewshot_split_key(cfg: dict[str, Any]) -> str | None:
    if cfg.get("fewshot_split"):
        return "fewshot_split"
    if cfg.get("training_split"):
        return "training_split"
    if cfg.get("validation_split") and cfg.get("test_split"):
        return "validation_split"
    return None


def rewrite_config(cfg: dict[str, Any], data_dir: DataDir, fewshot_fallback: str | None = None) -> dict[str, Any]:
    """Point one lm-eval task config at local files; raise DataMissing for what is needed but absent.

    `fewshot_fallback` names a split to draw few-shot examples from when the task's own pool is
    not in the data dir (the suite's `fewshot_split`, e.g. `test` for MMLU-Pro offline).
    """
    hub_id = cfg.get("dataset_path")
    if not hub_id or hub_id in ("json", "csv", "parquet", "text") or cfg.get("custom_dataset"):
        return cfg  # already local (domain suites) or not a hub dataset
    config = cfg.get("dataset_name")
    task = cfg.get("task", "?")
    out = dict(cfg)
    files: dict[str, str] = {}
    eval_key = _eval_split_key(cfg)
    fewshot_key = _fewshot_split_key(cfg)
    for key in SPLIT_KEYS:
        split = cfg.get(key)
        if not split:
            continue
        path = data_dir.split_file(hub_id, config, split)
        if path.is_file():
            files[split] = str(path)
            continue
        if key == eval_key:
            raise DataMissing(
                f"task '{task}': evaluation data not found at {path}; add {hub_id} ({config or 'default'}/{split}) "
                f"to the data directory, or run without --data-dir to load from the hub"
            )
        # Splits that serve only as a few-shot pool may be absent; lm-eval raises KeyError on a named split
        # that is missing, so drop it. A few-shot run that then has no pool is refused below.
        out[key] = None
    if fewshot_key and not out.get(fewshot_key):
        fs = cfg.get("fewshot_config") or {}
        fallback = data_dir.split_file(hub_id, config, fewshot_fallback) if fewshot_fallback else None
        if not fs.get("samples") and fallback is not None and fallback.is_file():
            # Naming the split (rather than leaving it null) matters: lm-eval leaves the evaluated
            # item out of its own prompt only when the few-shot split equals the test split.
            files[fewshot_fallback] = str(fallback)
            out["fewshot_split"] = fewshot_fallback
        elif not fs.get("samples"):
            out["_gate_missing_fewshot"] = str(data_dir.split_file(hub_id, config, cfg[fewshot_key]))
    out["dataset_path"] = "json"
    out["dataset_name"] = None
    out["dataset_kwargs"] = {"data_files": files}
    return out


class _DataDirFactory(TaskFactory):
    """lm-eval's task factory, with each task's dataset source rewritten to the data directory.

    Every task config, whether named directly, reached through a group (mmlu, leaderboard_bbh) or
    a tag, passes through `_load_full_config`, so this is the one place to rewrite it.

    Written against lm-eval 0.4.13: subclasses the private `lm_eval.tasks._factory.TaskFactory` and
    overrides its private `_load_full_config(entry, overrides) -> dict`, which `build` calls for every
    task (and group member) before constructing it; installed as the TaskManager's private `_factory`.
    """

    def __init__(self, data_dir: DataDir, meta: dict[str, Any] | None = None):
        super().__init__(meta=meta)
        self._data_dir = data_dir
        # Set by the runner before each load: with few-shot asked for, a missing pool is an error,
        # because lm-eval would otherwise fall back to drawing examples from the test split.
        self.num_fewshot = 0
        self.fewshot_split: str | None = None

    def _load_full_config(self, entry, overrides=None):  # type: ignore[override]
        cfg = super()._load_full_config(entry, overrides)
        if "dataset_path" in cfg:
            cfg = rewrite_config(cfg, self._data_dir, self.fewshot_split)
            missing = cfg.pop("_gate_missing_fewshot", None)
            if missing and self.num_fewshot > 0:
                raise DataMissing(
                    f"task '{cfg.get('task')}': {self.num_fewshot}-shot needs its few-shot pool at {missing}; "
                    "add that file to the data directory or set num_fewshot: 0 in the suite"
                )
        return cfg


def expect_fewshot(tm: TaskManager, num_fewshot: int, fewshot_split: str | None = None) -> None:
    """Tell a data-dir TaskManager how many few-shot examples the next load will ask for, and from
    which split to draw them when the task's own pool is absent."""
    # `TaskManager._factory` is private (lm-eval 0.4.13): the TaskFactory its `load` builds tasks with.
    if isinstance(tm._factory, _DataDirFactory):
        tm._factory.num_fewshot = num_fewshot
        tm._factory.fewshot_split = fewshot_split


def task_manager(data_dir: Path | None, include_paths: tuple[Path, ...] | list[Path] = ()) -> TaskManager:
    """A TaskManager that reads hub datasets from `data_dir` (or from the hub when it is None)."""
    from gate.lmeval.task_index import cached_task_manager  # the task index, parsed once per lm-eval version

    tm = cached_task_manager(tuple(include_paths))
    if data_dir is not None:
        root = Path(data_dir)
        if not root.is_dir():
            raise DataMissing(
                f"--data-dir {root}: no such directory; "
                "point it at a folder laid out as <hub id>/<config>/<split>.jsonl"
            )
        # Offline: the data dir is the only source; never reach for the hub.
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Replaces the private `TaskManager._factory` (lm-eval 0.4.13), which `load` builds every task with.
        tm._factory = _DataDirFactory(DataDir(root.resolve()), meta=tm.metadata)
    return tm
