"""Thresholds (`thresholds/*.yaml`): per-task floors and allowed drops, alpha, and the blocking policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from gate.config.operational import OperationalRules, load_operational
from gate.config.read import read_yaml
from gate.errors import ConfigError
from gate.metrics import metric_range
from gate.schemas import validate


@dataclass(frozen=True)
class TaskThreshold:
    metric: str | None  # None only for a rule made from `defaults` (the record's metric is used)
    higher_is_better: bool | None
    floor: float | None = None
    max_drop: float | None = None
    informational: bool = False  # compared and shown, never blocks on its own numbers
    from_defaults: bool = False  # made from `defaults` for a task the file does not name


@dataclass(frozen=True)
class Defaults:
    """The rule of every task the thresholds file does not name: every suite task is gated unless said otherwise."""

    max_drop: float | None = None


@dataclass(frozen=True)
class Policy:
    # One vocabulary for floors and diffs: "inconclusive" is a sample too small to tell. It shows as its
    # own state (a neutral check, "inconclusive" everywhere) and does not block unless this says so.
    inconclusive_blocks: bool = False
    block_on_likely_regression: bool = True
    block_on_forgetting: bool = True
    block_on_not_comparable: bool = True
    require_power: bool = False  # refuse a run whose sample cannot resolve a gated task's allowance
    # a different GPU, driver, CUDA, torch or transformers version: shown always; with this, not comparable
    block_on_setup_change: bool = False


@dataclass(frozen=True)
class JaggedRule:
    """When a general task's change is out of line with the others' (`gate.decide.jagged`)."""

    z: float = 3.5  # robust z-score, in standard errors of the deltas, beyond which a task is jagged
    min_tasks: int = 4  # general tasks compared: below this there is no "rest" to be out of line with
    blocks: bool = False  # a warning unless the file says so


@dataclass(frozen=True)
class ContaminationRule:
    """When a contamination probe's drop under permuted options is flagged (`gate.decide.contamination`)."""

    max_gap: float = 0.05  # allowed drop (metric units; 0.05 = 5 points) beyond which the interval must lie
    blocks: bool = False  # a warning unless the file says so


@dataclass(frozen=True)
class PairwiseJudgePin:
    """The judge a pairwise floor was set for: a result from another judge is not comparable with it."""

    model: str
    prompt_version: int
    prompt_hash: str | None = None  # covers the prompt template and the rubric's text; pinned when given
    rubric_id: str | None = None
    rubric_version: int | None = None


@dataclass(frozen=True)
class PairwiseRule:
    """`pairwise:`: the candidate's win rate against the baseline (`gate judge pairwise`) must not be below
    `min_win_rate`; blocks when the whole interval is below it (`gate.decide.pairwise`)."""

    min_win_rate: float
    judge: PairwiseJudgePin


@dataclass(frozen=True)
class Thresholds:
    tasks: dict[str, TaskThreshold]
    alpha: float = 0.05
    policy: Policy = field(default_factory=Policy)
    defaults: Defaults = field(default_factory=Defaults)
    path: Path | None = None
    jagged: JaggedRule = field(default_factory=JaggedRule)
    operational: OperationalRules = field(default_factory=OperationalRules)  # gate.config.operational
    contamination: ContaminationRule = field(default_factory=ContaminationRule)
    pairwise: PairwiseRule | None = None  # the pairwise judge's win-rate floor, if any

    def only(self, task_names: list[str]) -> Thresholds:
        """The rules for these tasks alone, e.g. the fast stage's floors out of a file that covers both stages."""
        return replace(self, tasks={k: v for k, v in self.tasks.items() if k in task_names})

    def rule(self, task: str, metric: str, higher_is_better: bool) -> TaskThreshold:
        """The rule a diff applies to `task`: the file's own, else one made from `defaults`.

        A task with neither is a config error: a suite task is never left ungated by omission.
        """
        th = self.tasks.get(task)
        if th is not None and (th.max_drop is not None or th.informational or self.defaults.max_drop is None):
            if th.max_drop is None and not th.informational:
                raise ConfigError(
                    f"{self.path or 'thresholds'}: tasks.{task}: no max_drop and the file sets no defaults.max_drop; "
                    f"give tasks.{task}.max_drop, a defaults.max_drop, or informational: true"
                )
            return th
        if self.defaults.max_drop is None:
            raise ConfigError(
                f"{self.path or 'thresholds'}: tasks: '{task}' is evaluated but has no rule and the file sets no "
                f"defaults.max_drop; add tasks.{task}, defaults: {{max_drop: ...}}, or tasks.{task}.informational: true"
            )
        floor = th.floor if th is not None else None
        return TaskThreshold(metric, higher_is_better, floor, self.defaults.max_drop, from_defaults=th is None)


def load_thresholds(path: str | Path) -> Thresholds:
    """Load a thresholds YAML such as `thresholds/default.yaml`."""
    p = Path(path)
    data = read_yaml(p, "thresholds")
    if isinstance(data, dict) and "inconclusive" in data:
        raise ConfigError(
            f"{p}: inconclusive: replaced by policy.inconclusive_blocks, one key for floors and diffs "
            "(true blocks; the default false shows the result as inconclusive without blocking)"
        )
    validate(data, "thresholds", str(p))
    check_ranges(data["tasks"], p)
    return Thresholds(
        tasks={name: TaskThreshold(**t) for name, t in data["tasks"].items()},
        alpha=data.get("alpha", 0.05),
        policy=Policy(**data.get("policy", {})),
        defaults=Defaults(**data.get("defaults", {})),
        path=p,
        jagged=JaggedRule(**data.get("jagged", {})),
        operational=load_operational(data.get("operational"), p),
        contamination=ContaminationRule(**data.get("contamination", {})),
        pairwise=_pairwise(data.get("pairwise")),
    )


def _pairwise(data: dict | None) -> PairwiseRule | None:
    if data is None:
        return None
    return PairwiseRule(min_win_rate=data["min_win_rate"], judge=PairwiseJudgePin(**data["judge"]))


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
