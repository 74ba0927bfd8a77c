# node_tap.sh - sourced by tests/wasm/run.sh and tests/web/run.sh: runs node's test runner on
# some files and reads its TAP summary, so both scripts count passes, failures and skips the
# same way.
#
#   node_tap_run LABEL FILE...   prints the ok / not ok lines (and the failures' details), and
#                                sets TAP_PASS, TAP_FAIL, TAP_SKIP. A runner that exits non-zero
#                                with no failing test (a crash, a syntax error) counts as one
#                                failure. Extra environment: set it on the call.
node_tap_run() {
  local label=$1
  shift
  local log rc
  log=$(mktemp)
  node --test --test-reporter=tap --test-concurrency=1 "$@" >"$log" 2>&1
  rc=$?
  grep -E "^(ok|not ok) |^# " "$log" | grep -vE "^# (Subtest|tests|suites|cancelled|todo|duration_ms)" | cut -c1-300
  TAP_PASS=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log" | tail -n1)
  TAP_FAIL=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log" | tail -n1)
  # node 20 prints "# skipped N"; older runners "# skip N"
  TAP_SKIP=$(sed -n 's/^# skip\(ped\)\{0,1\} \([0-9]*\)/\2/p' "$log" | tail -n1)
  TAP_PASS=${TAP_PASS:-0}; TAP_FAIL=${TAP_FAIL:-0}; TAP_SKIP=${TAP_SKIP:-0}
  if [[ $rc -ne 0 && $TAP_FAIL -eq 0 ]]; then
    TAP_FAIL=1
    echo "$label: the test runner exited with status $rc"
    tail -n 20 "$log" | cut -c1-300
  fi
  if [[ $TAP_FAIL -gt 0 ]]; then grep -B2 -A30 '^ *not ok' "$log" | cut -c1-300 | head -120; fi
  rm -f "$log"
}
