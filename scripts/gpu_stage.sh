#!/usr/bin/env bash
# On the GPU machine: copy one part of the bundle (scripts/gpu_bundle.sh) into the staging folder, where it
# stays while the machine is warm. The last part's call is followed by scripts/gpu_check.sh.
set -euo pipefail
part=${1:?usage: scripts/gpu_stage.sh .gpu/partN}
stage=${GATE_GPU_STAGE:-/tmp/gate-gpu}
[ -d "$part" ] || { echo "gpu_stage: $part: not carried; name it in the call's carry" >&2; exit 2; }
mkdir -p "$stage"
cp -r "$part/." "$stage/"
echo "gpu_stage: $part staged into $stage ($(du -sm "$stage" | cut -f1) MiB there now)"
