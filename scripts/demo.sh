#!/usr/bin/env bash
# The whole story, on the CPU, with the bundled small model (SmolLM2-135M-Instruct):
#   1. the fast stage (MMLU 5-shot + ARC-Challenge 25-shot) on a stratified sample, and its verdict
#      against the default floors;
#   2. a baseline on tasks where the model is above chance (ARC-Easy, HellaSwag) plus a small domain
#      suite (the Harbor & Finch refund policy), frozen in MLflow;
#   3. a candidate fine-tuned for a few minutes on narrow policy text (scripts/finetune_domain.py);
#   4. `gate diff` of the candidate against the frozen baseline: domain up, general down = forgetting.
# Every step's exit code is printed. Outputs go to a new folder under runs/ (nothing earlier is overwritten).
# Exits 0 when the story played out (the diff blocked the candidate), non-zero otherwise.
# Env: GATE_DATA_DIR (default ../shared/data), MLFLOW_TRACKING_URI (default sqlite:///runs/mlflow.db),
#      DEMO_FAST_SAMPLE (24), DEMO_BACKEND (gate-hf: shared prefixes scored once;
#      same answers as hf within 1e-4), DEMO_STEPS / DEMO_LR (fine-tuning: 48 steps at 2e-3).
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
step() { printf '\n== %s\n' "$*" >&2; }
stop() { echo "demo: stopped at: $1 (exit code $2)" >&2; exit "$2"; }
RUN=(--device cpu --dtype float32 ${DEMO_BACKEND:+--backend "$DEMO_BACKEND"})  # else the suites' backend: gate-hf

step "1/4 Fast stage: MMLU 5-shot + ARC-Challenge 25-shot, ${DEMO_FAST_SAMPLE:-24} stratified items each"
gate run --model smollm2-135m --suite suites/fast.yaml --sample "${DEMO_FAST_SAMPLE:-24}" --seed 1 "${RUN[@]}" \
    --output "$out/fast.json" || stop "gate run (fast)" $?
gate check "$out/fast.json" --thresholds thresholds/default.yaml; code=$?
echo "gate check exit code: $code  (1 = below the 7B-class floors: a 135M model is near chance on these tasks)" >&2
[ "$code" -le 1 ] || stop "gate check" "$code"

step "2/4 Baseline: ARC-Easy, HellaSwag and the refund-policy domain suite; frozen as demo-$stamp"
gate run --model smollm2-135m --suite suites/demo.yaml --seed 2 "${RUN[@]}" --output "$out/baseline.json" \
    || stop "gate run (baseline)" $?
gate baseline freeze "$out/baseline.json" --name "demo-$stamp" || stop "gate baseline freeze" $?

step "3/4 Candidate: fine-tune on the refund-policy text (CPU, a few minutes)"
base=$(python -c "from gate.run.models import smollm2_dir; print(smollm2_dir())") || stop "model conversion" 3
python scripts/finetune_domain.py "$base" --out "$out/candidate-model" --steps "${DEMO_STEPS:-48}" \
    --lr "${DEMO_LR:-2e-3}" || stop "fine-tune" 3
gate run --model "$out/candidate-model" --suite suites/demo.yaml --items-from "$out/baseline.json" "${RUN[@]}" \
    --output "$out/candidate.json" || stop "gate run (candidate)" $?

step "4/4 Diff against the frozen baseline demo-$stamp"
gate diff "$out/candidate.json" --baseline "demo-$stamp" --thresholds thresholds/demo.yaml --format text; code=$?
gate diff "$out/candidate.json" --baseline "demo-$stamp" --thresholds thresholds/demo.yaml --format markdown \
    --output "$out/diff.md" >/dev/null 2>&1
echo "gate diff exit code: $code  (0 pass, 1 blocked, 2 bad config, 3 infrastructure)" >&2
echo "demo: records, the candidate and diff.md are in $out; MLflow: $MLFLOW_TRACKING_URI" >&2
[ "$code" -eq 1 ] && { echo "demo: the gate blocked the fine-tuned candidate, as it should" >&2; exit 0; }
echo "demo: expected the diff to block (exit 1), got $code" >&2
exit $(( code == 0 ? 1 : code ))
