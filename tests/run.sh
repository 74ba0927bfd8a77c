#!/usr/bin/env bash
# Runs every test the README promises: native unit and end-to-end tests (Release, ctest), a
# single-node Slurm cluster (tests/slurm/), the Python tests, the configure checks
# (tests/build/), the same ctest suite under AddressSanitizer + UBSan, the wasm build's unit +
# JS API + npm-pack tests (tests/wasm/), then the web app's browser tests (tests/web/). CI
# runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash native/install-deps.sh --test
jobs=$(nproc 2>/dev/null || echo 2)

echo "== native build (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPOLYP_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
echo "== Slurm: a single-node cluster runs the job template (tests/slurm/run.sh)"
rc=0
bash tests/slurm/run.sh build/polyp || rc=$?
((rc == 0 || rc == 77)) || exit "$rc"
echo "== python tests (models/: converter, reference network, fixtures)" && /usr/bin/python3 -m unittest discover -s tests/python

echo "== strict configure: the demo needs no test-only package, impossible options stop"
bash tests/build/configure_checks.sh

echo "== native build (ASan + UBSan)"
cmake -S . -B build-sanitize -DPOLYP_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DPOLYP_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j"$jobs"
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")

echo "== wasm build, the same unit tests and the JS API tests under node"
bash tests/wasm/run.sh

echo "== web app: build and the browser tests (Chromium)"
bash tests/web/run.sh
