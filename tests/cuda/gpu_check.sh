#!/usr/bin/env bash
# gpu_check.sh - everything about the CUDA backend that needs a GPU, in ONE run (issue 12).
#
#   OUT=/some/folder bash tests/cuda/gpu_check.sh
#
# For a session on a GPU machine (H100 / H200, a copy of this working tree, PyTorch there,
# nothing downloadable, minutes of device time). Steps, each under its own time limit and all
# under one total budget (GPU_CHECK_BUDGET_S, default 540 s), so one hang cannot eat the
# session:
#   env        what is there: GPU, driver, nvcc, cmake, gcc, python + torch, libjpeg, Check, XNNPACK
#   configure  -DPOLYP_CUDA=ON -DPOLYP_XNNPACK=AUTO (+ the Check tests when Check is there;
#              -DPOLYP_LIBJPEG=OFF, stb_image decoding, when libjpeg's headers are missing)
#   build      polyp, bench_cuda_net and the CUDA unit tests only
#   unit       ctest: test_backend_cuda (PyTorch fixtures both precisions, device crop = host
#              patches, batch sizes, exact vs portable on survey photos) + test_cuda_plan;
#              a skip here is a failure (the GPU must be usable)
#   parity     tests/cuda/parity_cli.py through the CLI: fixtures, photos vs portable, the
#              truncated JPEG, resume after kill -9
#   bench      tests/bench/bench_cuda.py: network only at batch 256 and 1024 vs PyTorch
#              (FP32, TF32, fp16 channels_last, torch.compile), end to end on 12 MP JPEGs
# Everything goes to $OUT: gpu_check.log (all output), gpu_check.json (one record per step),
# parity_cli.json, bench_cuda.json. Exit status 0 only when every step passed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
SUMMARY=$OUT/gpu_check.json
BUILD=${POLYP_GPU_BUILD:-$PWD/build-gpu}
BUDGET=${GPU_CHECK_BUDGET_S:-540}
T0=$(date +%s)
: >"$LOG"
records=()
failed=0

log() { echo "$*" | tee -a "$LOG"; }

# step NAME LIMIT_S CMD...: runs CMD with its output in the log, under min(LIMIT, what is left
# of the budget); records name, exit status and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - T0)))
  if ((left < 15)); then
    log "=== $name: SKIPPED, total budget spent"
    records+=("{\"step\": \"$name\", \"status\": \"not run: budget spent\"}")
    failed=$((failed + 1))
    return 1
  fi
  ((limit > left)) && limit=$left
  log "=== $name (limit ${limit}s): $*"
  local s
  s=$(date +%s)
  # timeout runs programs, not shell functions: the functions below are exported (export -f)
  # and run by a child bash.
  timeout -k 10 "$limit" bash -c '"$@"' step "$@" >>"$LOG" 2>&1
  local rc=$?
  local el=$(($(date +%s) - s))
  local status=passed
  if ((rc == 124 || rc == 137)); then status="timed out after ${limit}s"; elif ((rc != 0)); then status="failed (exit $rc)"; fi
  [[ $status == passed ]] || failed=$((failed + 1))
  log "=== $name: $status in ${el}s"
  records+=("{\"step\": \"$name\", \"status\": \"$status\", \"seconds\": $el}")
  [[ $status == passed ]]
}

write_summary() {
  {
    echo "{\"commit\": \"$(git rev-parse HEAD 2>/dev/null || echo unknown)\", \"failed_steps\": $failed,"
    echo " \"total_seconds\": $(($(date +%s) - T0)), \"steps\": ["
    local i
    for i in "${!records[@]}"; do
      [[ $i -gt 0 ]] && echo ","
      echo -n "  ${records[$i]}"
    done
    echo "]}"
  } >"$SUMMARY"
}
trap write_summary EXIT

# ---- env: say what is there; stop early only without a compiler or a GPU
env_report() {
  set +e
  nvidia-smi || echo "nvidia-smi: not found or failed"
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
  for t in cmake gcc g++ nvcc python3; do
    if command -v "$t" >/dev/null; then echo "$t: $(command -v "$t"): $("$t" --version 2>&1 | head -1)"; else echo "$t: MISSING"; fi
  done
  [[ -x /usr/local/cuda/bin/nvcc ]] && echo "/usr/local/cuda/bin/nvcc: $(/usr/local/cuda/bin/nvcc --version | tail -1)"
  for h in jpeglib.h stb/stb_image.h xnnpack.h check.h; do
    if [[ -f /usr/include/$h || -f /usr/include/x86_64-linux-gnu/$h ]]; then echo "header $h: present"; else echo "header $h: missing"; fi
  done
  pkg-config --modversion check 2>/dev/null && echo "Check: present" || echo "Check: missing (unit tests not built)"
  "$PY" -c 'import torch, numpy; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  "$PY" -c 'import PIL; print("Pillow", PIL.__version__)' 2>/dev/null || echo "Pillow: missing (bench_cuda.py tries OpenCV for the JPEGs)"
  git log --oneline -1 2>/dev/null
  return 0
}

# ../shared/testdata next to the project (a worktree), or shared/testdata inside it (a copy
# of the working tree with its shared/ folder); absent: the steps that need it say so.
TESTDATA=${POLYP_TESTDATA:-}
for d in "$PWD/../shared/testdata" "$PWD/shared/testdata"; do
  [[ -z $TESTDATA && -d $d ]] && TESTDATA=$(cd "$d" && pwd)
done
log "gpu_check: testdata: ${TESTDATA:-none found}"
[[ -n $TESTDATA ]] && export POLYP_TESTDATA=$TESTDATA

PY=${PYTHON:-python3}
if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1 && /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; then
  PY=/usr/bin/python3
fi
export PY BUILD OUT
export -f env_report
step env 30 env_report

NVCC=$(command -v nvcc || true)
[[ -z $NVCC && -x /usr/local/cuda/bin/nvcc ]] && NVCC=/usr/local/cuda/bin/nvcc
if [[ -z $NVCC ]] || ! command -v cmake >/dev/null || ! command -v gcc >/dev/null; then
  log "gpu_check: needs cmake, gcc and nvcc (nvcc: '${NVCC:-none}'): nothing can be built; stopping"
  failed=$((failed + 1))
  exit 1
fi

cfg=(-DCMAKE_BUILD_TYPE=Release -DPOLYP_CUDA=ON -DPOLYP_XNNPACK=AUTO -DPOLYP_BUILD_BENCH=ON
     -DCMAKE_CUDA_COMPILER="$NVCC")
[[ -n $TESTDATA ]] && cfg+=(-DPOLYP_TESTDATA_DIR="$TESTDATA")
targets=(polyp_cli bench_cuda_net)
have_check=0
# The Check tests also need Debian's /usr/bin/python3 at configure time (tests/CMakeLists.txt).
if pkg-config --exists check 2>/dev/null && [[ -x /usr/bin/python3 ]]; then
  have_check=1
  cfg+=(-DPOLYP_BUILD_TESTS=ON)
  targets+=(test_backend_cuda test_cuda_plan)
fi
[[ -f /usr/include/jpeglib.h || -f /usr/include/x86_64-linux-gnu/jpeglib.h ]] || cfg+=(-DPOLYP_LIBJPEG=OFF)

if ! step configure 120 cmake -S . -B "$BUILD" "${cfg[@]}"; then
  ((have_check)) || exit 1
  # Whatever the tests need that is missing here, the CLI checks below need none of it.
  log "gpu_check: configure failed with the tests on: trying once without them"
  have_check=0
  cfg=("${cfg[@]/-DPOLYP_BUILD_TESTS=ON/-DPOLYP_BUILD_TESTS=OFF}")
  targets=(polyp_cli bench_cuda_net)
  rm -rf "$BUILD"
  step configure-without-tests 90 cmake -S . -B "$BUILD" "${cfg[@]}" || exit 1
fi
step build 240 cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" || exit 1

# A skip of the GPU test on a GPU machine means the device was not usable: a failure here.
unit_tests() {
  (cd "$BUILD" && ctest -R '^(test_backend_cuda|test_cuda_plan)$' --output-on-failure -V) | tee "$OUT/unit.log"
  local rc=${PIPESTATUS[0]}
  if grep -q 'test_backend_cuda .*Skipped\|SKIPPED' "$OUT/unit.log"; then
    echo "test_backend_cuda was skipped: the device is not usable"
    return 1
  fi
  return "$rc"
}
if ((have_check)); then
  export -f unit_tests
  step unit 150 unit_tests
else
  log "=== unit: not built (no Check here); parity_cli.py below covers the fixtures through the CLI"
  records+=("{\"step\": \"unit\", \"status\": \"not built: no Check\"}")
fi

step parity 180 "$PY" tests/cuda/parity_cli.py "$BUILD/polyp" "$OUT" "${TESTDATA:-/nonexistent}"
step bench 300 "$PY" tests/bench/bench_cuda.py --build "$BUILD" --out "$OUT" --budget-s 8

log "gpu_check: $failed step(s) failed; total $(($(date +%s) - T0))s; results in $OUT"
((failed == 0))
