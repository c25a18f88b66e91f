"""The verdicts the gate reaches, as plain data: a floor check (`Verdict`) and a baseline diff (`Comparison`).

These types are what every later stage reads: the terminal and markdown reports, the GitHub check and
comment, MLflow. They import nothing heavy (no numpy, scipy, torch, lm-eval or MLflow), so the publish
job, which installs only the light dependencies, can read a comparison back from the JSON of
`gate diff --format json` (`Comparison.from_dict`) and render it without re-running the statistics.
They are computed in `gate.decide` (floors, compare), once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from gate.config.thresholds import Policy
from gate.contamination import ContaminationCheck
from gate.errors import EXIT_GATE_FAILED, EXIT_PASS, ConfigError
from gate.pairwise import PairwiseCheck
from gate.record import BaselineRef, EvalRecord

# The floor check's verdict lives in gate.verdict; importable from here as before.
from gate.text import fmt_delta, fmt_score  # noqa: E402, F401
from gate.verdict import FAIL, INCONCLUSIVE, NOT_EVALUATED, PASS, BlockingFailure, FloorCheck, Verdict  # noqa: E402, F401

# The states a verdict ends in (`Verdict.state`, `Comparison.state`: the check run's conclusion), in the words
# and icons every report uses: the terminal, the PR comment, the job summary, MLflow's tags.
STATE_WORDS = {"success": "passed", "failure": "blocked", "neutral": "inconclusive"}
STATE_ICONS = {"success": "✅", "failure": "❌", "neutral": "⚪"}


_UNDECIDED = ("inconclusive", "not_comparable")  # an operational or pairwise check that decided nothing
DECISIONS = ("regressed", "likely_regressed", "inconclusive", "not_comparable", "ok", "improved")


@dataclass(frozen=True)
class FlippedItem:
    """An item whose score moved between baseline and candidate (e.g. right -> wrong)."""

    doc_id: int
    group: str | None
    excerpt: str
    baseline_score: float
    candidate_score: float
    baseline_prediction: str
    candidate_prediction: str
    prompt: str = ""  # the whole prompt where the record kept it (gate.item_text), else empty
    baseline_answer: str = ""  # the whole answers, likewise
    candidate_answer: str = ""


@dataclass(frozen=True)
class CategoryMove:
    """One category's mean score in each record (over all its items there: not paired)."""

    category: str
    baseline: float | None
    candidate: float | None

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline


@dataclass(frozen=True)
class TaskContext:
    notes: tuple[str, ...] = ()
    categories: tuple[CategoryMove, ...] = ()
    blocking_failures: tuple[str, ...] = ()  # the candidate's failed high-severity cases: they block
    already_failing: tuple[str, ...] = ()  # those of them the baseline failed too


@dataclass(frozen=True)
class TaskComparison:
    name: str
    kind: str
    metric: str
    higher_is_better: bool
    gated: bool
    decision: str  # one of DECISIONS
    reason: str
    blocking: bool
    allowance: float  # allowed drop, metric units (0 for ungated tasks)
    baseline_value: float | None = None  # mean over the paired items
    candidate_value: float | None = None
    delta: float | None = None  # candidate - baseline, metric units
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None  # two-sided, no change
    p_adjusted: float | None = None  # Holm, within the task's family
    mde: float | None = None  # true drop found 'regressed' with 80% power at this n
    method: str = ""
    n_paired: int = 0
    n_clusters: int = 0
    n_unpaired: int = 0  # items in only one record, or whose doc/prompt hash differ
    percent: bool = True  # scores lie in [0, 1]: show points (x100)
    chance: float | None = None
    near_chance: bool = False  # the baseline's or the candidate's interval reaches chance
    baseline_near_chance: bool = False  # the baseline's does: a regression here is nearly invisible
    newly_wrong: int = 0  # items that scored worse than in the baseline
    newly_right: int = 0
    newly_wrong_examples: tuple[FlippedItem, ...] = ()
    newly_right_examples: tuple[FlippedItem, ...] = ()
    context: TaskContext = field(default_factory=TaskContext)  # categories, notes, judge, hard failures


@dataclass(frozen=True)
class TaskMove:
    name: str
    delta: float
    ci_low: float
    ci_high: float
    significant: bool
    percent: bool


@dataclass(frozen=True)
class Forgetting:
    """Domain tasks improved while general tasks regressed."""

    domain_gains: tuple[TaskMove, ...]
    general_losses: tuple[TaskMove, ...]
    message: str


@dataclass(frozen=True)
class JaggedTask:
    """A general task whose change is far out of line with the other general tasks' (`gate.decide.jagged`)."""

    name: str
    delta: float  # candidate - baseline, metric units
    stderr: float
    z: float  # robust z-score among the others' standardised deltas, in the metric's better direction
    threshold: float
    others: tuple[str, ...]
    blocking: bool
    percent: bool
    message: str


@dataclass(frozen=True)
class RunSummary:
    """How one side of a comparison was measured, for the reports' context line and the HTML report."""

    model: str
    items: int
    wall_seconds: float
    device: str  # e.g. cpu, cuda, cuda:0
    backend: str
    dtype: str
    batch_size: int
    suite: str
    created_at: str
    lm_eval: str = ""
    run_id: str | None = None
    accelerator: str = ""  # the GPU model, or cpu (`EvalRecord.setup`; empty in records written before it)
    device_count: int = 0

    @classmethod
    def of(cls, record: EvalRecord) -> RunSummary:
        setup = record.setup
        return cls(
            model=record.model.id,
            items=sum(t.n for t in record.tasks),
            wall_seconds=record.timing.wall_seconds,
            device=record.model.device,
            backend=record.model.backend,
            dtype=record.model.dtype,
            batch_size=record.model.batch_size,
            suite=f"{record.suite.name} v{record.suite.version}",
            created_at=record.created_at,
            lm_eval=record.versions.lm_eval,
            run_id=record.mlflow_run_id,
            accelerator=setup.accelerator if setup else "",
            device_count=setup.device_count if setup else 0,
        )

    @property
    def hardware(self) -> str:
        """`CPU`, the GPU model and count (`NVIDIA H200 ×2`) when the record says, else the device as the record
        names it (`cuda:0` reads `1×GPU (cuda:0)`)."""
        if self.accelerator and self.accelerator.lower() != "cpu":
            return self.accelerator + (f" ×{self.device_count}" if self.device_count > 1 else "")
        d = self.device.lower()
        if d.startswith("cuda") or d.startswith("gpu"):
            return f"1×GPU ({self.device})"
        if d == "auto":
            return "auto device"
        return self.device.upper() if d in ("cpu", "mps") else self.device


@dataclass(frozen=True)
class OperationalCheck:
    """One operational rule applied (gate.decide.operational): a task's or the run's latency, output
    length, throughput, memory or cost against the baseline, as a fraction of the baseline's value."""

    scope: str  # a task name, or "run"
    metric: str  # a rule name: latency_p95, output_tokens_mean, peak_memory, ...
    decision: str  # "ok" | "exceeded" | "inconclusive" | "not_comparable"
    reason: str
    blocking: bool
    limit: float  # allowed worsening, a fraction of the baseline (0.20 = 20%)
    worse_when: str = "higher"  # "higher" (max_increase) | "lower" (max_decrease)
    baseline_value: float | None = None
    candidate_value: float | None = None
    change: float | None = None  # candidate / baseline - 1
    ci_low: float | None = None  # of `change`, where an interval is meaningful
    ci_high: float | None = None
    method: str = ""  # how the interval was made, e.g. "bootstrap over requests"
    n: int = 0  # requests (or paired items) behind the numbers


@dataclass(frozen=True)
class Comparison:
    baseline: BaselineRef
    baseline_model: str
    baseline_fingerprint: str
    candidate_model: str
    candidate_fingerprint: str
    candidate_run_id: str | None
    alpha: float
    power: float
    policy: Policy
    thresholds_source: str
    setup_differences: tuple[str, ...]
    tasks: tuple[TaskComparison, ...]
    forgetting: Forgetting | None
    blocking_reasons: tuple[str, ...]
    unmatched_rules: tuple[str, ...] = ()  # thresholds tasks in neither record (e.g. another stage's)
    jagged: tuple[JaggedTask, ...] = ()  # general tasks out of line with the rest: a warning unless it blocks
    # hardware and library differences that may move scores a little (gate.decide.pairing.environment_differences)
    environment_differences: tuple[str, ...] = ()
    candidate_setup: RunSummary | None = None  # absent in comparisons written before it was added
    baseline_setup: RunSummary | None = None
    operational: tuple[OperationalCheck, ...] = ()  # latency, output length, memory, cost rules (if any)
    contamination: tuple[ContaminationCheck, ...] = ()  # probed tasks' drop under permuted options (a warning)
    pairwise: PairwiseCheck | None = None  # the pairwise judge's win rate (`gate diff --pairwise`), if any

    @property
    def blocking(self) -> bool:
        return bool(self.blocking_reasons)

    def _pairwise(self) -> tuple[PairwiseCheck, ...]:
        return (self.pairwise,) if self.pairwise is not None else ()

    @property
    def passed(self) -> bool:
        return not self.blocking

    @property
    def exit_code(self) -> int:
        return EXIT_GATE_FAILED if self.blocking else EXIT_PASS

    @property
    def state(self) -> str:
        """The check's conclusion: failure when it blocks, neutral when a gated task could not be
        decided without blocking (inconclusive, not comparable), success otherwise."""
        if self.blocking:
            return "failure"
        if any(t.gated and t.decision in ("likely_regressed", "inconclusive", "not_comparable") for t in self.tasks):
            return "neutral"
        if any(o.decision in _UNDECIDED for o in (*self.operational, *self._pairwise())):
            return "neutral"
        return "success"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "comparison") -> Comparison:
        """The comparison back from `gate diff --format json` (`gate.report.comparison.comparison_dict`).

        Raises ConfigError naming the source and the field when the data is not such a comparison.
        """
        try:
            return _comparison(data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(
                f"{source}: not the JSON of `gate diff --format json` (missing or bad field {e}); "
                "write it with `gate diff ... --format json -o FILE`"
            ) from None

    @property
    def cause(self) -> str:
        """The main cause of the state, short enough for a one-line heading: the first blocking reason
        as task and move, forgetting by name, then how many more; or what kept the gate from deciding."""
        gated = [t for t in self.tasks if t.gated]
        if self.blocking:
            causes = [_task_cause(t) for t in self.tasks if t.blocking or t.context.blocking_failures]
            causes += [f"{j.name} jagged" for j in self.jagged if j.blocking]
            causes += [f"{p.task} option order" for p in self.contamination if p.blocking]
            causes += [f"{o.scope} {o.metric} {o.decision.replace('_', ' ')}" for o in self.operational if o.blocking]
            causes += [f"pairwise win rate {p.decision.replace('_', ' ')}" for p in self._pairwise() if p.blocking]
            if self.forgetting and self.policy.block_on_forgetting:
                causes.insert(1, "catastrophic forgetting")  # named in the heading, whatever else blocks
            causes = causes or ["; ".join(self.blocking_reasons)]
            shown = causes[:2]
            more = f" (+{len(causes) - 2} more)" if len(causes) > 2 else ""
            return "; ".join(shown) + more
        undecided = [
            f"{t.name} {t.decision.replace('_', ' ')}"
            for t in gated
            if t.decision in ("likely_regressed", "inconclusive", "not_comparable")
        ] + [f"{o.scope} {o.metric} {o.decision.replace('_', ' ')}" for o in self.operational if o.decision != "ok"]
        undecided += [
            f"pairwise win rate {p.decision.replace('_', ' ')}" for p in self._pairwise() if p.decision in _UNDECIDED
        ]
        if undecided:
            names = ", ".join(undecided[:3])
            return names + (f" (+{len(undecided) - 3} more)" if len(undecided) > 3 else "") + ", not blocking"
        return f"no gated task dropped more than allowed ({len(gated)} gated)"

    @property
    def headline(self) -> str:
        ref = f"baseline '{self.baseline.name}' (run {self.baseline.run_id})"
        if self.blocking:
            return f"BLOCKED against {ref}: " + "; ".join(self.blocking_reasons) + "."
        gated = [t for t in self.tasks if t.gated]
        inc = sum(t.decision == "inconclusive" for t in gated)
        likely = sum(t.decision == "likely_regressed" for t in gated)
        tail = f", {likely} likely regressed (not blocking by policy)" if likely else ""
        tail += f", {inc} inconclusive (not blocking by policy)" if inc else ""
        powered = [t for t in gated if t.mde is not None]
        if powered:
            weak = max(powered, key=lambda t: t.mde or 0.0)
            tail += f"; 80% power for drops of {fmt_delta(weak.mde, weak.percent, signed=False)} on {weak.name}"
        wrong = sum(t.newly_wrong for t in self.tasks)
        right = sum(t.newly_right for t in self.tasks)
        tail += f"; {wrong} items newly wrong, {right} newly right"
        word = "INCONCLUSIVE" if self.state == "neutral" else "PASSED"
        return f"{word} against {ref}: no gated task dropped more than allowed ({len(gated)} gated{tail})."


def _task_cause(t: TaskComparison) -> str:
    if t.context.blocking_failures and not t.blocking:
        return f"{t.name}: {len(t.context.blocking_failures)} high-severity case(s) failed"
    if t.decision in ("regressed", "likely_regressed") and t.delta is not None:
        word = "" if t.decision == "regressed" else "likely "
        # Points with a true minus and no repeated unit: a heading must fit the 820 px comment column.
        delta = fmt_delta(t.delta, t.percent).replace("-", "−")
        return f"{t.name} {word}{delta}, allowed −{fmt_delta(t.allowance, t.percent, signed=False).split()[0]}"
    return f"{t.name} {t.decision.replace('_', ' ')}"


def _plain(cls: type, data: Mapping[str, Any], **nested: Any) -> Any:
    """A dataclass of plain fields from its asdict() form; `nested` gives the fields built separately."""
    values = {}
    for f in fields(cls):
        if f.name in nested:
            values[f.name] = nested[f.name]
        elif f.name in data:
            v = data[f.name]
            values[f.name] = tuple(v) if isinstance(v, list) else v
        elif f.default is MISSING and f.default_factory is MISSING:
            raise KeyError(f"{cls.__name__}.{f.name}")
    return cls(**values)


def _task(data: Mapping[str, Any]) -> TaskComparison:
    ctx = data.get("context") or {}
    context = _plain(TaskContext, ctx, categories=tuple(_plain(CategoryMove, m) for m in ctx.get("categories", ())))
    mde = data.get("mde")
    if mde is None and data.get("n_paired", 0) >= 2:
        # JSON has no infinity: comparison_dict writes an undetectable drop (mde = inf) as null, and
        # a paired task always has a minimum detectable drop.
        mde = math.inf
    return _plain(
        TaskComparison,
        data,
        mde=mde,
        context=context,
        newly_wrong_examples=tuple(_plain(FlippedItem, i) for i in data.get("newly_wrong_examples", ())),
        newly_right_examples=tuple(_plain(FlippedItem, i) for i in data.get("newly_right_examples", ())),
    )


def _comparison(data: Mapping[str, Any]) -> Comparison:
    forgetting = data.get("forgetting")
    if forgetting is not None:
        forgetting = Forgetting(
            domain_gains=tuple(_plain(TaskMove, m) for m in forgetting["domain_gains"]),
            general_losses=tuple(_plain(TaskMove, m) for m in forgetting["general_losses"]),
            message=forgetting["message"],
        )
    setups = {k: _plain(RunSummary, data[k]) if data.get(k) else None for k in ("candidate_setup", "baseline_setup")}
    return _plain(
        Comparison,
        data,
        **setups,
        baseline=_plain(BaselineRef, data["baseline"]),
        policy=_plain(Policy, data["policy"]),
        tasks=tuple(_task(t) for t in data["tasks"]),
        forgetting=forgetting,
        jagged=tuple(_plain(JaggedTask, j) for j in data.get("jagged", ())),
        operational=tuple(_plain(OperationalCheck, o) for o in data.get("operational", ())),
        contamination=tuple(ContaminationCheck.from_dict(p) for p in data.get("contamination", ())),
        pairwise=_plain(PairwiseCheck, data["pairwise"]) if data.get("pairwise") else None,
    )
