#!/usr/bin/env bash
# tests/slurm/run.sh - a real single-node Slurm cluster runs native/jobs/slurm-extract.sh.
#
# usage: tests/slurm/run.sh [PATH/TO/polyp]     (default: build/polyp; tests/run.sh calls it)
#
# Starts munged, slurmctld and slurmd by hand (no systemd in CI), all private to a temporary
# folder: own munge key and socket, own slurm.conf (SLURM_CONF), free ports, state and logs
# there, nothing in /etc touched. Then, on real photos from ../shared/testdata (3 photos
# linked under 16 names, CoralNet random points from `polyp points`, the seeded test network):
#   1. an array of 4 tasks runs the job template (SHARDS=4 and the paths edited in, as a user
#      would), and the shard with the most images is cancelled (scancel) once it has written
#      one of them, i.e. mid-run;
#   2. `polyp status --shard-count 4` must exit 1 and name exactly that shard;
#   3. that shard is resubmitted alone (sbatch --array=K): status then exits 0 and the output
#      folder equals one unsharded run byte for byte, with no temporary file left.
# The cancelled task must have stopped cleanly on SIGTERM (its log) and left no temporary file.
# Jobs are cancelled and the daemons stopped on exit (trap), pass or fail.
# Needs root (munged and slurmd run as root here): exits 77, saying so, otherwise; also 77
# without ../shared/testdata. Missing Slurm or munge programs are a failure, not a skip:
# native/install-deps.sh --test installs them.
#
# Traps met on these machines (Debian 12's slurm-wlm 22.05, munge 0.5.15), handled below:
# - without SLURM_CONF, sbatch/squeue look the controller up by DNS SRV and die ("Could not
#   establish a configuration source"): every daemon and client gets the private file;
# - slurmctld only runs as primary when SlurmctldHost is this host's short name;
# - no systemd or writable cgroups in CI containers: proctrack/linuxproc and task/none;
# - munged refuses to run as root without --force; its socket is private (AuthInfo=socket=);
# - a node line that does not match the hardware drains the node: it comes from slurmd -C;
# - the template's #SBATCH --cpus-per-task=4 cannot run on a 2-core node: sbatch's
#   command-line options override #SBATCH lines, so the template itself is left as written;
# - exit codes say nothing of completeness (a cancelled task's array still "finishes"):
#   the test asks polyp status, which reads the outputs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
POLYP=$(realpath "${1:-$ROOT/build/polyp}")
TESTDATA=${POLYP_TESTDATA:-$ROOT/../shared/testdata}
say() { echo "slurm test: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  say "SKIPPED: needs root to start munged and slurmd (CI runs it as root)"
  exit 77
fi
if [[ ! -f $TESTDATA/mermaid-sample/mermaid_3805.JPG ]]; then
  say "SKIPPED: $TESTDATA (the team's test photos) is missing"
  exit 77
fi
for p in munged mungekey slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$p" >/dev/null || fail "$p not found: run native/install-deps.sh --test (slurmctld slurmd slurm-client munge)"
done
[[ -x $POLYP ]] || fail "$POLYP is not built"

D=$(mktemp -d /tmp/polyp-slurm.XXXXXX)
chmod 755 "$D"
JOBS=()
cleanup() {
  local rc=$?
  set +e
  if [[ -f $D/slurm.conf ]]; then
    export SLURM_CONF=$D/slurm.conf
    for j in "${JOBS[@]}"; do scancel "$j" 2>/dev/null; done
  fi
  for pidfile in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munge/munged.pid"; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 1
  for pidfile in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munge/munged.pid"; do
    [[ -s $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  done
  if ((rc != 0)); then
    for log in "$D"/slurmctld.log "$D"/slurmd.log "$D"/logs/*.log; do
      [[ -f $log ]] && { echo "--- $log (last lines)"; tail -n 15 "$log"; }
    done
  fi
  rm -rf "$D"
  exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- inputs and the reference
mkdir -p "$D/images" "$D/logs"
photos=(mermaid-sample/mermaid_3805.JPG unlabeled-real-images/coralnet_p82pkvoqn3.JPG
        unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png)
for i in $(seq 0 15); do
  src=${photos[$((i % 3))]}
  ln -s "$TESTDATA/$src" "$D/images/photo$(printf %02d "$i")_$(basename "$src")"  # linked, never copied
done
"$POLYP" testnet --out "$D/w.safetensors" >/dev/null 2>&1
"$POLYP" points --images "$D/images" --method random:30 --seed 7 --out "$D/points.csv" >/dev/null
"$POLYP" extract --weights "$D/w.safetensors" --images "$D/images" --points "$D/points.csv" --out "$D/single" \
  --threads 2 2>/dev/null || fail "the unsharded reference run failed"

# ---------------------------------------------------------------- munge + slurm, by hand
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -m 700 "$D/munge"
mungekey --create --keyfile="$D/munge/munge.key" >/dev/null
munged --force --socket="$D/munge/sock" --key-file="$D/munge/munge.key" --pid-file="$D/munge/munged.pid" \
  --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed" || fail "munged did not start"
# Every daemon and client below reads this file; the node is this machine as slurmd sees it.
export SLURM_CONF=$D/slurm.conf
node=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]*/NodeName=polyp-node NodeHostname='"$(hostname -s)"' NodeAddr=127.0.0.1/')
mkdir -p "$D/state" "$D/spool"
cat > "$SLURM_CONF" <<CONF
ClusterName=polyptest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/sock
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
# No cgroups or systemd in CI containers: track processes by parent pid, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=10
$node
PartitionName=polyp Nodes=polyp-node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -c || fail "slurmctld did not start"
slurmd -N polyp-node || fail "slurmd did not start"
for _ in $(seq 1 120); do
  state=$(sinfo -h -n polyp-node -o %T 2>/dev/null || true)
  [[ $state == idle* ]] && break
  sleep 0.5
done
[[ $state == idle* ]] || fail "the node did not come up (state '$state')"
say "cluster up: node polyp-node $(sinfo -h -n polyp-node -o '%c CPUs, %T')"

# ---------------------------------------------------------------- the job template, edited
script=$D/slurm-extract.sh
sed -e "s|^SHARDS=[0-9]*|SHARDS=4|" -e "s|^POLYP=.*|POLYP=$POLYP|" -e "s|^WEIGHTS=.*|WEIGHTS=$D/w.safetensors|" \
    -e "s|^IMAGES=.*|IMAGES=$D/images|" -e "s|^POINTS=.*|POINTS=$D/points.csv|" -e "s|^OUT=.*|OUT=$D/out|" \
    "$ROOT/native/jobs/slurm-extract.sh" > "$script"
for v in SHARDS=4 "POLYP=$POLYP" "OUT=$D/out"; do
  grep -qE "^$v( |\$)" "$script" || fail "template has no '${v%%=*}=' line"
done
# Command-line options override the template's #SBATCH lines for this small node.
submit() { sbatch --parsable --array="$1" --cpus-per-task=1 --mem=256M --time=20 --chdir="$D" \
             --output="$D/logs/%A_%a.log" "$script"; }
wait_gone() {  # until the job has no task left in the queue
  for _ in $(seq 1 600); do
    [[ -z $(squeue -h -j "$1" -o %i 2>/dev/null) ]] && return 0
    sleep 0.5
  done
  fail "job $1 still queued after 300 s: $(squeue -j "$1" 2>&1)"
}
status_json() { "$POLYP" status --points "$D/points.csv" --out "$D/out" --shard-count 4 --json || true; }

# The shard with the most images is the one cancelled mid-run.
read -r K KCOUNT < <(status_json | /usr/bin/python3 -c '
import json, sys, collections
c = collections.Counter(e["shard"] for e in json.load(sys.stdin)["per_image"])
k, n = max(sorted(c.items()), key=lambda kv: kv[1]); print(k, n)')
((KCOUNT >= 2)) || fail "no shard has 2 images to cancel one in between"
mapfile -t KFILES < <(status_json | /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin)["per_image"]:
    if e["shard"] == '"$K"': print(e["name"] + ".featurevector")')

job=$(submit 0-3)
JOBS+=("$job")
say "submitted array job $job (4 tasks); shard $K has $KCOUNT images and is cancelled mid-run"
cancelled=0
for _ in $(seq 1 3000); do
  have=0
  for f in "${KFILES[@]}"; do [[ -f $D/out/$f ]] && have=$((have + 1)); done
  if ((have >= 1 && have < KCOUNT)); then
    scancel "${job}_$K"
    cancelled=$have
    break
  fi
  ((have == KCOUNT)) && fail "task $K finished before it could be cancelled mid-run"
  sleep 0.1
done
((cancelled > 0)) || fail "task $K never started writing"
wait_gone "$job"
have=0
for f in "${KFILES[@]}"; do [[ -f $D/out/$f ]] && have=$((have + 1)); done
say "task $K cancelled with $cancelled of its $KCOUNT images written ($have after it stopped)"
((have < KCOUNT)) || fail "the cancelled task still wrote all its images"
# scancel sends SIGTERM: polyp must have stopped cleanly (its resume message) and left no
# temporary file behind.
grep -q "interrupted after" "$D/logs/${job}_$K.log" || fail "task $K's log shows no clean stop on SIGTERM"
[[ -z $(find "$D/out" -name '*.tmp-*') ]] || fail "the cancelled task left $(find "$D/out" -name '*.tmp-*')"

# ---------------------------------------------------------------- status sees the gap
set +e
report=$("$POLYP" status --points "$D/points.csv" --out "$D/out" --shard-count 4)
rc=$?
set -e
echo "$report" | sed 's/^/  /'
((rc == 1)) || fail "polyp status exited $rc with a shard missing (expected 1)"
[[ $(echo "$report" | tail -n 1) == *"1 of 4 shards to rerun: $K" ]] || fail "status does not name shard $K alone"
grep -v "(shard $K/4)" <<<"$(echo "$report" | grep -E '^(missing|corrupt)')" && fail "status names images outside shard $K"

# ---------------------------------------------------------------- rerun the shard alone
job2=$(submit "$K")
JOBS+=("$job2")
wait_gone "$job2"
"$POLYP" status --points "$D/points.csv" --out "$D/out" --shard-count 4 >/dev/null \
  || fail "polyp status still reports missing images after the rerun of shard $K"
diff -r "$D/single" "$D/out" >/dev/null || fail "the Slurm output folder differs from the unsharded run"
[[ -z $(find "$D/out" -name '*.tmp-*') ]] || fail "temporary files left: $(find "$D/out" -name '*.tmp-*')"
grep -q "shard $K/4 done" "$D/logs/${job2}_$K.log" || fail "the rerun's log lacks its done line"
say "PASS: 4-task array + cancel of shard $K + rerun of it alone = the unsharded run, byte for byte"
