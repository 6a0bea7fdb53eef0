#!/bin/sh
# Runs every converted spec script once and prints failures plus the grand total as the last line:
#   tests/spec/summary.sh [BUILD_DIR] [wasmq spectest options...]
# BUILD_DIR defaults to ./build; its spec/ directory is filled by the build (target spec_json).
# Exit code: 0 when nothing failed, 1 when something did, 2 when the scripts are missing.
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
if [ ! -x "$build/src/cli/wasmq" ] || [ ! -d "$build/spec" ]; then
  echo "summary.sh: build $build first (needs $build/src/cli/wasmq and $build/spec)" >&2
  exit 2
fi
exec "$build/src/cli/wasmq" spectest --quiet "$@" "$build/spec"
