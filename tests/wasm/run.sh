#!/usr/bin/env bash
# Builds the WebAssembly module and the core's unit tests with Emscripten, runs the unit
# tests (tests/unit/test_*.c through tests/wasm/check.h) under node, the JS API tests
# (tests/wasm/*.test.mjs) and the example page in headless Chromium (tests/browser/*.test.mjs)
# with node --test, checks polyp.d.ts with tsc, checks that the configure refuses what it
# cannot build, installs the `npm pack` tarball in a scratch project and uses it
# (tests/wasm/pack.sh), and ends with ONE line:
#   N passed, N failed
# A test program that dies (a wasm trap) counts as one more failure; one that exits 77
# (needs ../shared/testdata) is listed as skipped, never as passed. Exit status 0 only when
# nothing failed.
#
#   tests/wasm/run.sh [BUILD_DIR]       (default build-wasm)
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build="${1:-build-wasm}"
[[ "$build" == /* ]] || build="$root/$build"
jobs=$(nproc 2>/dev/null || echo 2)
[[ $jobs -gt 2 ]] && jobs=2
export NODE_PATH=/usr/share/nodejs   # Debian's emscripten finds acorn there

for tool in emcc emcmake node; do
  if ! command -v "$tool" >/dev/null; then
    echo "tests/wasm/run.sh: $tool not found (apt-get install emscripten nodejs)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

echo "== wasm: libjpeg-turbo"
bash wasm/build-libjpeg.sh || { echo "0 passed, 1 failed"; exit 1; }

echo "== wasm build (Release, SIMD, single + pthreads, unit tests)"
if ! emcmake cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPOLYP_BUILD_TESTS=ON \
      -DSTB_INCLUDE_DIR=/usr/include/stb \
      "-DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node;--no-experimental-fetch" >/dev/null ||
   ! cmake --build "$build" -j"$jobs"; then
  echo "tests/wasm/run.sh: the wasm build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
skipped=()

# The configure refuses what it cannot build instead of building something else: no wasm
# libjpeg-turbo is an error (its pixels are CoralNet's), unless stb_image's JPEG is asked for
# by name; an unknown decoder name is an error. (Configure only: about a second each.)
echo "== strict wasm configure"
strict() {   # strict NAME WANT(ok|fail) MESSAGE_REGEX CMAKE_ARGS...
  local name=$1 want=$2 re=$3; shift 3
  local dir; dir=$(mktemp -d)
  emcmake cmake -S . -B "$dir/b" -DSTB_INCLUDE_DIR=/usr/include/stb -DPOLYP_BUILD_TESTS=OFF \
    "-DPOLYP_LIBJPEG_WASM_DIR=$dir/none" "$@" >"$dir/log" 2>&1
  local rc=$?
  if { [[ $want == ok && $rc -eq 0 ]] || [[ $want == fail && $rc -ne 0 ]]; } && grep -qE "$re" "$dir/log"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name (configure exit status $rc)"
    grep -A8 "CMake Error" "$dir/log" | head -12
    failed=$((failed + 1))
  fi
  rm -rf "$dir"
}
strict "no wasm libjpeg-turbo stops the configure, naming the way out" fail \
  "no libjpeg-turbo for wasm"
strict "an unknown POLYP_WASM_JPEG stops the configure" fail "POLYP_WASM_JPEG=jpeg9: use libjpeg or stb" \
  -DPOLYP_WASM_JPEG=jpeg9
strict "POLYP_WASM_JPEG=stb configures without libjpeg-turbo" ok "Generating done" -DPOLYP_WASM_JPEG=stb
testdir="$build/tests-wasm"
export POLYP_SOURCE_DIR="$root"
export POLYP_TESTDATA="${POLYP_TESTDATA:-$root/../shared/testdata}"
export POLYP_BUILD_DIR="$build"

echo "== wasm unit tests (node)"
while IFS= read -r name; do
  [[ -z "$name" ]] && continue
  prog="$testdir/$name.js"
  if [[ ! -f "$prog" ]]; then
    echo "FAIL $name: not built"
    failed=$((failed + 1))
    continue
  fi
  log=$(mktemp)
  node "$prog" >"$log" 2>&1
  rc=$?
  p=$(grep -c '^polyp-check: PASS ' "$log")
  f=$(grep -c '^polyp-check: FAIL ' "$log")
  if [[ $rc -eq 77 ]]; then
    skipped+=("$name")
    echo "SKIP $name (needs ../shared/testdata)"
  else
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
      f=1   # died (trap, abort) or failed outside any test
      echo "FAIL $name: exit status $rc"
      tail -n 5 "$log" | cut -c1-300
    fi
    grep '^polyp-check: FAIL ' "$log" | cut -c1-400
    echo "$name: $p passed, $f failed"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
done < "$testdir/tests.txt"

# JS dev tools (typescript, playwright-core) as package-lock.json pins them.
if [[ ! -x node_modules/.bin/tsc ]]; then
  echo "== npm ci (dev dependencies)"
  npm ci --no-audit --no-fund >/dev/null || echo "tests/wasm/run.sh: npm ci failed" >&2
fi

echo "== polyp.d.ts type check (tsc)"
if [[ -x node_modules/.bin/tsc ]] && node_modules/.bin/tsc -p tests/wasm/tsconfig.json; then
  echo "polyp.d.ts: 1 passed, 0 failed"
  passed=$((passed + 1))
else
  echo "FAIL polyp.d.ts type check"
  failed=$((failed + 1))
fi

shopt -s nullglob
api_tests=(tests/wasm/*.test.mjs tests/browser/*.test.mjs)
if [[ ${#api_tests[@]} -gt 0 ]]; then
  echo "== JS API tests and the headless Chromium test (node --test)"
  source tests/node_tap.sh
  POLYP_WASM_BUILD="$build" node_tap_run "JS API tests" "${api_tests[@]}"
  [[ $TAP_SKIP -gt 0 ]] && skipped+=("$TAP_SKIP JS API test(s)")
  passed=$((passed + TAP_PASS))
  failed=$((failed + TAP_FAIL))
fi

echo "== npm pack, installed in a scratch project (tests/wasm/pack.sh)"
log=$(mktemp)
bash tests/wasm/pack.sh >"$log" 2>&1
cat "$log" | cut -c1-300 | head -40
p=$(tail -n1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f=$(tail -n1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
[[ -z "$p" || -z "$f" ]] && { p=0; f=1; }
passed=$((passed + p))
failed=$((failed + f))
rm -f "$log"

[[ ${#skipped[@]} -gt 0 ]] && echo "skipped: ${skipped[*]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
