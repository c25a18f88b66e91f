"""Write the synthetic record pairs under tests/data/records/diff/ (plumbing fixtures, not real scores).

Run from the repository root: python tests/data/records/diff/make_records.py
Each case folder holds baseline.json, candidate.json and thresholds.yaml; `pass/` cases must exit 0
and `regress/` cases exit 1 under `gate diff candidate.json --baseline-record baseline.json`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from gate.record import save  # noqa: E402
from tests.fixtures_diff import base_scores, flip, record, task  # noqa: E402

HERE = Path(__file__).parent
GEN = base_scores(200, 0.7, seed=21)
DOM = base_scores(100, 0.4, seed=22)
HEADER = "# yaml-language-server: $schema=../../../../../../gate/schemas/thresholds.schema.json\n"


def gated(tasks: dict[str, float], **policy: bool) -> str:
    # Every other task of the records is gated too, by the default rule (a task is never ungated by omission).
    lines = [HEADER, "alpha: 0.05\n", "defaults:\n  max_drop: 0.05\n"]
    if policy:
        lines.append("policy:\n" + "".join(f"  {k}: {str(v).lower()}\n" for k, v in policy.items()))
    lines.append("tasks:\n")
    for name, drop in tasks.items():
        lines.append(f"  {name}:\n    metric: acc\n    higher_is_better: true\n    max_drop: {drop}\n")
    return "".join(lines)


def case(folder: str, base, cand, thresholds: str) -> None:
    d = HERE / folder
    d.mkdir(parents=True, exist_ok=True)
    save(base, d / "baseline.json")
    save(cand, d / "candidate.json")
    (d / "thresholds.yaml").write_text(thresholds)


def main() -> None:
    b = record(task("arc_easy", GEN), task("medqa", DOM, kind="domain"), run_id="a1b2c3d4e5f6")
    same = task("medqa", DOM, kind="domain")
    case("pass/unchanged", b, record(task("arc_easy", GEN), same, candidate=True), gated({"arc_easy": 0.05}))
    case("pass/noise", b, record(task("arc_easy", flip(GEN, 4, 3)), same, candidate=True), gated({"arc_easy": 0.05}))
    small_b = record(task("arc_easy", GEN[:40]))
    small_c = record(task("arc_easy", flip(GEN[:40], 2)), candidate=True)
    case("pass/inconclusive-allowed", small_b, small_c, gated({"arc_easy": 0.02}, inconclusive_blocks=False))
    case("regress/inconclusive-blocks", small_b, small_c, gated({"arc_easy": 0.02}, inconclusive_blocks=True))
    damaged = record(task("arc_easy", flip(GEN, 30, 2)), same, candidate=True)
    case("regress/damaged", b, damaged, gated({"arc_easy": 0.03}))
    narrow = record(task("arc_easy", flip(GEN, 40)), task("medqa", flip(DOM, 1, 30), kind="domain"), candidate=True)
    case("regress/forgetting", b, narrow, gated({"medqa": 0.05}))
    bf16 = record(task("arc_easy", GEN), same, candidate=True, dtype="bfloat16")
    case("regress/not-comparable", b, bf16, gated({"arc_easy": 0.05}))
    case("regress/missing-task", b, record(same, candidate=True), gated({"arc_easy": 0.05}))


if __name__ == "__main__":
    main()
