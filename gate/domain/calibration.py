"""`gate judge calibrate` as a library call: grade human-labelled cases with a judge (a model, or its saved
replies) and measure the agreement (accuracy, Cohen's kappa)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gate.domain.judge import (
    Calibration,
    JudgeRun,
    LabelledCase,
    calibrate,
    judge_info,
    load_labels,
    load_rubric,
    parse_reply,
    run_judge,
)
from gate.errors import ConfigError
from gate.files import parse_json, read_text


@dataclass(frozen=True)
class CalibrationReport:
    cases: tuple[LabelledCase, ...]
    run: JudgeRun
    result: Calibration

    def below(self, min_kappa: float | None) -> bool:
        """Whether agreement misses `min_kappa` (an undefined kappa always does)."""
        return min_kappa is not None and (self.result.kappa is None or self.result.kappa < min_kappa)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calibration": asdict(self.result),
            "judge": asdict(self.run.info),
            "cases": [
                {"id": c.case.case_id, "human_pass": c.human_pass, **asdict(v)}
                for c, v in zip(self.cases, self.run.verdicts, strict=True)
            ],
        }


def replies_from_file(path: Path, ids: list[str]) -> list[str]:
    """Saved judge replies, one JSON object {id, reply} a line, in the order of `ids`."""
    lines = read_text(path, "replies").splitlines()
    rows = [parse_json(line, f"{path}:{n}", "judge reply line") for n, line in enumerate(lines, 1) if line.strip()]
    if not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{path}: not JSON Lines of {{id, reply}} objects")
    by_id = {str(r.get("id")): r.get("reply") for r in rows}
    missing = [i for i in ids if not isinstance(by_id.get(i), str)]
    if missing:
        raise ConfigError(f"{path}: no string 'reply' for case(s) {', '.join(missing[:5])}; one {{id, reply}} a line")
    return [by_id[i] for i in ids]


def calibrate_judge(
    labels: Path, rubric: Path, *, judge_model: str | None = None, replies: Path | None = None, max_tokens: int = 256
) -> CalibrationReport:
    """Grade the labelled cases with `judge_model` (loaded here) or with saved `replies`; exactly one of them."""
    if (judge_model is None) == (replies is None):
        raise ConfigError("judge calibrate: give exactly one of --judge-model or --replies")
    rb = load_rubric(rubric)
    cases = tuple(load_labels(labels))
    if replies is not None:
        verdicts = tuple(parse_reply(r, rb) for r in replies_from_file(replies, [c.case.case_id for c in cases]))
        run = JudgeRun(verdicts, judge_info(f"replies:{replies}", rb, verdicts))
    else:
        from gate.domain.judge_model import load_judge  # loads a model: only when one is asked for

        run = run_judge(load_judge(judge_model, max_gen_toks=max_tokens), rb, [c.case for c in cases])
    return CalibrationReport(cases, run, calibrate([c.human_pass for c in cases], run.verdicts))
