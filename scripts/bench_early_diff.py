#!/usr/bin/env python
"""The diff's early verdict on the real model (`python scripts/bench.py --early-diff ...` runs this).

A baseline run of SmolLM2-135M on a seeded sample of ARC-Easy, then for each candidate (the same
weights; the weights moved by light noise, a change too small to matter; the weights moved by heavy
noise, a clearly worse checkpoint) two real `gate run` processes on the baseline's items: the full run
the diff reads today, and `gate run --early-diff --baseline-record`, which stops once the paired test
decides. Prints per candidate: the full diff's decision and difference, the early decision, the items it
used against the full set, both walls and their ratio, and whether the two decisions agree. Answer cache
off, so every run computes what it evaluates.

Target (issue 16): a candidate clearly worse (true drop at least twice the allowance) or unchanged is
decided on at most 30% of the items. What a valid test can reach depends on the pool size and on how
many items flip (`scripts/simulate_early_diff.py` prints the fixed-sample reference beside each row).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ALLOWANCE = 0.03  # the shipped fast-stage allowance for ARC (3 points)
CANDIDATES = (("same weights", 0.0), ("light noise (0.02 x spread)", 0.02), ("heavy noise (1.0 x spread)", 1.0))


def _gate_run(args: list[str], out: Path) -> float:
    cmd = [sys.executable, "-m", "gate", "--quiet", "run", *args, "--no-mlflow", "--no-answer-cache"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--output", str(out)], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: the floors or the early diff said no; the record is written
        raise SystemExit(f"bench: gate run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def _agree(early: str, full: str) -> bool:
    """An early "regressed" agrees with a full diff that finds the drop; an early "ok" (non-inferior) with
    one that does not; an undecided task was decided by the full diff itself."""
    found = full in ("regressed", "likely_regressed")
    return {"regressed": found, "ok": not found}.get(early, True)


def bench(suite: str, data_dir: str, items: int, batch_size: int, backend: str) -> list[dict]:
    from gate import record as records
    from gate.config import load_thresholds
    from gate.decide.compare import compare, file_baseline_ref
    from gate.run.models import smollm2_dir
    from tests.variants import variant

    rows = []
    with tempfile.TemporaryDirectory(prefix="gate-bench-early-diff-") as tmp:
        t = Path(tmp)
        (t / "t.yaml").write_text(
            f"alpha: 0.05\ndefaults:\n  max_drop: {ALLOWANCE}\ntasks:\n  arc_easy:\n    metric: acc\n"
            f"    higher_is_better: true\n    max_drop: {ALLOWANCE}\n"
        )
        thresholds = load_thresholds(t / "t.yaml")
        common = ["--suite", suite, "--data-dir", data_dir, "--batch-size", str(batch_size), "--backend", backend]
        src = smollm2_dir()
        _gate_run(["--model", str(src), *common, "--sample", str(items)], t / "base.json")
        base = records.load(t / "base.json")
        ref = file_baseline_ref(base, "base.json")
        for i, (name, noise) in enumerate(CANDIDATES):
            model = src if not noise else variant(src, t / f"cand{i}", noise=noise, seed=7)
            full_wall = _gate_run(["--model", str(model), *common, "--sample", str(items)], t / f"full{i}.json")
            early_args = ["--early-diff", "--baseline-record", str(t / "base.json"), "--thresholds", str(t / "t.yaml")]
            early_wall = _gate_run(["--model", str(model), *common, *early_args], t / f"early{i}.json")
            full_cmp = compare(records.load(t / f"full{i}.json"), base, thresholds, ref)
            early = records.load(t / f"early{i}.json").task("arc_easy")
            (full_task,) = [x for x in full_cmp.tasks if x.name == "arc_easy"]
            stop = early.early_stop
            early_decision = stop.decision.removeprefix("diff_") if stop else "undecided (all items)"
            rows.append(
                {
                    "candidate": name,
                    "full_decision": full_task.decision,
                    "full_delta_pts": round(100 * full_task.delta, 2),
                    "early_decision": early_decision,
                    "items_used": early.n,
                    "items_available": stop.items_available if stop else early.n,
                    "items_ratio": round(early.n / (stop.items_available if stop else early.n), 3),
                    "full_wall_s": round(full_wall, 1),
                    "early_wall_s": round(early_wall, 1),
                    "wall_ratio": round(early_wall / full_wall, 3),
                    "agree": _agree(early_decision, full_task.decision),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=str(REPO / "tests" / "data" / "suites" / "resume.yaml"))
    ap.add_argument("--data-dir", default=os.environ.get("GATE_DATA_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--items", type=int, default=600, help="the baseline's seeded ARC-Easy sample (default 600)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--backend", default="gate-hf", choices=["hf", "gate-hf"])
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    rows = bench(args.suite, args.data_dir, args.items, args.batch_size, args.backend)
    print(f"allowed drop {ALLOWANCE * 100:g} pts, alpha 0.05, ARC-Easy 0-shot, {args.items} baseline items\n")
    print("| candidate | full diff | early decision | items used | wall early / full | agree |")
    print("|---|---|---|--:|--:|---|")
    for r in rows:
        print(
            f"| {r['candidate']} | {r['full_decision']} ({r['full_delta_pts']:+.1f} pts) | {r['early_decision']} "
            f"| {r['items_used']}/{r['items_available']} ({r['items_ratio']:.0%}) "
            f"| {r['early_wall_s']:.0f} s / {r['full_wall_s']:.0f} s ({r['wall_ratio']:.0%}) | {r['agree']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
