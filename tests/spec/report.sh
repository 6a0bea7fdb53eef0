#!/bin/sh
# Per-script report of the spec testsuite, for engine work: one line per failing (or crashing) script with
# its counts, then its first N failure lines; the grand total at the end.
#   tests/spec/report.sh [BUILD_DIR] [N]        (defaults: build, 5)
# Each script runs in its own process, so an engine crash in one script does not hide the others.
set -u
build=${1:-build}
n=${2:-5}
wasmq="$build/src/cli/wasmq"
if [ ! -x "$wasmq" ] || [ ! -d "$build/spec" ]; then
  echo "report.sh: build $build first (needs $wasmq and $build/spec)" >&2
  exit 2
fi
tp=0 tf=0 ts=0 bad=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for json in $(find "$build/spec/" -name '*.json' | sort); do
  name=$(basename "$json" .json)
  "$wasmq" spectest --quiet "$json" >"$tmp" 2>&1
  rc=$?
  last=$(tail -n 1 "$tmp")
  case "$last" in
    *" passed, "*" failed, "*" skipped")
      set -- $last
      tp=$((tp + $1)) tf=$((tf + $3)) ts=$((ts + $5))
      ;;
    *) last="did not finish (exit code $rc)" ;;
  esac
  if [ "$rc" -ne 0 ]; then
    bad=$((bad + 1))
    echo "== $name.wast: $last"
    grep -v ' passed, .* failed, .* skipped$' "$tmp" | head -n "$n" | sed 's/^/   /'
  fi
done
echo "$tp passed, $tf failed, $ts skipped ($bad scripts failing or crashing)"
[ "$bad" -eq 0 ]
