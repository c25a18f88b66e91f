"""The floor check's verdict as plain data (`Verdict`), as `gate check` and the fast stage reach it.

Light like `gate.results` (which re-exports it): computed in `gate.decide.floors`, read by the reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.errors import EXIT_GATE_FAILED, EXIT_PASS

PASS, FAIL, INCONCLUSIVE, NOT_EVALUATED = "pass", "fail", "inconclusive", "not evaluated"


@dataclass(frozen=True)
class FloorCheck:
    task: str
    metric: str
    higher_is_better: bool
    floor: float
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    outcome: str  # pass | fail | inconclusive | not evaluated
    reason: str
    chance: float | None = None
    near_chance: bool = False
    ci_method: str = ""  # wilson, t, cluster-t; "..., clipped to [0, 1]" where the interval left the range

    @property
    def margin(self) -> float | None:
        """How far the value clears the floor, in the metric's good direction (negative: below)."""
        if self.value is None:
            return None
        return self.value - self.floor if self.higher_is_better else self.floor - self.value


@dataclass(frozen=True)
class BlockingFailure:
    task: str
    cases: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    checks: tuple[FloorCheck, ...]
    blocking: tuple[BlockingFailure, ...]
    inconclusive_blocks: bool
    alpha: float

    @property
    def passed(self) -> bool:
        ok = {PASS} if self.inconclusive_blocks else {PASS, INCONCLUSIVE}
        return all(c.outcome in ok for c in self.checks) and not self.blocking

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_GATE_FAILED

    @property
    def state(self) -> str:
        """As a check concludes: failure when it blocks, neutral when a floor is inconclusive, else success."""
        if not self.passed:
            return "failure"
        return "neutral" if self.inconclusive else "success"

    @property
    def inconclusive(self) -> tuple[FloorCheck, ...]:
        return tuple(c for c in self.checks if c.outcome == INCONCLUSIVE)

    @property
    def reasons(self) -> list[str]:
        """One line per check that stops the gate (or, not blocking, is inconclusive)."""
        out = [f"{c.task}: {c.reason}" for c in self.checks if c.outcome in (FAIL, NOT_EVALUATED)]
        out += [f"{c.task}: {c.reason}" for c in self.inconclusive]
        out += [f"{b.task}: high-severity failures: {', '.join(b.cases)}" for b in self.blocking]
        return out

    @property
    def headline(self) -> str:
        cleared = sum(c.outcome == PASS for c in self.checks)
        if self.passed and self.inconclusive:
            return (
                f"INCONCLUSIVE: {cleared} floor(s) cleared, {len(self.inconclusive)} inconclusive "
                "(the interval straddles the floor; not blocking by policy)"
            )
        if self.passed:
            return f"PASS: {len(self.checks)} floor(s) cleared"
        return f"FAIL: {len(self.reasons)} check(s) failed"
