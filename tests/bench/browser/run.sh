#!/usr/bin/env bash
# polyp's in-browser benchmark: polyp-wasm (threaded module at 1 and 2 threads, the
# single-threaded module) against onnxruntime-web and TensorFlow.js's wasm backend in one
# headless Chromium, plus polyp native (portable, xnnpack) and in-browser training of 20,000
# points; every engine's features are checked against polyp's before speeds are printed.
# Not a test (CI never runs it): run it on a quiet machine. About 5 minutes on 2 cores.
#
#   tests/bench/browser/run.sh                     # threads 1 and 2, everything
#   tests/bench/browser/run.sh --quick             # smoke test: 1 timed run each, meaningless numbers
#   tests/bench/browser/run.sh --json out.jsonl    # also append the results as one JSON line
#   tests/bench/browser/run.sh --threads 2 --npatch 16 --batch 8 --lat-iters 15 --thr-iters 7
#       --budget 20 --train-points 20000 --train-runs 2 --tol 1e-3     (bench.mjs's options)
#   tests/bench/browser/run.sh --only polyp,train   # a subset (native always runs: the reference)
#
# Builds (incrementally) the wasm modules into wasm/dist/ (build folder build-wasm-bench,
# wasm/build-libjpeg.sh first) and build-bench/ (bench_extract, like tests/bench/run_bench.sh),
# installs this folder's npm packages from package-lock.json (--ignore-scripts: nothing is
# fetched beyond the npm packages themselves), makes the inputs in a temporary folder: the
# seeded test network, npatch patches cropped by polyp from a photo (../shared/testdata's
# mermaid photo, else a fixture PNG), the ONNX export (models/export_onnx.py, Debian
# python3-torch), and runs bench.mjs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cd "$repo"
export NODE_PATH=/usr/share/nodejs   # Debian's emscripten finds acorn there

npatch=8
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --npatch) npatch="${args[$((i + 1))]}" ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done

for tool in emcc emcmake node npm cmake /usr/bin/python3 "${POLYP_CHROMIUM:-/usr/bin/chromium}"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (native/install-deps.sh)" >&2; exit 1; }
done

echo "== wasm build (build-wasm-bench -> wasm/dist/)" >&2
bash wasm/build-libjpeg.sh >/dev/null
emcmake cmake -S . -B build-wasm-bench -DCMAKE_BUILD_TYPE=Release -DPOLYP_BUILD_TESTS=OFF \
  -DSTB_INCLUDE_DIR=/usr/include/stb "-DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node;--no-experimental-fetch" >/dev/null 2>&1
cmake --build build-wasm-bench -j2 >/dev/null

echo "== native build (build-bench: bench_extract)" >&2
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPOLYP_BUILD_BENCH=ON -DPOLYP_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target bench_extract >/dev/null

if [ ! -f "$here/node_modules/playwright-core/package.json" ] ||
   [ ! -f "$here/node_modules/onnxruntime-web/package.json" ] ||
   [ ! -f "$here/node_modules/@tensorflow/tfjs-backend-wasm/package.json" ]; then
  echo "== npm ci (tests/bench/browser: onnxruntime-web, tfjs, playwright-core)" >&2
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi

work="$(mktemp -d -t polyp-browser-bench-XXXXXX)"
trap 'rm -rf "$work"' EXIT
bx="$repo/build-bench/tests/bench/bench_extract"
photo="$repo/../shared/testdata/mermaid-sample/mermaid_3805.JPG"
[ -f "$photo" ] || photo="$repo/tests/fixtures/effnet/synth_300x200.png"
echo "== inputs: test network, $npatch patches of $(basename "$photo"), ONNX export" >&2
"$bx" --testnet "$repo/models/testnet-bnstats.safetensors" --write-weights "$work/weights.safetensors" >/dev/null
"$bx" --image "$photo" --npatch "$npatch" --write-patches "$work/patches.f32" >/dev/null
/usr/bin/python3 models/export_onnx.py "$work/weights.safetensors" "$work/model.onnx" >/dev/null 2>"$work/export.log" ||
  { cat "$work/export.log" >&2; exit 1; }

node "$here/bench.mjs" --work "$work" --bench-extract "$bx" "$@"
