#!/usr/bin/env bash
# Checks that the build is strict and that the README's first command needs nothing the tests
# bring:
#  1. native/demo.sh (configure with tests off, build, the whole workflow) works with every
#     pkg-config package hidden, so it cannot depend on Check or any other test-only package;
#  2. asking for the tests while Check is missing stops the configure with a message that
#     says what to install;
#  3. a bad option value stops the configure with a message naming it;
#  4. POLYP_CUDA=ON with the CUDA compiler hidden stops the configure saying what to install,
#     and POLYP_CUDA=AUTO then configures without the CUDA backend (a machine without CUDA).
# Prints one "N passed, N failed" line; exit status 0 only when all passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; [[ -n "${2:-}" ]] && tail -n 15 "$2" | cut -c1-300; failed=$((failed + 1)); }
hidden=(env PKG_CONFIG_LIBDIR="$tmp/no-pkgconfig" PKG_CONFIG_PATH=)

# 1. the demo, in its own build folder, with no pkg-config package visible
if "${hidden[@]}" POLYP_BUILD_DIR="$tmp/build-demo" POLYP_DEMO_OUT="$tmp/demo" \
     bash native/demo.sh >"$tmp/demo.log" 2>&1 &&
   grep -q '^POLYP_BUILD_TESTS:BOOL=OFF' "$tmp/build-demo/CMakeCache.txt" &&
   [[ -s "$tmp/demo/cover.csv" && -s "$tmp/demo/scores.csv" && -s "$tmp/demo/evaluation.txt" &&
      -s "$tmp/demo/classifier.safetensors" ]] &&
   [[ $(find "$tmp/demo/features" -name '*.featurevector' | wc -l) -eq $(find "$tmp/demo/images" -type f | wc -l) ]] &&
   grep -q 'UNTRAINED' "$tmp/demo.log"; then
  ok "native/demo.sh runs the whole workflow without any test-only package"
else
  bad "native/demo.sh without test-only packages" "$tmp/demo.log"
fi

# 2. tests asked for, Check missing
if "${hidden[@]}" cmake -S . -B "$tmp/build-tests" -DPOLYP_BUILD_TESTS=ON >"$tmp/tests.log" 2>&1; then
  bad "configure with POLYP_BUILD_TESTS=ON and no Check succeeded" "$tmp/tests.log"
elif grep -q 'POLYP_BUILD_TESTS=ON needs the Check' "$tmp/tests.log"; then
  ok "POLYP_BUILD_TESTS=ON without Check stops the configure and says what to install"
else
  bad "POLYP_BUILD_TESTS=ON without Check: no clear message" "$tmp/tests.log"
fi

# 3. an option value that cannot be met
if cmake -S . -B "$tmp/build-opt" -DPOLYP_XNNPACK=sometimes >"$tmp/opt.log" 2>&1; then
  bad "configure with POLYP_XNNPACK=sometimes succeeded" "$tmp/opt.log"
elif grep -q "POLYP_XNNPACK must be ON, OFF or AUTO (got 'SOMETIMES')" "$tmp/opt.log"; then
  ok "a bad POLYP_XNNPACK value stops the configure with a message"
else
  bad "bad POLYP_XNNPACK value: no clear message" "$tmp/opt.log"
fi

# 4. CUDA asked for, its compiler hidden (a path that does not exist: nvcc may be on PATH
#    through /usr/local/bin here, so hiding PATH entries would not hide it)
if cmake -S . -B "$tmp/build-cuda-on" -DPOLYP_CUDA=ON -DCMAKE_CUDA_COMPILER=/nonexistent/nvcc >"$tmp/cuda-on.log" 2>&1; then
  bad "configure with POLYP_CUDA=ON and no CUDA compiler succeeded" "$tmp/cuda-on.log"
elif grep -q 'POLYP_CUDA=ON but CMAKE_CUDA_COMPILER=/nonexistent/nvcc' "$tmp/cuda-on.log" &&
     grep -q 'install the CUDA toolkit' "$tmp/cuda-on.log"; then
  ok "POLYP_CUDA=ON without a CUDA compiler stops the configure and says what to install"
else
  bad "POLYP_CUDA=ON without a CUDA compiler: no clear message" "$tmp/cuda-on.log"
fi
if cmake -S . -B "$tmp/build-cuda-auto" -DPOLYP_CUDA=AUTO -DCMAKE_CUDA_COMPILER=/nonexistent/nvcc >"$tmp/cuda-auto.log" 2>&1 &&
   grep -q 'polyp: CUDA not built' "$tmp/cuda-auto.log" &&
   ! grep -q 'POLYP_HAVE_CUDA=1' "$tmp/build-cuda-auto/CMakeFiles/polyp_lib.dir/flags.make"; then
  ok "POLYP_CUDA=AUTO without a CUDA compiler configures without the CUDA backend and says so"
else
  bad "POLYP_CUDA=AUTO without a CUDA compiler" "$tmp/cuda-auto.log"
fi

echo "configure: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
