"""Thresholds (`thresholds/*.yaml`): per-task floors and allowed drops, alpha, and the blocking policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from gate.config.read import read_yaml
from gate.errors import ConfigError
from gate.metrics import metric_range
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
    check_ranges(data["tasks"], p)
    return Thresholds(
        tasks={name: TaskThreshold(**t) for name, t in data["tasks"].items()},
        alpha=data.get("alpha", 0.05),
        inconclusive=data.get("inconclusive", "fail"),
        policy=Policy(**data.get("policy", {})),
        path=p,
    )


def check_ranges(rules: dict[str, dict], path: Path) -> None:
    """Floors and allowed drops must lie in their metric's range (`gate.metrics`): a floor of -1 on an
    accuracy always passes, and an allowed drop wider than the whole range allows anything."""
    for name, rule in rules.items():
        bounds = metric_range(rule["metric"])
        if bounds is None:
            continue
        lo, hi = bounds
        floor, drop = rule.get("floor"), rule.get("max_drop")
        if floor is not None and not lo <= floor <= hi:
            raise ConfigError(f"{path}: tasks.{name}.floor: {floor} is outside {rule['metric']}'s range {lo:g}..{hi:g}")
        if drop is not None and drop > hi - lo:
            raise ConfigError(
                f"{path}: tasks.{name}.max_drop: {drop} is more than {rule['metric']}'s whole range ({lo:g}..{hi:g}); "
                "allowed drops are in metric units, e.g. 0.02 for 2 points"
            )
