"""What `gate correlate` finds, as plain data: checkpoints' task scores and each benchmark-domain correlation.

Light like `gate.results` (no numpy, scipy or MLflow): read from MLflow in `gate.store.runs_query`,
computed in `gate.decide.correlate`, rendered in `gate.report.correlation`.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_CHECKPOINTS = 5  # below this a rank correlation is unreliable (the sources' rule)
STRONG, MODERATE = 0.7, 0.4  # |rho| above: strong, moderate; else weak


@dataclass(frozen=True)
class TaskPoint:
    """One task's headline value in a checkpoint's newest run of it."""

    task: str
    kind: str  # general | domain
    metric: str
    higher_is_better: bool
    value: float
    run_id: str


@dataclass(frozen=True)
class CheckpointScores:
    """Every task measured on one checkpoint (one weights fingerprint), across the runs that match the filter."""

    fingerprint: str
    model_id: str
    started_at: str  # of its newest matching run
    tasks: tuple[TaskPoint, ...]

    def task(self, name: str) -> TaskPoint | None:
        return next((t for t in self.tasks if t.task == name), None)


@dataclass(frozen=True)
class ScatterPoint:
    model_id: str
    fingerprint: str
    general: float
    domain: float


@dataclass(frozen=True)
class PairCorrelation:
    """Spearman's rho between a general task and a domain task over the checkpoints that measured both.

    Both are read in their better direction (a lower-is-better metric is negated), so a positive rho
    means a checkpoint better on the benchmark tends to be better on the domain task.
    """

    general: str
    general_metric: str
    domain: str
    domain_metric: str
    n: int
    rho: float | None  # None: fewer than 3 checkpoints, or one task scored the same on all of them
    p_value: float | None
    band: str  # strong | moderate | weak | undefined
    reading: str  # one sentence: what to make of it
    points: tuple[ScatterPoint, ...]

    @property
    def reliable(self) -> bool:
        return self.n >= MIN_CHECKPOINTS


@dataclass(frozen=True)
class CorrelationReport:
    filter: str  # the experiment, dates and suites the runs were chosen by, as a user would say it
    checkpoints: tuple[CheckpointScores, ...]
    pairs: tuple[PairCorrelation, ...]
    warnings: tuple[str, ...]
