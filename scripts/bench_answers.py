#!/usr/bin/env python
"""What the answer cache saves (`python scripts/bench.py --answers ...` runs this): real `gate run` processes.

1. cold: a run with an empty answer cache;
2. re-run: the same command again (identical weights): wall against the cold run, and whether the
   record's tasks are identical;
3. killed and resumed: the same command with a fresh cache, SIGKILLed once about half of the cold
   run's answers are committed, then started again: the answers computed by both processes against the
   cold run's, and whether the resumed record's tasks are identical.

Walls are whole processes (imports, model load, task setup), as a CI job pays them. Targets (issue 16):
re-run wall <= 10% of cold; killed + resumed forward work <= 1.1x.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _committed(cache: Path) -> int:
    for f in cache.glob("*/answers.sqlite"):
        try:
            con = sqlite3.connect(f, timeout=0.1)
            try:
                return con.execute("SELECT count(*) FROM answers").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:
            return 0
    return 0


def _run(cmd: list[str], out: Path, cache: Path, kill_at: int | None = None) -> tuple[float, int]:
    """Wall of one `gate run` process and, when killed at `kill_at` committed answers, what it had committed."""
    args = [*cmd, "--answer-cache", str(cache), "--output", str(out), "--overwrite"]
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill_at is not None:
        while _committed(cache) < kill_at and proc.poll() is None:
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    if kill_at is None and proc.returncode != 0:
        raise SystemExit(f"bench: gate run failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, _committed(cache)


def bench(model: str, suite: str, data_dir: str, items: int, batch_size: int, backend: str) -> dict:
    from gate import record as records

    cmd = [sys.executable, "-m", "gate", "run", "--model", model, "--suite", suite, "--data-dir", data_dir]
    cmd += ["--sample", str(items), "--batch-size", str(batch_size), "--backend", backend, "--no-mlflow"]
    with tempfile.TemporaryDirectory(prefix="gate-bench-answers-") as tmp:
        t = Path(tmp)
        cold_wall, _ = _run(cmd, t / "cold.json", t / "cache")
        rerun_wall, _ = _run(cmd, t / "rerun.json", t / "cache")
        cold, rerun = records.load(t / "cold.json"), records.load(t / "rerun.json")
        total = cold.timing.answers_computed or 0
        killed_wall, committed = _run(cmd, t / "resumed.json", t / "cache2", kill_at=total // 2)
        resumed_wall, _ = _run(cmd, t / "resumed.json", t / "cache2")
        resumed = records.load(t / "resumed.json")
    computed_after = resumed.timing.answers_computed or 0
    return {
        "answers": total,
        "cold_wall_s": round(cold_wall, 2),
        "cold_eval_s": cold.timing.wall_seconds,
        "rerun_wall_s": round(rerun_wall, 2),
        "rerun_eval_s": rerun.timing.wall_seconds,
        "rerun_ratio": round(rerun_wall / cold_wall, 3),
        "rerun_from_cache": rerun.timing.answers_from_cache,
        "rerun_identical": rerun.tasks == cold.tasks and rerun.model == cold.model,
        "killed_after_committed": committed,
        "killed_wall_s": round(killed_wall, 2),
        "resumed_wall_s": round(resumed_wall, 2),
        "resumed_from_cache": resumed.timing.answers_from_cache,
        "resumed_computed": computed_after,
        # answers the killed process had committed plus those the resumed one computed; work the killed
        # process lost after its last commit is at most one commit's worth (64 answers)
        "resume_work_ratio": round((committed + computed_after) / total, 3) if total else None,
        "resume_wall_ratio": round((killed_wall + resumed_wall) / cold_wall, 3),
        "resumed_identical": resumed.tasks == cold.tasks and resumed.model == cold.model,
    }


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--suite", default=str(REPO / "tests" / "data" / "suites" / "resume.yaml"))
    ap.add_argument("--data-dir", default=os.environ.get("GATE_DATA_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--items", type=int, default=200, help="seeded sample per task (default 200)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--backend", default="hf", choices=["hf", "gate-hf"])
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    r = bench(args.model, args.suite, args.data_dir, args.items, args.batch_size, args.backend)
    for k, v in r.items():
        print(f"{k:>24}: {v}")
    ok = r["rerun_identical"] and r["resumed_identical"]
    print(
        f"re-run: {r['rerun_ratio']:.1%} of the cold wall (target <= 10%); killed at "
        f"{r['killed_after_committed']}/{r['answers']} and resumed: {r['resume_work_ratio']}x the answers "
        f"(target <= 1.1x); records identical: {ok}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
