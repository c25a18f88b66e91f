"""A suite's tasks as lm-eval task objects: names checked, leaves and groups loaded, settings applied.

Each suite task is a leaf task (ARC-Easy) or a group of leaves (MMLU's 57 subjects); the runner
chooses items per leaf and only the chosen leaves run. Everything the gate asks of lm-eval's task
objects is here, so the runner handles them without knowing their API.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gate.config import Suite, TaskSpec
from gate.errors import ConfigError
from gate.lmeval.data import expect_fewshot, task_manager


@cache
def _task_manager(data_dir: Path | None, include_paths: tuple[Path, ...]) -> Any:
    # Indexing lm-eval's few thousand task YAMLs takes seconds; do it once per process.
    return task_manager(data_dir, include_paths)


def suite_task_manager(suite: Suite, data_dir: Path | None) -> Any:
    """The lm-eval TaskManager of a suite (its include_paths, reading from `data_dir`), one per process."""
    return _task_manager(data_dir.resolve() if data_dir else None, suite.include_paths)


def _unknown_task(name: str, tm: Any, suite: Suite) -> ConfigError:
    close = difflib.get_close_matches(name, tm.all_tasks, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(f"{suite.path}: tasks: unknown lm-eval task '{name}'{hint}; `lm-eval ls tasks` lists them")


def check_task_names(suite: Suite, data_dir: Path | None) -> None:
    """Fail on a task name lm-eval does not know, with the closest names it does."""
    tm = suite_task_manager(suite, data_dir)
    for spec in suite.tasks:
        if spec.task not in tm.all_tasks:
            raise _unknown_task(spec.task, tm, suite)


@dataclass(frozen=True)
class LoadedTask:
    """One suite task as lm-eval objects: its leaf tasks by name, its groups, and the manager that built them."""

    name: str
    leaves: dict[str, Any]  # lm-eval Task objects
    groups: dict[str, Any]  # lm-eval groups (for how they aggregate)
    manager: Any  # the TaskManager; `simple_evaluate` takes it too

    @property
    def is_group(self) -> bool:
        """Whether the suite task is a group (its score combines leaves) rather than one leaf."""
        return self.name not in self.leaves or len(self.leaves) > 1

    def sizes(self) -> dict[str, int]:
        """Items per leaf: the documents lm-eval evaluates."""
        return {name: len(t.eval_docs) for name, t in self.leaves.items()}

    def output_types(self) -> dict[str, str]:
        """Each leaf's lm-eval output type (multiple_choice, generate_until, loglikelihood, ...)."""
        return {name: str(t.OUTPUT_TYPE or t.config.output_type) for name, t in self.leaves.items()}

    def weight_by_size(self, metric: str) -> bool:
        """Whether lm-eval aggregates this group's metric over items (True) or over subtask means."""
        group = self.groups.get(self.name)
        for agg in getattr(group, "aggregate_metric_list", None) or []:
            if agg.metric == metric:
                return bool(agg.weight_by_size)
        return True


def load_task(spec: TaskSpec, suite: Suite, data_dir: Path | None) -> LoadedTask:
    """The lm-eval task objects of one suite task; DataMissing when its data is not in `data_dir`."""
    tm = suite_task_manager(suite, data_dir)
    if spec.task not in tm.all_tasks:
        raise _unknown_task(spec.task, tm, suite)
    expect_fewshot(tm, spec.num_fewshot, spec.fewshot_split)
    loaded = tm.load([spec.task])
    return LoadedTask(name=spec.task, leaves=loaded["tasks"], groups=loaded.get("groups", {}), manager=tm)


def cap_generation(tasks: list[Any], max_gen_toks: int) -> None:
    """Limit the tokens each generative task may generate (multiple-choice tasks generate none)."""
    for task in tasks:
        if task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value={"max_gen_toks": max_gen_toks}, update=True)


def draws_fewshot_from(tasks: list[Any], split: str) -> bool:
    """Whether any task takes its few-shot examples from `split` (the data dir's stand-in pool)."""
    return any(t.get_config("fewshot_split") == split for t in tasks)
