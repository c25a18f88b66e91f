"""Write the inputs of the GitHub golden files: `gate diff` output for three record pairs.

Each case folder under tests/data/github/ gets comparison.json and report.md, rendered by the real
compare() and render_comparison() from the EvalRecord pairs under tests/data/records/diff/ (the
diff helper's record folders), against a baseline reference named like a frozen MLflow baseline.

Run from the repository root:  PYTHONPATH=. python tests/data/github/make_inputs.py [RECORDS_ROOT]
then regenerate the goldens on purpose: GATE_UPDATE_GOLDEN=1 python -m pytest tests/test_comment_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
CASES = {  # our case name -> the record pair it is built from
    "blocked": "regress/forgetting",
    "inconclusive": "pass/inconclusive-allowed",
    "passed": "pass/unchanged",
}


def render(records_root: Path, case: str) -> dict[str, str]:
    # Imported here: gate.decide.compare and gate.report.comparison belong to the diff helper's part of the package.
    from gate import record as records
    from gate.config import load_thresholds
    from gate.decide.compare import compare
    from gate.record import BaselineRef
    from gate.report.comparison import render_comparison

    folder = records_root / CASES[case]
    base = records.load(folder / "baseline.json")
    cand = records.load(folder / "candidate.json")
    ref = BaselineRef(
        name="main",
        run_id=base.mlflow_run_id or "0f3a9c2b7d5e4a1c",
        frozen_at="2025-03-01T09:30:00Z",
        frozen_by="release-bot",
        tracking_uri="http://mlflow.internal:5000",
    )
    result = compare(cand, base, load_thresholds(folder / "thresholds.yaml"), ref)
    return {"comparison.json": render_comparison(result, "json"), "report.md": render_comparison(result, "markdown")}


def main() -> None:
    # Relative, so the thresholds path the report prints is the same on every machine.
    records_root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/data/records/diff")
    for case in CASES:
        out = HERE / case
        out.mkdir(exist_ok=True)
        for name, text in render(records_root, case).items():
            (out / name).write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
