#!/bin/sh
# CTest spec.strict: `wasmq spectest` must fail assertions that are false (strict/wrong.wast: a trap taken
# for a link error, traps of another kind than the text names) and pass the true ones (strict/right.wast).
#   tests/spec/strict.sh WASMQ_SPECTEST DIR   (DIR holds wrong/wrong.json and right/right.json)
set -u
bin=$1
dir=$2
status=0
check() {  # check NAME WANT_EXIT WANT_TOTALS
  out=$("$bin" "$dir/$1/$1.json" 2>&1)
  code=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [ "$code" -ne "$2" ] || [ "$last" != "$3" ]; then
    printf '%s\n' "$out"
    echo "spec.strict: $1.wast: exit $code, \"$last\"; expected exit $2, \"$3\""
    status=1
  fi
}
check wrong 1 "0 passed, 7 failed, 0 skipped"
check right 0 "9 passed, 0 failed, 0 skipped"
[ $status -eq 0 ] && echo "spec.strict: ok"
exit $status
