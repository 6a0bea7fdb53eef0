#!/usr/bin/env bash
# bench/peers/build_peers.sh — builds the interpreter peers the kernel benchmark compares against:
#   wasm3  (https://github.com/wasm3/wasm3)                     -> $OUT/wasm3
#   WAMR   (https://github.com/bytecodealliance/wasm-micro-runtime), fast interpreter -> $OUT/iwasm
# They are built outside the repository (default /tmp/wasmq-peers) and never enter it.
#
# Usage:
#   bench/peers/build_peers.sh [--wasm3-src DIR] [--wamr-src DIR] [--out DIR] [--fetch] [-j N]
#
#   --wasm3-src / --wamr-src  existing source trees (default $OUT/src/wasm3, $OUT/src/wamr)
#   --fetch                   git clone the sources into $OUT/src first (needs network)
#   --out                     where binaries and builds go (default /tmp/wasmq-peers)
#
# Both build offline once the sources are present:
#   wasm3: CMake, Release, -DBUILD_WASI=simple (the uvwasi default would download libuv).
#   WAMR:  product-mini/platforms/linux, fast interpreter on; AOT, JIT, fast-JIT and SIMD off
#          (SIMD would fetch simde), libc-wasi on.
# A peer whose source is missing is skipped with a message; bench/run_kernels skips missing binaries.
set -euo pipefail

OUT=/tmp/wasmq-peers
WASM3_SRC=""
WAMR_SRC=""
FETCH=0
JOBS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wasm3-src) WASM3_SRC="$2"; shift 2 ;;
    --wamr-src) WAMR_SRC="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --fetch) FETCH=1; shift ;;
    -j) JOBS="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build_peers.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
WASM3_SRC="${WASM3_SRC:-$OUT/src/wasm3}"
WAMR_SRC="${WAMR_SRC:-$OUT/src/wamr}"
mkdir -p "$OUT"

if [[ $FETCH == 1 ]]; then
  [[ -d "$WASM3_SRC" ]] || git clone --depth 1 https://github.com/wasm3/wasm3 "$WASM3_SRC"
  [[ -d "$WAMR_SRC" ]] || git clone --depth 1 https://github.com/bytecodealliance/wasm-micro-runtime "$WAMR_SRC"
fi

status=0
if [[ -f "$WASM3_SRC/CMakeLists.txt" ]]; then
  echo "== wasm3 from $WASM3_SRC"
  cmake -S "$WASM3_SRC" -B "$OUT/build-wasm3" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_WASI=simple -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build "$OUT/build-wasm3" -j "$JOBS"
  cp "$OUT/build-wasm3/wasm3" "$OUT/wasm3"
  echo "   -> $OUT/wasm3"
else
  echo "== wasm3: no source at $WASM3_SRC (skipped; use --wasm3-src or --fetch)" >&2
  status=1
fi

if [[ -f "$WAMR_SRC/product-mini/platforms/linux/CMakeLists.txt" ]]; then
  echo "== WAMR (iwasm, fast interpreter) from $WAMR_SRC"
  cmake -S "$WAMR_SRC/product-mini/platforms/linux" -B "$OUT/build-wamr" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DWAMR_BUILD_INTERP=1 -DWAMR_BUILD_FAST_INTERP=1 \
    -DWAMR_BUILD_AOT=0 -DWAMR_BUILD_JIT=0 -DWAMR_BUILD_FAST_JIT=0 -DWAMR_BUILD_SIMD=0 \
    -DWAMR_BUILD_LIBC_WASI=1 -DWAMR_BUILD_LIBC_BUILTIN=1 >/dev/null
  cmake --build "$OUT/build-wamr" -j "$JOBS"
  cp "$OUT/build-wamr/iwasm" "$OUT/iwasm"
  echo "   -> $OUT/iwasm"
else
  echo "== WAMR: no source at $WAMR_SRC (skipped; use --wamr-src or --fetch)" >&2
  status=1
fi
exit $status
