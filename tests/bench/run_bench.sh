#!/usr/bin/env bash
# polyp's extraction benchmark: polyp (xnnpack and portable backends) against PyTorch run as
# CoralNet runs it, PyTorch's best CPU setting, and ONNX Runtime, all in the same run, with the
# same weights, patches and thread counts; prints ratios. Not a test (CI never runs it); run it
# on a quiet machine. Takes about 10 minutes on 2 cores.
#
#   tests/bench/run_bench.sh                  # threads 1 and 2, everything
#   tests/bench/run_bench.sh --quick          # smoke test of the harness (seconds of work)
#   tests/bench/run_bench.sh --threads 2 --skip rss --json out.jsonl
#   tests/bench/run_bench.sh --help           # every option (tests/bench/bench.py)
#
# Needs: the native build deps (native/install-deps.sh), Debian python3-torch + python3-pil
# (/usr/bin/python3), python3-onnx (export check), libjemalloc2 and libtcmalloc-minimal4
# (PyTorch's allocators), node + npm (onnxruntime-node, installed here from
# tests/bench/package-lock.json), and ../shared/testdata (the full-size photos).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
command_line="tests/bench/run_bench.sh${*:+ $*}"
build="${POLYP_BENCH_BUILD:-build-bench}"

missing=()
for pkg in python3-torch python3-numpy python3-pil python3-onnx libjemalloc2 libtcmalloc-minimal4; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "run_bench: missing Debian packages: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "== build ($build, Release, bench on)" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPOLYP_BUILD_BENCH=ON -DPOLYP_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_extract polyp_cli >/dev/null

if [ ! -f "$here/node_modules/onnxruntime-node/package.json" ]; then
  echo "== npm ci (tests/bench: onnxruntime-node)" >&2
  # onnxruntime-node's postinstall would fetch CUDA provider libraries from outside the npm
  # registry; the CPU binaries are inside the npm package, so skip it.
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi

exec /usr/bin/python3 "$here/bench.py" --build "$repo/$build" --command "$command_line" "$@"
