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
source tests/node_tap.sh
node_tap_run "web tests" tests/web/*.test.mjs
[[ $TAP_SKIP -gt 0 ]] && echo "skipped: $TAP_SKIP web test(s) (no ../shared/testdata, browser or playwright-core)"
echo "$TAP_PASS passed, $TAP_FAIL failed"
[[ $TAP_FAIL -eq 0 ]]
