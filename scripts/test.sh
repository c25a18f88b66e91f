#!/usr/bin/env bash
# Set up .venv and run the whole test suite (real model, real lm-eval, real MLflow; no GPU, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
export GATE_DATA_DIR=${GATE_DATA_DIR:-$PWD/../shared/data}
export NLTK_DATA=${NLTK_DATA:-$PWD/../shared/nltk_data}
# The tests read real benchmark items and recorded GitHub responses from shared/ beside the checkout.
for d in "$GATE_DATA_DIR" "$NLTK_DATA"; do
  [ -d "$d" ] || { echo "scripts/test.sh: $d: not found; put shared/ beside this checkout or set GATE_DATA_DIR and NLTK_DATA" >&2; exit 2; }
done
ruff check .
ruff format --check .
# Two workers, one test file per worker at a time (module fixtures and the act scenarios' order hold);
# one torch thread each, so the two never fight over the cores. GATE_TEST_WORKERS=0 runs in one process.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec python -m pytest -n "${GATE_TEST_WORKERS:-2}" --dist loadfile "$@"
