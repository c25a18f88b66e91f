#!/usr/bin/env bash
# The whole story, on the CPU, with the bundled small model (SmolLM2-135M-Instruct):
#   1. the fast stage on a stratified sample, and its verdict against the default floors;
#   2. a baseline run on tasks where the model is above chance plus a small domain suite, frozen in MLflow;
#   3. a candidate fine-tuned for a few minutes on narrow domain text;
#   4. `gate diff` of the candidate against the frozen baseline: domain up, general down = forgetting.
# Every step's exit code is printed. Outputs go to a new folder under runs/ (earlier runs are never overwritten).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 3
. .venv/bin/activate
export GATE_DATA_DIR=${GATE_DATA_DIR:-$PWD/../shared/data}
export NLTK_DATA=${NLTK_DATA:-$PWD/../shared/nltk_data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
stamp=$(date +%Y%m%d-%H%M%S)
out=runs/demo-$stamp
mkdir -p "$out"
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///$PWD/runs/mlflow.db}
gate() { python -m gate "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
fatal() { code=$?; [ "$code" -ge 2 ] && { echo "demo: stopped, exit code $code" >&2; exit "$code"; }; return 0; }

step "1/4 Fast stage: MMLU 5-shot + ARC-Challenge 25-shot, ${DEMO_FAST_SAMPLE:-24} stratified items each"
gate run --model smollm2-135m --suite suites/fast.yaml --sample "${DEMO_FAST_SAMPLE:-24}" --seed 1 \
    --output "$out/fast.json" || fatal
gate check "$out/fast.json" --thresholds thresholds/default.yaml; code=$?
echo "gate check exit code: $code  (1 = below the 7B-class floors; a 135M model is near chance on these tasks)"
[ "$code" -le 1 ] || exit "$code"

step "2/4 Baseline: ARC-Easy, HellaSwag and the demo refund-policy suite; frozen as demo-$stamp"
gate run --model smollm2-135m --suite suites/demo.yaml --sample "${DEMO_SAMPLE:-120}" --seed 2 \
    --output "$out/baseline.json" || fatal
gate baseline freeze "$out/baseline.json" --name "demo-$stamp" || fatal

step "3/4 Candidate: fine-tune briefly on narrow refund-policy text (CPU, a few minutes)"
python scripts/finetune_domain.py --out "$out/candidate-model" || exit 3
gate run --model "$out/candidate-model" --suite suites/demo.yaml --items-from "$out/baseline.json" \
    --output "$out/candidate.json" || fatal

step "4/4 Diff against the frozen baseline"
gate diff "$out/candidate.json" --baseline "demo-$stamp" --thresholds thresholds/demo.yaml \
    --output "$out/diff.md" --format markdown; code=$?
gate diff "$out/candidate.json" --baseline "demo-$stamp" --thresholds thresholds/demo.yaml --format text >&2
echo "gate diff exit code: $code  (1 = blocked; the report above names the forgetting)"
[ "$code" -le 1 ] || exit "$code"
echo "demo: outputs in $out (records, diff.md); MLflow store: $MLFLOW_TRACKING_URI" >&2
