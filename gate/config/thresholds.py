"""Thresholds (`thresholds/*.yaml`): per-task floors and allowed drops, alpha, and the blocking policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from gate.config.read import read_yaml
from gate.errors import ConfigError  # noqa: F401
from gate.schemas import validate


@dataclass(frozen=True)
class TaskThreshold:
    metric: str
    higher_is_better: bool
    floor: float | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class Policy:
    inconclusive_blocks: bool = False
    block_on_forgetting: bool = True
    block_on_not_comparable: bool = True


@dataclass(frozen=True)
class Thresholds:
    tasks: dict[str, TaskThreshold]
    alpha: float = 0.05
    inconclusive: str = "fail"
    policy: Policy = field(default_factory=Policy)
    path: Path | None = None

    def only(self, task_names: list[str]) -> Thresholds:
        """The rules for these tasks alone, e.g. the fast stage's floors out of a file that covers both stages."""
        return replace(self, tasks={k: v for k, v in self.tasks.items() if k in task_names})


def load_thresholds(path: str | Path) -> Thresholds:
    """Load a thresholds YAML such as `thresholds/default.yaml`."""
    p = Path(path)
    data = read_yaml(p, "thresholds")
    validate(data, "thresholds", str(p))
    return Thresholds(
        tasks={name: TaskThreshold(**t) for name, t in data["tasks"].items()},
        alpha=data.get("alpha", 0.05),
        inconclusive=data.get("inconclusive", "fail"),
        policy=Policy(**data.get("policy", {})),
        path=p,
    )
