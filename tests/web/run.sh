#!/usr/bin/env bash
# Builds the web app (npm run build:web, over the wasm artifacts in wasm/dist/ that
# tests/wasm/run.sh builds) and runs its tests: the pure modules under node and the app in
# headless Chromium (tests/web/*.test.mjs, one file at a time). Ends with ONE line:
#   N passed, N failed
# Tests that need ../shared/testdata or the browser are listed as skipped, never as passed.
# Screenshots of every page go to build/web-screenshots/.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [[ ! -f wasm/dist/polyp-simd.wasm || ! -f wasm/dist/polyp-simd-mt.wasm ]]; then
  echo "tests/web/run.sh: wasm/dist/ is not built: run bash tests/wasm/run.sh first" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [[ ! -x node_modules/.bin/vite ]]; then
  echo "== npm ci (dev dependencies)"
  npm ci --no-audit --no-fund >/dev/null || echo "tests/web/run.sh: npm ci failed" >&2
fi

echo "== web app build (npm run build:web)"
if ! npm run --silent build:web; then
  echo "tests/web/run.sh: the web build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== web app tests (node --test: units, then Chromium)"
log=$(mktemp)
node --test --test-reporter=tap --test-concurrency=1 tests/web/*.test.mjs >"$log" 2>&1
rc=$?
grep -E "^(ok|not ok) |^# " "$log" | grep -vE "^# (Subtest|tests|suites|cancelled|todo|duration_ms)" | cut -c1-300
p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log" | tail -n1)
f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log" | tail -n1)
s=$(sed -n 's/^# skip \([0-9]*\)/\1/p' "$log" | tail -n1)
p=${p:-0}; f=${f:-0}
if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; tail -n 20 "$log" | cut -c1-300; fi
if [[ $f -gt 0 ]]; then grep -B2 -A30 '^ *not ok' "$log" | cut -c1-300 | head -120; fi
[[ ${s:-0} -gt 0 ]] && echo "skipped: $s web test(s) (no ../shared/testdata, browser or playwright-core)"
rm -f "$log"
echo "$p passed, $f failed"
[[ $f -eq 0 ]]
