#!/usr/bin/env bash
# The forgetting demo, end to end on the CPU:
#   1. evaluate the default model (SmolLM2-135M-Instruct) on suites/demo.yaml and freeze it as baseline "demo";
#   2. fine-tune a copy briefly on the Harbor & Finch returns policy (scripts/finetune_domain.py);
#   3. evaluate the candidate on the same items;
#   4. `gate diff` against the baseline: the domain task goes up, ARC-Easy and HellaSwag go down,
#      and the gate blocks the candidate for catastrophic forgetting (exit code 1).
# The script exits 0 when the gate blocked the candidate as it should, non-zero otherwise.
#
#   scripts/demo.sh                  # everything under out/demo (MLflow: out/demo/mlflow.db)
#   DEMO_OUT=/tmp/demo scripts/demo.sh
# Env: GATE_DATA_DIR (default ../shared/data), MLFLOW_TRACKING_URI (default sqlite in DEMO_OUT),
# DEMO_STEPS / DEMO_LR (fine-tuning, default 24 steps at 6e-4), DEMO_BACKEND (hf; gate-hf is faster where available).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-out/demo}
DATA=${GATE_DATA_DIR:-../shared/data}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///$OUT/mlflow.db}
PY=${PYTHON:-python}
say() { printf '\n== %s\n' "$*" >&2; }
gate() { "$PY" -m gate "$@"; }

BASE=$("$PY" -c "from gate.models import smollm2_dir; print(smollm2_dir())")
RUN=(--suite suites/demo.yaml --data-dir "$DATA" --backend "${DEMO_BACKEND:-hf}" --device cpu --dtype float32 --overwrite)

say "1/4 baseline: evaluate $BASE on suites/demo.yaml and freeze it as 'demo'"
gate run --model "$BASE" "${RUN[@]}" --output "$OUT/base.json"
gate baseline freeze "$OUT/base.json" --name demo --replace --who demo

say "2/4 candidate: fine-tune on the Harbor & Finch policy text (CPU, a few minutes)"
rm -rf "$OUT/candidate"
"$PY" scripts/finetune_domain.py "$BASE" --out "$OUT/candidate" --steps "${DEMO_STEPS:-24}" --lr "${DEMO_LR:-6e-4}"

say "3/4 candidate: evaluate on the baseline's items"
gate run --model "$OUT/candidate" "${RUN[@]}" --items-from "$OUT/base.json" --output "$OUT/candidate.json"

say "4/4 gate diff against baseline 'demo'"
set +e
gate diff "$OUT/candidate.json" --baseline demo --thresholds thresholds/demo.yaml --format text
code=$?
set -e
gate diff "$OUT/candidate.json" --baseline demo --thresholds thresholds/demo.yaml --format markdown \
  -o "$OUT/diff.md" >/dev/null 2>&1 || true
say "gate diff exit code: $code (0 pass, 1 gate failed, 2 bad config, 3 infrastructure)"
if [ "$code" -eq 1 ]; then
  echo "demo: the gate blocked the fine-tuned candidate, as it should (report: $OUT/diff.md)" >&2
  exit 0
fi
echo "demo: expected exit code 1 (blocked), got $code" >&2
exit $(( code == 0 ? 1 : code ))
