#!/usr/bin/env bash
# Per-kernel profile of polyp-wasm in headless Chromium: builds tests/bench/kernel_profile.c
# with emcc (SIMD128, single thread, the test network's BN statistics embedded) into
# build-wasm-profile/ and runs it on a page (run_main.mjs). Arguments go to kernel_profile:
#   tests/bench/browser/profile.sh [--runs R] [--batch B] [--shapes] [--subnormals]
# Not a test: CI never runs it; run it on a quiet machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cd "$repo"
export NODE_PATH=/usr/share/nodejs   # Debian's emscripten finds acorn there
out=build-wasm-profile
mkdir -p "$out"
srcs=()
for f in backend_portable common effnet kernels gemm testnet weights safetensors json sha256; do srcs+=("core/$f.c"); done
emcc -O3 -msimd128 -std=c11 -D_POSIX_C_SOURCE=200809L -Icore "${srcs[@]}" tests/bench/kernel_profile.c \
  -o "$out/kernel_profile.js" -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=web -sEXIT_RUNTIME=1 \
  --embed-file models/testnet-bnstats.safetensors 2> "$out/build.log" || { cat "$out/build.log" >&2; exit 1; }
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
node "$here/run_main.mjs" "$out/kernel_profile.js" "$@"
