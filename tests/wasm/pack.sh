#!/usr/bin/env bash
# The npm package as a user gets it: `npm pack` of this checkout (wasm/dist/ already built,
# as tests/wasm/run.sh does first), `npm install` of the tarball into an empty scratch project
# (offline: the package has no runtime dependencies), then tests/wasm/pack_check.mjs there
# imports 'polyp' from node_modules, builds the test network, decodes a fixture image and
# extracts features with both modules, and compares them with the in-repo wasm/polyp.js
# (bit for bit) and with PyTorch's (tests/fixtures/effnet/features.f32, within 1e-4).
# Ends with ONE line "N passed, N failed"; exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/polyp-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL npm pack: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

for f in polyp-simd.wasm polyp-simd.mjs polyp-simd-mt.wasm polyp-simd-mt.mjs polyp-simd-mt.worker.js; do
  [[ -f wasm/dist/$f ]] || fail "wasm/dist/$f missing (build the wasm first: tests/wasm/run.sh)"
done

npm pack --pack-destination "$work" --json --no-audit --no-fund >"$work/pack.json" 2>"$work/pack.err" ||
  { cat "$work/pack.err" >&2; fail "npm pack failed"; }
tarball=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0];
  console.log(r.filename); for (const f of r.files) console.error("  " + f.path);' "$work/pack.json" 2>"$work/files.txt")
echo "npm pack: $tarball, $(wc -l <"$work/files.txt") files"
# The payload must be there, and nothing built elsewhere in the checkout (build*/, tests/).
for f in wasm/dist/polyp-simd.wasm wasm/dist/polyp-simd-mt.wasm wasm/dist/polyp-simd-mt.worker.js \
         wasm/dist/package.json wasm/polyp.js wasm/polyp.d.ts wasm/common.js wasm/bindings.js; do
  grep -qx "  $f" "$work/files.txt" || fail "the tarball lacks $f"
done
if grep -vE '^  (package\.json|README\.md|LICENSE[^/]*|wasm/[^/]+\.(js|d\.ts)|wasm/dist/[^/]+)$' "$work/files.txt"; then
  fail "the tarball holds files outside the package's list (above)"
fi

mkdir -p "$work/app"
printf '{ "name": "scratch", "version": "1.0.0", "private": true, "type": "module" }\n' >"$work/app/package.json"
(cd "$work/app" && npm install --offline --no-audit --no-fund "$work/$tarball" >"$work/install.log" 2>&1) ||
  { cat "$work/install.log" >&2; fail "npm install of the tarball failed"; }
cp tests/wasm/pack_check.mjs "$work/app/"
(cd "$work/app" && node --no-experimental-fetch pack_check.mjs "$root") || fail "the installed package does not work (above)"
echo "1 passed, 0 failed"
