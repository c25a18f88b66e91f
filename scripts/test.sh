#!/usr/bin/env bash
# Set up .venv and run the whole test suite (real model, real lm-eval, real MLflow; no GPU, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
export GATE_DATA_DIR=${GATE_DATA_DIR:-$PWD/../shared/data}
export NLTK_DATA=${NLTK_DATA:-$PWD/../shared/nltk_data}
ruff check .
exec python -m pytest "$@"
