#!/usr/bin/env bash
# Runs the public WASI testsuite (github.com/WebAssembly/wasi-testsuite, branch prod/testsuite-base, whose
# tests/*/testsuite/wasm32-wasip1/ hold prebuilt .wasm files with .json specs) under `wasmq run`:
#
#   WASI_TESTSUITE=DIR tests/wasi/run-wasi-testsuite.sh [FILTER]
#
# DIR is a checkout of that branch (nothing of it lives in this repository). FILTER, a regular expression,
# keeps only the tests whose path (e.g. rust/path_link) matches. WASMQ names the binary (default
# build/src/cli/wasmq). Each test runs as the suite's own runner does it: the spec's args and env, its
# "root" directory (relative to the .json) preopened as "/", the *.cleanup files the tests leave removed
# before and after; its exit code must equal "exit_code" (default 0) and, when the spec gives them, stdout
# and stderr must be exactly "stdout" / "stderr". Prints one line per failure with the reason, then
# "N passed, N failed" last. Exit code 0 when nothing failed, 1 when something did, 2 on a usage error.
# Needs jq.
set -uo pipefail

suite=${WASI_TESTSUITE:-}
wasmq=${WASMQ:-build/src/cli/wasmq}
filter=${1:-}
if [ -z "$suite" ] || [ ! -d "$suite/tests" ]; then
  echo "run-wasi-testsuite.sh: set WASI_TESTSUITE to a checkout of wasi-testsuite's prod/testsuite-base" >&2
  exit 2
fi
if [ ! -x "$wasmq" ]; then
  echo "run-wasi-testsuite.sh: $wasmq is not built (or set WASMQ)" >&2
  exit 2
fi
if ! command -v jq >/dev/null; then
  echo "run-wasi-testsuite.sh: jq is needed to read the test specs" >&2
  exit 2
fi
wasmq=$(cd "$(dirname "$wasmq")" && pwd)/$(basename "$wasmq")
suite=$(cd "$suite" && pwd)

cleanup() {  # what the tests leave behind (the suite names it *.cleanup), never following a symlink
  find "$1" -depth -name '*.cleanup' \( -type f -o -type l \) -delete 2>/dev/null
  find "$1" -depth -name '*.cleanup' -type d -exec rm -rf {} + 2>/dev/null
  return 0
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '{}' >"$tmp/default.json"  # a test without a .json: no args, env or root; exit code 0
passed=0
failed=0
shopt -s nullglob
for wasm in "$suite"/tests/*/testsuite/wasm32-wasip1/*.wasm; do
  dir=$(dirname "$wasm")
  name=$(basename "$wasm" .wasm)
  lang=$(basename "$(dirname "$(dirname "$dir")")")
  id=$lang/$name
  if [ -n "$filter" ] && ! [[ $id =~ $filter ]]; then continue; fi
  spec=$dir/$name.json
  [ -f "$spec" ] || spec=$tmp/default.json
  if jq -e 'has("operations")' "$spec" >/dev/null; then
    echo "FAIL $id: operation-based specs are not supported by this runner"
    failed=$((failed + 1))
    continue
  fi

  cmd=("$wasmq" run)
  while IFS= read -r -d '' kv; do cmd+=(--env "$kv"); done < <(jq -j '(.env // {}) | to_entries[] | "\(.key)=\(.value)\u0000"' "$spec" 2>/dev/null)
  root=$(jq -r '.root // empty' "$spec" 2>/dev/null)
  if [ -n "$root" ]; then
    cleanup "$dir/$root"
    cmd+=(--dir "/:$dir/$root")
  fi
  cmd+=("$wasm")
  while IFS= read -r -d '' a; do cmd+=("$a"); done < <(jq -j '(.args // [])[] | "\(.)\u0000"' "$spec" 2>/dev/null)
  want_code=$(jq -r '.exit_code // 0' "$spec" 2>/dev/null)
  [ -n "$want_code" ] || want_code=0

  (cd "$dir" && timeout 60 "${cmd[@]}" </dev/null >"$tmp/out" 2>"$tmp/err")
  code=$?
  [ -n "$root" ] && cleanup "$dir/$root"

  why=""
  if [ "$code" != "$want_code" ]; then
    why="exit code $code, expected $want_code"
  fi
  for stream in stdout stderr; do
    file=$tmp/out
    [ $stream = stderr ] && file=$tmp/err
    if [ -z "$why" ] && jq -e "has(\"$stream\")" "$spec" >/dev/null 2>&1; then
      jq -j ".$stream" "$spec" >"$tmp/want"
      cmp -s "$tmp/want" "$file" || why="$stream differs: expected $(head -c 200 "$tmp/want" | od -An -c | tr -s ' ' | head -c 300), got $(head -c 200 "$file" | od -An -c | tr -s ' ' | head -c 300)"
    fi
  done
  if [ -z "$why" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $id: $why"
    sed -n '1,5s/^/    stderr: /p' "$tmp/err"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
