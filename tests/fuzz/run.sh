#!/usr/bin/env bash
# run.sh [SECONDS] [PARSER...] - fuzzes each parser (default: all of tests/fuzz/fuzz_*.c) for
# SECONDS (default 300) with libFuzzer under ASan + UBSan. Needs clang and its runtimes
# (Debian: clang libclang-rt-14-dev); the test suite itself does not.
# Builds build-fuzz/ (CC=clang, -DPOLYP_FUZZ=ON), grows build-fuzz/corpus/<parser>/ from the
# committed seeds (the seeds folder is only read), and leaves anything that crashed, leaked or
# tripped a sanitizer in build-fuzz/artifacts/<parser>/. Prints each run's input count; exits
# non-zero when a target failed. A crash file replays with: build-fuzz/tests/fuzz/fuzz_<parser> FILE
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
shift || true
if [ $# -gt 0 ]; then parsers=("$@"); else
  parsers=()
  for f in tests/fuzz/fuzz_*.c; do p=${f##*/fuzz_}; parsers+=("${p%.c}"); done
fi
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
      -DPOLYP_FUZZ=ON -DPOLYP_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" --target "${parsers[@]/#/fuzz_}" >/dev/null

# Extra seed folders per parser: the same lists as tests/fuzz/CMakeLists.txt.
declare -A extra=([image]="tests/fixtures/images/synthetic tests/fixtures/images/band" [npz]=tests/fixtures/npz)
status=0
for p in "${parsers[@]}"; do
  corpus=build-fuzz/corpus/$p artifacts=build-fuzz/artifacts/$p
  mkdir -p "$corpus" "$artifacts"
  seeds=(tests/fuzz/seeds/"$p")
  [ -n "${extra[$p]:-}" ] && read -ra more <<<"${extra[$p]}" && seeds+=("${more[@]}")
  max_len=8192
  [ "$p" = image ] && max_len=65536
  log=build-fuzz/fuzz_$p.log
  if build-fuzz/tests/fuzz/fuzz_"$p" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz_$p: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" || echo 'done'), corpus $(ls "$corpus" | wc -l) files"
  else
    status=1
    echo "fuzz_$p: FAILED, see $log and $artifacts/" >&2
    grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log" >&2 || true
  fi
done
exit $status
